"""The local ``AUTH_USER_MODEL`` users of the AuthRocket users one bulk write sees.

:class:`LocalUsers` is :func:`django_authrocket.mirror.pages.write`'s helper for users: it reads
the local users of the mirror rows a page names, makes their names and email follow AuthRocket
(saved in one bulk update), creates the local users of new AuthRocket users (the way a login
creates them: same username rule, unusable password), and sends ``authrocket_user_synced``.

New local users are inserted with one multi-row statement per chunk (:mod:`.upsert`) when the
database takes it and the user model's columns are plain (no database default, no field that
computes its own value on save other than ``auto_now``/``auto_now_add``); else through Django's
``bulk_create``.
"""

from __future__ import annotations

import base64
import secrets
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from django_authrocket.mirror import upsert
from django_authrocket.mirror.fields import (
    assign_changed,
    free_usernames,
    local_user_field_names,
)
from django_authrocket.mirror.user_values import UserValues
from django_authrocket.models import AuthRocketUser
from django_authrocket.signals import authrocket_user_synced


class LocalUsers:
    """The local users of the AuthRocket users one :func:`write` sees: their names and email
    follow AuthRocket, new AuthRocket users get one, and ``authrocket_user_synced`` is sent."""

    def __init__(self, rows: Collection[AuthRocketUser]) -> None:
        self.model = get_user_model()
        self.names = local_user_field_names(self.model)
        #: How :func:`~django_authrocket.mirror.pages.write` maps the user objects it writes.
        self.values = UserValues(self.model, self.names)
        self.changed: list[Any] = []
        self.changed_fields: set[str] = set()
        # Two reads (mirror rows, then their users), not one join: with the statistics of a table
        # that just grew (a first sync, or all of it in one transaction) PostgreSQL can plan the
        # join as a nested loop over sequential scans, seconds per page at 100,000 users.
        # _base_manager: a default manager that filters rows must not hide a mirrored user here.
        # By primary key, not set on each row (a related object set on 1,000 rows costs more
        # than comparing them): :meth:`announce` sets it on the rows it names.
        self.users: dict[Any, Any] = self.model._base_manager.in_bulk([row.user_id for row in rows])

    def follow(self, row: AuthRocketUser, fields: Mapping[str, Any]) -> bool:
        """Bring the local user of ``row`` in step with a Core API user object's names and
        email (``fields``: its :attr:`.user_values.Mapped.local`; saved by :meth:`save`); True
        when something changed."""
        user = self.users[row.user_id]
        changed = assign_changed(user, fields)
        if changed:
            self.changed.append(user)
            self.changed_fields.update(changed)
        return bool(changed)

    def create(
        self, fields: Sequence[Mapping[str, Any]], candidates: Sequence[Sequence[str]]
    ) -> list[int]:
        """Create the local users of new AuthRocket users (each one's :class:`.Mapped`
        ``local`` fields and ``candidates``); their primary keys, in order."""
        return create_local_users(fields, candidates, self.model, self.names)

    def save(self) -> None:
        if self.changed:
            self.model._default_manager.bulk_update(self.changed, sorted(self.changed_fields))

    def announce(
        self,
        changed_rows: Sequence[AuthRocketUser],
        created_ids: Sequence[str],
        updated_ids: Sequence[str] = (),
    ) -> None:
        """Send ``authrocket_user_synced`` for the rows written (``created_ids``: the
        AuthRocket ids of the rows created; ``updated_ids``: of rows written over that this
        write does not hold; both read back here only when someone listens)."""
        if not authrocket_user_synced.has_listeners():
            return
        written = AuthRocketUser.objects.select_related("user").filter(
            authrocket_id__in=[*created_ids, *updated_ids]
        )
        by_id = {row.authrocket_id: row for row in written}
        for row in changed_rows:
            row.user = self.users[row.user_id]
        updated = [*changed_rows, *(by_id[i] for i in updated_ids)]
        for rows, was_created in ((updated, False), ([by_id[i] for i in created_ids], True)):
            for row in rows:
                authrocket_user_synced.send(
                    sender=AuthRocketUser, user=row.user, authrocket_user=row, created=was_created
                )


def create_local_users(
    fields: Sequence[Mapping[str, Any]],
    candidates: Sequence[Sequence[str]],
    user_model: type[Any],
    names: Collection[str],
) -> list[int]:
    """Create the local users of new AuthRocket users (``fields``: each one's local user
    fields; ``candidates``: its usernames, best first; ``names``: the fields that follow
    AuthRocket, :func:`~.fields.local_user_field_names`): one read for taken usernames (two
    when first choices are contested, see :func:`_taken`), one bulk insert; their primary
    keys, in order. Passwords are unusable: AuthRocket does the logging in."""
    if not fields:
        return []
    username_field = user_model.USERNAME_FIELD
    manager = user_model._default_manager
    insert = _fast_insert(user_model)

    def present(names: Collection[str]) -> set[str]:
        if insert is not None:
            return upsert.present(user_model, username_field, names)
        return set(
            manager.filter(**{f"{username_field}__in": names}).values_list(
                username_field, flat=True
            )
        )

    taken = _taken(candidates, present)
    # A name an object left out is blank, as a login's local_user_fields() gives it; the
    # multi-row insert writes every column (see _defaults).
    constant, called = _defaults(insert) if insert is not None else ({}, [])
    base = {**constant, **{name: "" for name in ("first_name", "last_name") if name in names}}
    rows: list[dict[str, Any]] = []
    passwords = _unusable_passwords(len(fields))
    for local, usernames, password in zip(fields, candidates, passwords, strict=True):
        username = usernames[-1]
        for name in usernames:
            if name not in taken:
                username = name
                break
        taken.add(username)
        row = {**base, **local}
        row[username_field] = username
        row["password"] = password
        rows.append(row)
    try:
        with transaction.atomic():
            if insert is None:
                made = [user_model(**row) for row in rows]
                manager.bulk_create(made)
                pks = {getattr(user, username_field): user.pk for user in made}
            else:
                pks = _insert(insert, user_model, rows, called)
    except IntegrityError:
        # A username the database holds in a spelling its collation calls the same (MySQL's and
        # MariaDB's default ones ignore case), or one written meanwhile: one user at a time,
        # each name checked by the database, as a login chooses one.
        pks = _one_at_a_time(rows, candidates, user_model, called)
    if any(pk is None for pk in pks.values()):  # databases that return no ids from an insert
        pks = dict(
            manager.filter(**{f"{username_field}__in": list(pks)}).values_list(username_field, "pk")
        )
    return [pks[row[username_field]] for row in rows]


def _one_at_a_time(
    rows: Sequence[dict[str, Any]],
    candidates: Sequence[Sequence[str]],
    user_model: type[Any],
    called: Sequence[tuple[str, Any]],
) -> dict[str, Any]:
    """Insert each row with the first of its usernames the database does not hold
    (:func:`~.fields.free_usernames`, as a login chooses one); their primary keys by
    username."""
    username_field = user_model.USERNAME_FIELD
    pks: dict[str, Any] = {}
    for row, usernames in zip(rows, candidates, strict=True):
        for name, default in called:
            if name not in row:  # filled already when the bulk insert got that far
                row[name] = default()
        for name in free_usernames(usernames, user_model):
            row[username_field] = name
            user = user_model(**row)
            try:
                with transaction.atomic():
                    user.save(force_insert=True)
            except IntegrityError:
                continue  # taken meanwhile
            pks[name] = user.pk
            break
        else:
            raise IntegrityError(f"no free username among {len(usernames)} candidates")
    return pks


def _taken(
    candidates: Sequence[Sequence[str]], present: Callable[[Collection[str]], set[str]]
) -> set[str]:
    """The usernames taken among those the choice of usernames looks at (``candidates``: each
    user's, best first), read with ``present``: first each user's first choice; then every
    choice of the users whose first one is taken or is also another user's choice (only they
    may look further). Any other user takes their first choice, whatever the database holds
    of their others."""
    taken = present({names[0] for names in candidates})
    named = Counter(chain.from_iterable(candidates))
    contested = {
        name
        for names in candidates
        if names[0] in taken or named[names[0]] > 1
        for name in names[1:]
    }
    contested -= taken
    if contested:
        taken |= present(contested)
    return taken


def _fast_insert(user_model: type[Any]) -> upsert.Insert | None:
    """The multi-row insert of ``user_model``'s rows, or None when Django's ``bulk_create``
    must write them (another database, a column the insert cannot fill as Django would)."""
    if not upsert.available():
        return None
    fields = [f for f in user_model._meta.concrete_fields if not f.primary_key]
    plain = (models.Field.pre_save, models.DateField.pre_save, models.DateTimeField.pre_save)
    for field in fields:
        if field.db_default is not models.NOT_PROVIDED or getattr(field, "generated", False):
            return None
        if type(field).pre_save not in plain:
            return None
    return upsert.Insert(user_model, [f.attname for f in fields])


def _defaults(insert: upsert.Insert) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """The defaults of the columns ``insert`` writes, by name: those that are the same for
    each row, and those to call for each row. A default that is a callable (a UUID...) is
    called for each row; ``timezone.now`` (as ``date_joined``'s) and ``auto_now``/
    ``auto_now_add`` take the time of the insert."""
    now = timezone.now()
    constant: dict[str, Any] = {}
    called: list[tuple[str, Any]] = []
    for field in insert.fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            called.append((field.name, lambda: now))
        elif field.default is timezone.now:  # ``date_joined``: the time of the insert
            constant[field.name] = now
        elif field.has_default() and callable(field.default):
            called.append((field.name, field.get_default))
        else:
            constant[field.name] = field.get_default()
    return constant, called


def _insert(
    insert: upsert.Insert,
    user_model: type[Any],
    rows: Sequence[dict[str, Any]],
    called: Sequence[tuple[str, Any]],
) -> dict[str, Any]:
    """Insert the new users' rows (their fields by name, with :func:`_defaults`' constant
    ones; ``called``: its defaults to call where a row has no value); their primary keys by
    username (None where the database does not return them)."""
    username_field = user_model._meta.get_field(user_model.USERNAME_FIELD)
    for row in rows if called else ():
        for name, default in called:
            if name not in row:
                row[name] = default()
    values = list(map(itemgetter(*(field.name for field in insert.fields)), rows))
    if not connection.features.can_return_rows_from_bulk_insert:
        insert.write(values)
        return {row[username_field.name]: None for row in rows}
    returned = insert.write(values, returning=[username_field.attname, user_model._meta.pk.attname])
    return dict(returned)


def _unusable_password() -> str:
    """What ``set_unusable_password()`` stores: the ``!`` prefix and 40 random characters
    (240 bits, as Django's 40 of 62 letters and digits), distinct for each user."""
    return _unusable_passwords(1)[0]


def _unusable_passwords(count: int) -> list[str]:
    """``count`` :func:`_unusable_password` values, from one call to the OS's random source:
    each is 30 random bytes in URL-safe base64 (whole groups of 3 bytes, so one encoding of
    all the bytes cut every 40 characters is each user's own encoding)."""
    text = base64.urlsafe_b64encode(secrets.token_bytes(30 * count)).decode("ascii")
    return [
        UNUSABLE_PASSWORD_PREFIX + text[start : start + 40] for start in range(0, 40 * count, 40)
    ]
