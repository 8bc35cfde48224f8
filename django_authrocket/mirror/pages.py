"""Write Core API objects into the mirror in bulk: one upsert loop for users, orgs and memberships.

:func:`write` takes objects of one resource (a sync page of up to 1,000, or the few a webhook or
the admin's resync reads) and writes them with a number of queries that does not depend on how
many there are or how many changed: a read of the rows they name (users: then their local users,
in a second read; memberships: first their users and orgs, by AuthRocket id), for new users one
or two reads of taken usernames and one bulk insert, then one bulk upsert (:mod:`.upsert`: the
database's own multi-row statement on SQLite and PostgreSQL; :mod:`~django_authrocket.bulk_upsert`
on others).
Rows are compared before writing, so unchanged objects write nothing; the statement itself
rewrites a row only when a value differs. Call it inside a transaction. What changes a
person's mirror here (row, membership, org) stamps their ``login_digest`` (:mod:`.login`).

What differs between resources is a :class:`Spec`: the model, an object's fields (a user
object's through :mod:`.user_values`), what an upsert rewrites, and the foreign keys an
object names by AuthRocket id. Local users (:mod:`.local_users`) are created the way a login
creates them (same username rule, unusable password) and their names and email follow
AuthRocket.

A field whose member an object lacks (see :mod:`.fields`) keeps its stored value.

Also here, what becomes of rows gone upstream: local users are deactivated (``is_active=False``),
never deleted; memberships are deleted; orgs stay (AuthRocket closes orgs, it does not delete
them). The one local user deleted here is one this write made for a new person whose rows
another worker committed meanwhile (:func:`_drop_lost_races`): nothing else knows it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any, Final, Literal

from django.contrib.auth import get_user_model
from django.db import models, router
from django.db.models import Count, Q
from django.utils import timezone

from django_authrocket.bulk_upsert import bulk_upsert
from django_authrocket.mirror import upsert
from django_authrocket.mirror.fields import (
    assign_changed,
    membership_fields_from_api,
    org_fields_from_api,
    user_fields_from_api,
)
from django_authrocket.mirror.local_users import LocalUsers
from django_authrocket.mirror.lock_order import hold, locks_rows
from django_authrocket.mirror.login import forget_digests, stamp
from django_authrocket.models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser

logger = logging.getLogger("django_authrocket.sync")

Resource = Literal["users", "orgs", "memberships"]


@dataclass
class Counts:
    """What writing some objects did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Memberships whose user or org is not in the mirror (sync users and orgs first).
    skipped: int = 0
    #: Local users set inactive (gone upstream) / memberships removed (gone upstream).
    deactivated: int = 0
    removed: int = 0

    def add(self, other: Counts) -> None:
        for name in ("created", "updated", "unchanged", "skipped", "deactivated", "removed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def seen(self) -> int:
        """Objects read from AuthRocket."""
        return self.created + self.updated + self.unchanged + self.skipped

    def describe(self) -> str:
        parts = [f"{self.created} created", f"{self.updated} updated"]
        parts.append(f"{self.unchanged} unchanged")
        for name in ("skipped", "deactivated", "removed"):
            if getattr(self, name):
                parts.append(f"{getattr(self, name)} {name}")
        return ", ".join(parts)


# --- what differs per resource ----------------------------------------------------------------


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key an API object names by AuthRocket id (a membership's ``user_id``)."""

    #: The model's field (``user``) and the object's key (``user_id``).
    field: str
    key: str
    target: type[AuthRocketUser] | type[AuthRocketOrg]

    @property
    def attname(self) -> str:
        return f"{self.field}_id"


@dataclass(frozen=True)
class Spec:
    """What :func:`write` needs to know about one resource."""

    model: type[models.Model]
    #: An API object's mirror fields (all but the key and the foreign keys).
    fields: Callable[[Mapping[str, Any]], dict[str, Any]]
    #: The columns an upsert of an existing row rewrites.
    update_fields: tuple[str, ...]
    #: Rows are matched on these when there are any (AuthRocket 1 logins wrote memberships
    #: without an id), else on ``authrocket_id``.
    foreign_keys: tuple[ForeignKey, ...] = ()
    #: Each row has a local ``AUTH_USER_MODEL`` user that follows it.
    local_users: bool = False

    @property
    def unique_fields(self) -> list[str]:
        return [fk.field for fk in self.foreign_keys] or ["authrocket_id"]

    @property
    def key_attnames(self) -> list[str]:
        return [fk.attname for fk in self.foreign_keys] or ["authrocket_id"]


SPECS: Final[dict[Resource, Spec]] = {
    "users": Spec(
        AuthRocketUser,
        user_fields_from_api,
        (
            "realm_id",
            "email",
            "username",
            "name",
            "first_name",
            "last_name",
            "state",
            "email_verification",
            "reference",
            "custom",
            "created_at",
            "last_login_at",
            "synced_at",
            "login_digest",
        ),
        local_users=True,
    ),
    "orgs": Spec(
        AuthRocketOrg,
        org_fields_from_api,
        ("realm_id", "name", "state", "reference", "custom", "created_at", "synced_at"),
    ),
    "memberships": Spec(
        AuthRocketMembership,
        membership_fields_from_api,
        ("authrocket_id", "permissions", "selected", "expires_at", "synced_at"),
        foreign_keys=(
            ForeignKey("user", "user_id", AuthRocketUser),
            ForeignKey("org", "org_id", AuthRocketOrg),
        ),
    ),
}


# --- the upsert loop --------------------------------------------------------------------------


def write(
    resource: Resource, items: Sequence[Mapping[str, Any]], *, mark_seen: bool = False
) -> Counts:
    """Upsert Core API objects of ``resource`` into the mirror (and, for users, the local users)
    with a constant number of queries. Call inside a transaction.

    ``mark_seen`` also stamps ``synced_at`` on unchanged rows, so that after a complete listing
    :func:`prune_unseen` can tell the rows that were not listed.
    """
    spec = SPECS[resource]
    now = timezone.now()
    items = _unique_by_id(items)
    keys = _keys(spec, items)
    if spec.foreign_keys:
        items, keys = _unique_by_key(items, keys)
    existing = _existing(spec, keys)
    local = LocalUsers(existing.values()) if spec.local_users else None
    counts = Counts()
    fresh = stamp()  # the login_digest of the user rows written here (see .login)
    changed_rows: list[Any] = []
    # The new objects' keys and fields, and for users their local users' fields and username
    # candidates: in lists side by side, not a container per object kept to the end (each
    # would be one more object for the garbage collector's oldest generation to go over).
    new_keys: list[dict[str, Any]] = []
    new_fields: list[dict[str, Any]] = []
    new_local: list[dict[str, Any]] = []
    new_candidates: list[tuple[str, ...]] = []
    seen: list[int] = []
    followed_only: list[int] = []  # rows whose local user changed while they did not
    # The people of the memberships a listing stamps as seen (their rows are held first).
    seen_people: set[Any] | None = (
        set() if mark_seen and spec.model is AuthRocketMembership else None
    )
    # Each object is read once: a user's values serve its mirror row and its local user alike.
    of = local.values.of if local is not None else None
    for item, key in zip(items, keys, strict=True):
        if key is None:
            counts.skipped += 1
            continue
        mapped = of(item) if of is not None else None
        fields = spec.fields(item) if mapped is None else mapped.fields
        row = existing.get(tuple(key.values())) if existing else None
        if row is None:
            new_keys.append(key)
            new_fields.append(fields)
            if mapped is not None:
                new_local.append(mapped.local)
                new_candidates.append(mapped.candidates)
            continue
        changed = assign_changed(row, fields)
        followed = local.follow(row, mapped.local) if local and mapped else False
        if changed:
            row.synced_at = now
            if spec.model is AuthRocketUser:
                row.login_digest = fresh
            changed_rows.append(row)
        else:
            seen.append(row.pk)
            if seen_people is not None:
                seen_people.add(row.user_id)
            if followed:
                followed_only.append(row.pk)
        if changed or followed:
            counts.updated += 1
        else:
            counts.unchanged += 1
    owners = local.create(new_local, new_candidates) if local is not None else []
    stamped = {"login_digest": fresh} if spec.model is AuthRocketUser else {}
    # Each new row's values by attname, every column there (a field a row lacks takes its
    # default; a default that is a callable, ``dict``..., is called for each row).
    names, constant, called = upsert.columns(spec.model)
    base = {**constant, "synced_at": now, **stamped}
    in_order = itemgetter(*names)
    created: list[tuple[Any, ...]] = []
    for index, (key, fields) in enumerate(zip(new_keys, new_fields, strict=True)):
        values = {**base, **key, **fields}
        if owners:
            values["user_id"] = owners[index]
        for name, default in called:
            if name not in fields:
                values[name] = default()
        created.append(in_order(values))
    counts.created = len(created)
    # The people's mirror rows first, as every writer takes them (backends.get_or_create_user):
    # a login holding one and writing its memberships never waits on this transaction in turn.
    # A local user brought back in step takes its person's row too, though the row itself is
    # unchanged (and the next login compares again). Every mirror row is written before any
    # local user is: a login holds its mirror row and writes its local user last.
    person = names.index("user_id") if spec.model is AuthRocketMembership else None
    _forget_digests(
        spec, changed_rows, [row[person] for row in created] if person is not None else []
    )
    if followed_only:
        forget_digests(AuthRocketUser.objects.filter(pk__in=followed_only))
    if seen_people:
        hold(AuthRocketUser.objects.filter(pk__in=seen_people))
    # Where rows are locked one by one, the new rows' owners come back from the upsert, to
    # find those another worker created meanwhile (_drop_lost_races).
    races = local is not None and bool(owners) and locks_rows()
    returned = _upsert(spec, names, changed_rows, created, mark_seen=mark_seen, returning=races)
    if mark_seen and seen:
        spec.model._default_manager.filter(pk__in=seen).update(synced_at=now)
    if local is not None:
        local.save()
        ids = names.index("authrocket_id")
        lost = _drop_lost_races(created, names, returned) if races else set()
        counts.created -= len(lost)
        counts.updated += len(lost)
        local.announce(
            changed_rows,
            [row[ids] for row in created if row[ids] not in lost],
            updated_ids=sorted(lost),
        )
    return counts


def _drop_lost_races(
    created: Sequence[Sequence[Any]], names: Sequence[str], returned: list[Any] | None
) -> set[str]:
    """Another writer of a new person (their first login, a webhook, a sync) may commit their
    rows between this write's read and its insert: the upsert then keeps that writer's
    ``user_id``, and the local user made here for the row belongs to nobody. Those local
    users are deleted (nothing else knows them yet); the AuthRocket ids of their rows.

    ``returned``: the ``(authrocket_id, user_id)`` of the rows the upsert wrote (a new row
    that met another's with the same values is not there: it lost too), or None where the
    upsert returns nothing (``bulk_upsert``): then the rows are read back."""
    ids, owner = names.index("authrocket_id"), names.index("user_id")
    made = {row[ids]: row[owner] for row in created}
    alias = router.db_for_write(AuthRocketUser)
    if returned is None:
        rows = AuthRocketUser.objects.using(alias).filter(authrocket_id__in=list(made))
        returned = list(rows.values_list("authrocket_id", "user_id"))
    kept = dict(returned)
    # Compared as text: a primary key may come back from the statement as the driver gives it
    # and from the ORM converted (a UUID, say).
    lost = {
        i: user_id
        for i, user_id in made.items()
        if kept.get(i) is None or str(kept[i]) != str(user_id)
    }
    if lost:
        get_user_model()._base_manager.using(alias).filter(pk__in=list(lost.values())).delete()
        logger.info(
            "%d new AuthRocket user(s) were written meanwhile by another worker (a first login, "
            "a webhook, a sync): kept their local user(s), deleted the one(s) made here",
            len(lost),
        )
    return set(lost)


def _upsert(
    spec: Spec,
    names: Sequence[str],
    changed: Sequence[Any],
    created: Sequence[Sequence[Any]],
    *,
    mark_seen: bool,
    returning: bool = False,
) -> list[Any] | None:
    """Write the changed rows and the new ones (``created``: their values in the order of the
    columns ``names``, every column there): the database's own multi-row upsert on SQLite and
    PostgreSQL, else :func:`~django_authrocket.bulk_upsert.bulk_upsert`.

    A conflict rewrites a row only when a value differs (``synced_at`` counts only when the
    listing marks the rows it sees), so a row written meanwhile with the same values stays.

    ``returning``: return the ``(authrocket_id, user_id)`` of the rows written (users); None
    when not asked, or where the statement cannot say (``bulk_upsert``)."""
    if not changed and not created:
        return [] if returning else None
    if not upsert.available():
        bulk_upsert(
            spec.model,
            [*changed, *(spec.model(**dict(zip(names, row, strict=True))) for row in created)],
            unique_fields=spec.unique_fields,
            update_fields=spec.update_fields,
        )
        return None
    compared = [name for name in spec.update_fields if mark_seen or name != "synced_at"]
    statement = upsert.Upsert(
        spec.model,
        names,
        unique=spec.key_attnames,
        update=spec.update_fields,
        compare=compared,
    )
    rows: list[Sequence[Any]] = []
    if changed:
        rows.extend(map(attrgetter(*names), changed))
    rows.extend(created)
    if not returning:
        statement.write(rows)
        return None
    return statement.write(rows, returning=("authrocket_id", "user_id"))


def _forget_digests(spec: Spec, changed: Sequence[Any], created_people: Sequence[Any]) -> None:
    """Empty the login digests of the people whose memberships or orgs these rows are (a user
    row's own is emptied by its upsert; ``created_people``: the new rows' ``user_id``)."""
    if spec.model is AuthRocketMembership and (changed or created_people):
        people = {row.user_id for row in changed} | set(created_people)
        forget_digests(AuthRocketUser.objects.filter(pk__in=people))
    elif spec.model is AuthRocketOrg and changed:
        forget_digests(AuthRocketUser.objects.filter(memberships__org__in=[r.pk for r in changed]))


def _unique_by_id(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The items, the last one winning when an id repeats (bulk upserts need unique keys)."""
    return list({str(item["id"]): item for item in items}.values())


def _unique_by_key(
    items: Sequence[Mapping[str, Any]], keys: Sequence[dict[str, Any] | None]
) -> tuple[list[Mapping[str, Any]], list[dict[str, Any] | None]]:
    """Memberships, matched on their user and org: the last of the items naming the same
    pair wins (a membership deleted and made again between two reads has a new id), as a
    bulk upsert may write a row once. Items naming no mirrored pair stay, to be counted."""
    last = {tuple(key.values()): index for index, key in enumerate(keys) if key is not None}
    if len(last) == sum(key is not None for key in keys):
        return list(items), list(keys)
    kept = [
        index for index, key in enumerate(keys) if key is None or last[tuple(key.values())] == index
    ]
    return [items[index] for index in kept], [keys[index] for index in kept]


def _keys(spec: Spec, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any] | None]:
    """Each object's key columns (None: it names a user or org that is not mirrored); one
    read per foreign key."""
    if not spec.foreign_keys:
        return [{"authrocket_id": str(item["id"])} for item in items]
    pks = {
        fk.key: dict(
            fk.target.objects.filter(
                authrocket_id__in={str(item.get(fk.key)) for item in items}
            ).values_list("authrocket_id", "pk")
        )
        for fk in spec.foreign_keys
    }
    keys: list[dict[str, Any] | None] = []
    for item in items:
        key = {fk.attname: pks[fk.key].get(str(item.get(fk.key))) for fk in spec.foreign_keys}
        keys.append(None if None in key.values() else key)
    return keys


def _existing(spec: Spec, keys: Sequence[dict[str, Any] | None]) -> dict[tuple[Any, ...], Any]:
    """The mirror rows the keys name (one read), by key."""
    names = spec.key_attnames
    wanted = [key for key in keys if key is not None]
    rows: Iterable[Any]
    if len(names) == 1 and upsert.available():
        rows = upsert.rows_where(spec.model, names[0], {key[names[0]] for key in wanted})
    else:
        rows = spec.model._default_manager.filter(
            **{f"{name}__in": {key[name] for key in wanted} for name in names}
        )
    return {tuple(getattr(row, name) for name in names): row for row in rows}


# --- gone upstream ----------------------------------------------------------------------------


def deactivate_users(authrocket_ids: Iterable[str]) -> int:
    """Set ``is_active=False`` on the local users of these AuthRocket users; never deletes.
    Returns how many were active."""
    return _deactivate(AuthRocketUser.objects.filter(authrocket_id__in=list(authrocket_ids)))


def remove_memberships(
    *, ids: Sequence[str] = (), of_users: Sequence[str] = (), keep: Sequence[str] = ()
) -> int:
    """Delete the memberships with these AuthRocket ``ids``, and those of the users ``of_users``
    (whose complete lists were just read) that are not in ``keep``; how many were deleted."""
    if not ids and not of_users:
        return 0
    stale = Q(authrocket_id__in=list(ids))
    if of_users:
        # Rows of an AuthRocket 1 login have no id (NULL): NOT IN keeps nulls out, so say so.
        not_kept = ~Q(authrocket_id__in=list(keep)) | Q(authrocket_id__isnull=True)
        stale |= Q(user__authrocket_id__in=list(of_users)) & not_kept
    return _delete_memberships(AuthRocketMembership.objects.filter(stale))


def _unseen(since: datetime) -> Q:
    """The rows a listing that started at ``since`` did not stamp."""
    return Q(synced_at__lt=since) | Q(synced_at__isnull=True)


def unseen_users(since: datetime) -> int:
    """How many mirrored users a listing that started at ``since`` did not stamp (those
    :func:`prune_unseen` would deactivate, or find inactive already)."""
    return AuthRocketUser.objects.filter(_unseen(since)).count()


def prune_unseen(
    resource: Resource, since: datetime, *, orgs: Collection[str] | None = None
) -> Counts:
    """After a complete listing written with ``mark_seen``: deactivate the local users, or
    remove the memberships, whose rows it did not stamp (``synced_at`` before ``since``).
    ``orgs``: only the memberships of these orgs (AuthRocket ids), whose listings completed."""
    unseen = _unseen(since)
    if resource == "users":
        return Counts(deactivated=_deactivate(AuthRocketUser.objects.filter(unseen)))
    if resource == "memberships":
        rows = AuthRocketMembership.objects.filter(unseen)
        if orgs is not None:
            rows = rows.filter(org__authrocket_id__in=list(orgs))
        return Counts(removed=_delete_memberships(rows))
    return Counts()


def count_unlisted(
    resource: Resource, listed: Collection[str], *, orgs: Collection[str] | None = None
) -> Counts:
    """What :func:`prune_unseen` would do after a listing of the ids ``listed``, for a dry run
    (whose stamps were rolled back). Writes nothing."""
    if resource == "users":
        users = AuthRocketUser.objects.filter(user__is_active=True)
        ids: Iterator[str | None] = users.values_list("authrocket_id", flat=True).iterator(2000)
        return Counts(deactivated=sum(1 for i in ids if i not in listed))
    if resource == "memberships":
        rows = AuthRocketMembership.objects.all()
        if orgs is not None:
            rows = rows.filter(org__authrocket_id__in=list(orgs))
        memberships = rows.values_list("authrocket_id", flat=True).iterator(2000)
        return Counts(removed=sum(1 for i in memberships if i not in listed))
    return Counts()


def memberships_held(org_ids: Collection[str]) -> dict[str, int]:
    """How many memberships the mirror holds for each of these orgs (those with any)."""
    rows = AuthRocketMembership.objects.filter(org__authrocket_id__in=list(org_ids))
    counted = rows.values_list("org__authrocket_id").annotate(held=Count("pk"))
    return {str(org_id): int(held) for org_id, held in counted}


def _delete_memberships(rows: models.QuerySet[AuthRocketMembership]) -> int:
    """Delete these memberships, emptying their people's login digests first; how many."""
    forget_digests(AuthRocketUser.objects.filter(pk__in=rows.values("user_id")))
    removed, _ = rows.delete()
    return removed


def _deactivate(rows: Any) -> int:
    user_model = get_user_model()
    if not any(f.name == "is_active" for f in user_model._meta.concrete_fields):
        return 0  # a user model without the column cannot be deactivated here
    # Their mirror rows first, as every writer of a person takes them: a login holds its
    # person's row and writes the local user last (and compares again after this).
    forget_digests(rows.filter(user__is_active=True))
    users = user_model._default_manager.filter(pk__in=rows.values("user_id"), is_active=True)
    deactivated: int = users.update(is_active=False)
    if deactivated:
        logger.info("Deactivated %d local user(s) missing at AuthRocket", deactivated)
    return deactivated
