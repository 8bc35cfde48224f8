"""The order in which writers take a person's rows, so that no two of them wait on each other.

A login reads its person's mirror row (``AuthRocketUser``) locked from its first read and
writes their memberships, orgs and local user after it, the local user last. Every other writer
of a person (the sync, webhooks and resync, the admin, Django's deletion) takes that row
first too: by writing it (:func:`~.login.forget_digests`, an upsert) or with :func:`hold`. Two
writers of the same person then queue one behind the other, where PostgreSQL or InnoDB would
end a cycle of waits as a deadlock by failing one of them. See docs/architecture.md, "Lock
order".
"""

from __future__ import annotations

from typing import Any

from django.db import connections, router
from django.db.models import QuerySet

from django_authrocket.models import AuthRocketUser


def locks_rows(using: str | None = None) -> bool:
    """Whether the database (``using``, by default the router's write database for the mirror)
    locks rows one by one, so that writers of the same person can interleave (not SQLite,
    which a writer locks whole)."""
    alias = using or router.db_for_write(AuthRocketUser)
    return bool(connections[alias].features.has_select_for_update)


def locked(rows: QuerySet[AuthRocketUser], using: str | None = None) -> QuerySet[AuthRocketUser]:
    """``rows`` read locked inside a transaction: ``FOR NO KEY UPDATE`` of the mirror table
    only where the database can name it (PostgreSQL); ``FOR UPDATE`` of the mirror row and its
    joined local user on MariaDB, which cannot (every writer of a person's rows takes the
    mirror row before the local user, so the order holds); ``rows`` itself where rows are not
    locked (SQLite locks the whole database at the first write) or outside a transaction.
    ``using``: the database alias (by default the one ``rows`` names, else the router's write
    database, where a locked read goes)."""
    if using is not None:
        rows = rows.using(using)
    named = getattr(rows, "_db", None)  # a .using() of the caller's
    connection = connections[using or named or router.db_for_write(rows.model)]
    features = connection.features
    if not (connection.in_atomic_block and features.has_select_for_update):
        return rows
    if not features.has_select_for_update_of:
        return rows.select_for_update()
    return rows.select_for_update(of=("self",), no_key=features.has_select_for_no_key_update)


def hold(users: QuerySet[AuthRocketUser], using: str | None = None) -> None:
    """Take these mirror rows as a login takes its person's (:func:`locked`), ordered by
    primary key, without writing them: for a writer that goes on to write their people's
    memberships, orgs or local users. Call inside the writer's transaction; no query where
    rows are not locked."""
    held = locked(users.order_by("pk"), using)
    if held.query.select_for_update:
        list(held.values_list("pk", flat=True))


def hold_before_delete(sender: Any, instance: AuthRocketUser, using: str, **kwargs: Any) -> None:
    """``pre_delete`` of a mirror row: Django's deletion of it (or of its local user) sends
    this before it deletes anything that goes with it (the person's memberships, their local
    user's rows), so the row is taken first. One locked read per row deleted, on the
    databases that lock rows."""
    hold(AuthRocketUser.objects.filter(pk=instance.pk), using)
