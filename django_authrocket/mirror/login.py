"""Record a login in the mirror: the person's AuthRocketUser row and their session's memberships.

The login backend calls :func:`create_user_row` at a person's first login and
:func:`update_user_row` at every later one. Values come from the verified session (token claims
or a Get Session answer) and are written only when they changed, so a repeat login of an
unchanged person costs reads only; :func:`record_login` sets ``last_login_at`` when Django's
``auth.login()`` logs the person in, inside the login's transaction. The local user (names,
email, staff flag) is the backend's business.

Each row keeps ``login_digest``, a digest of what the last login's session said (its user
fields and memberships, :func:`session_digest`), written with ``last_login_at`` once the mirror
matched it. A later session with the same digest changes nothing, so its login skips the
comparison and the memberships read. Every other writer of a person's mirror (sync, webhooks,
resync: :mod:`.pages`; the admin) replaces the value with a fresh :func:`stamp` in the same
transaction (:func:`forget_digests`), and a login stores its digest (with a fresh nonce:
:func:`stored_digest`) only where the row still holds the value that login read (or stamped
itself): so a change made elsewhere while a login is under way (between its read and its
``auth.login()``) is never hidden from the next login. A stamp never equals a stored digest, and
no two stamps or stores are equal, so the condition fails after any other write, whatever the
value was before it, even one that put the same digest back.

A login adds and updates the memberships its session lists; it never removes one. A token is
not the list of a person's orgs: LoginRocket's carries the selected org only ("LR always sends
a JWT with exactly one membership/org", authrocket-ruby lib/authrocket/rails/
controller_helper.rb), and a realm may leave org data out of its tokens altogether. Only the
sync, webhooks and API reads (:mod:`.pages`) remove memberships.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.models import Case, F, QuerySet, Value, When

from django_authrocket.identity import AuthRocketSession, Membership, Org
from django_authrocket.mirror.fields import (
    assign_changed,
    membership_fields,
    org_fields,
    user_fields,
)
from django_authrocket.models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser


def create_user_row(user: Any, session: AuthRocketSession, *, now: datetime) -> AuthRocketUser:
    """Create the mirror row of a newly created local ``user``, with the session's memberships
    (and their orgs).

    Call inside the caller's ``transaction.atomic()``: a concurrent first login of the same
    person raises ``IntegrityError`` here.
    """
    row = AuthRocketUser.objects.create(
        user=user,
        authrocket_id=session.user.id,
        last_login_at=now,
        synced_at=now,
        login_digest=stored_digest(session_digest(session)),
        **user_fields(session.user),
    )
    if session.memberships:
        _write_memberships(row, session.memberships, now, existing={})
    return row


def update_user_row(
    row: AuthRocketUser, session: AuthRocketSession, *, now: datetime, digest: str | None = None
) -> bool:
    """Refresh ``row`` from a later login; True when the mirror changed (fields or memberships).

    Writes only what changed (and then ``synced_at``): an unchanged person costs no write here.
    ``last_login_at`` is :func:`record_login`'s, in the login's own transaction. A token's
    ``email_verified: false`` keeps a known ``requested`` verification. The memberships the
    session lists are added or updated; the others are left as they are. When ``digest`` (the
    session's :func:`session_digest`) is the row's ``login_digest``, nothing is read or written.

    Afterwards ``row.login_digest`` is the value :func:`record_login` expects to find: the one
    read, or the stamp this login put in its place when it changed the mirror (a digest stored
    before no longer describes it), written only where the row still held the value read.
    """
    if digest is not None and describes(row.login_digest, digest):
        return False
    changed = assign_changed(
        row, user_fields(session.user, known_verification=row.email_verification)
    )
    memberships_changed = False
    if session.memberships:
        existing = {m.org.authrocket_id: m for m in row.memberships.select_related("org")}
        memberships_changed = _write_memberships(row, session.memberships, now, existing=existing)
    if changed:
        row.synced_at = now
        stamped = stamp()
        row.login_digest = _replacing(row.login_digest, stamped)
        row.save(update_fields=[*changed, "synced_at", "login_digest"])
        row.login_digest = stamped
    elif memberships_changed and row.login_digest:
        stamped = stamp()
        AuthRocketUser.objects.filter(pk=row.pk).update(
            login_digest=_replacing(row.login_digest, stamped)
        )
        row.login_digest = stamped
    return bool(changed) or memberships_changed


def record_login(
    user_pk: Any, *, now: datetime, digest: str | None = None, expected: str | None = None
) -> None:
    """Set the mirror's ``last_login_at`` of a local user who just logged in, and the
    ``login_digest`` of the session the mirror now matches when given (one UPDATE, sent from
    ``user_logged_in``: inside the login's transaction, so it adds no commit).

    ``expected`` is the value the login found (``row.login_digest`` after
    :func:`update_user_row`): the digest (with a fresh nonce, :func:`stored_digest`) is written
    only where the row still holds that value, so a write to the mirror made meanwhile by
    another writer (which stamps the row) stays visible to the next login, even when yet
    another login stored the value's digest again. When ``expected`` :func:`describes` the
    digest the row says so already.
    """
    if digest is not None and expected is not None and not describes(expected, digest):
        users = AuthRocketUser.objects.filter(user_id=user_pk)
        users.update(last_login_at=now, login_digest=_replacing(expected, stored_digest(digest)))
    else:
        _set_last_login(user_pk, now)


def _set_last_login(user_pk: Any, now: datetime) -> None:
    """``UPDATE ... SET last_login_at = %s WHERE user_id = %s``, written out: the ORM's
    ``update()`` spends about 0.1 ms building this same statement on every returning login."""
    connection = connections[router.db_for_write(AuthRocketUser)]
    meta = AuthRocketUser._meta
    column, owner = meta.get_field("last_login_at"), meta.get_field("user")
    quote = connection.ops.quote_name
    table, names = quote(meta.db_table), (quote(str(column.column)), quote(str(owner.column)))
    sql = f"UPDATE {table} SET {names[0]} = %s WHERE {names[1]} = %s"  # noqa: S608 - own names
    values = [column.get_db_prep_save(now, connection), owner.get_db_prep_save(user_pk, connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def stamp() -> str:
    """A fresh value for a ``login_digest`` that no session matches: what every writer of a
    person's mirror other than a login stores. Unique, so that a login in progress can tell
    that the row was written since it read it."""
    return f"~{secrets.token_hex(8)}"  # "~": never in a digest's hex


def stored_digest(digest: str) -> str:
    """What a login stores for its session's ``digest``: the digest and a fresh nonce. No two
    stores are equal, so a login that read the value can tell when another login stored the
    same digest meanwhile (after a third writer's change: the value read came back)."""
    return f"{digest}.{secrets.token_hex(8)}"


def describes(stored: str, digest: str) -> bool:
    """Whether a row's ``login_digest`` says the mirror matches a session of this ``digest``."""
    return stored.startswith(digest) and stored[len(digest) : len(digest) + 1] in ("", ".")


def session_digest(session: AuthRocketSession) -> str:
    """A digest of what ``session`` says that a login writes to the mirror: the user's fields
    and each membership with its org. Equal digests mean a login has nothing to write."""
    said = (
        user_fields(session.user),
        [(m.org.id, org_fields(m.org), membership_fields(m)) for m in session.memberships or ()],
    )
    return hashlib.blake2b(repr(said).encode(), digest_size=16).hexdigest()


def forget_digests(users: QuerySet[AuthRocketUser]) -> None:
    """Replace the ``login_digest`` of these mirror rows with a fresh :func:`stamp`: their mirror
    changed other than by a login, so the next login compares and writes again, and a login
    under way does not store its digest over the change. Call inside the writer's transaction.

    Every row is written, whatever it held (an empty value too): a login under way may have
    read that value, and only a changed one tells it that someone wrote meanwhile."""
    users.update(login_digest=stamp())


def _replacing(read: str, new: str) -> Any:
    """An expression for ``login_digest``: ``new`` where the row still holds ``read``, else the
    value another writer put there meanwhile."""
    return Case(When(login_digest=read, then=Value(new)), default=F("login_digest"))


def _write_memberships(
    row: AuthRocketUser,
    memberships: tuple[Membership, ...],
    now: datetime,
    *,
    existing: dict[str, AuthRocketMembership],
) -> bool:
    """Add or update ``row``'s memberships (``existing``, by org id) and their orgs as the
    session lists them; memberships it does not list stay.

    When the session marks an org selected, the other mirrored memberships lose their
    ``selected`` flag (one update, only when one had it). An unchanged set costs no query
    beyond reading ``existing``. Returns whether anything changed.
    """
    wanted = {m.org.id: m for m in memberships}
    changed_orgs = [
        m
        for m in memberships
        if m.org.id not in existing or org_fields(m.org) != _current(existing[m.org.id].org, m.org)
    ]
    orgs = {org_id: membership.org for org_id, membership in existing.items()}
    if changed_orgs:
        orgs.update(_upsert_orgs(changed_orgs, now))
    changed = bool(changed_orgs)
    for org_id, membership in wanted.items():
        fields = membership_fields(membership)
        current = existing.get(org_id)
        if current is None:
            AuthRocketMembership.objects.create(user=row, org=orgs[org_id], synced_at=now, **fields)
            changed = True
        elif assign_changed(current, fields):
            current.synced_at = now
            current.save()
            changed = True
    if any(m.selected for m in memberships):
        unselected = [m.pk for org_id, m in existing.items() if m.selected and org_id not in wanted]
        if unselected:
            AuthRocketMembership.objects.filter(pk__in=unselected).update(selected=False)
            changed = True
    return changed


def _current(row: AuthRocketOrg, org: Org) -> dict[str, Any]:
    return {name: getattr(row, name) for name in org_fields(org)}


def _upsert_orgs(memberships: list[Membership], now: datetime) -> dict[str, AuthRocketOrg]:
    ids = [m.org.id for m in memberships]
    orgs = {o.authrocket_id: o for o in AuthRocketOrg.objects.filter(authrocket_id__in=ids)}
    for membership in memberships:
        fields = org_fields(membership.org)
        row = orgs.get(membership.org.id)
        if row is None:
            row, _ = AuthRocketOrg.objects.get_or_create(
                authrocket_id=membership.org.id, defaults={**fields, "synced_at": now}
            )
            orgs[membership.org.id] = row
        elif assign_changed(row, fields):
            row.synced_at = now
            row.save()
    return orgs
