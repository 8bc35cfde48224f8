"""Insert rows, or rewrite the rows they meet on a unique key, on any database Django supports.

Django's ``bulk_create(update_conflicts=True)`` takes ``unique_fields`` only where the database
names the conflict's target (PostgreSQL, SQLite); MySQL and MariaDB refuse them (their
``ON DUPLICATE KEY UPDATE`` meets a conflict on any unique key), and Oracle has no upsert in
Django at all. :func:`bulk_upsert` asks the database's features which of the three it is.

The login record and the mirror write through the database's own statements on PostgreSQL and
SQLite (:mod:`django_authrocket.mirror.upsert`); this is their path everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Model


def bulk_upsert(
    model: type[Model],
    rows: Sequence[Model],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
) -> None:
    """Insert ``rows`` (instances of ``model``), or rewrite the ``update_fields`` of the rows
    they meet on ``unique_fields``.

    On MySQL and MariaDB the statement meets a conflict on any unique key, the primary key
    included: a row that meets another on a unique key besides ``unique_fields`` rewrites that
    row, where the other paths raise ``IntegrityError``. The callers' other unique keys never
    meet: a login's ``ref`` is 128 random bits, a membership's AuthRocket id names one user and
    org. Elsewhere without an upsert, one row at a time: an ``UPDATE``, and where it found
    nothing an ``INSERT`` in a savepoint, which a concurrent insert of the same key turns back
    into the ``UPDATE``.
    """
    if not rows:
        return
    database = router.db_for_write(model)
    features = connections[database].features
    manager = model._base_manager.db_manager(database)
    if features.supports_update_conflicts_with_target:
        manager.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=list(unique_fields),
            update_fields=list(update_fields),
        )
    elif features.supports_update_conflicts:
        manager.bulk_create(rows, update_conflicts=True, update_fields=list(update_fields))
    else:
        for row in rows:
            upsert_one(row, unique_fields=unique_fields, update_fields=update_fields)


def upsert_one(row: Model, *, unique_fields: Sequence[str], update_fields: Sequence[str]) -> None:
    """One row as :func:`bulk_upsert` writes it on a database without an upsert (public for
    the tests, which run it on databases that have one)."""
    model = type(row)
    database = router.db_for_write(model)
    concrete = model._meta.concrete_fields
    attname = {**{f.attname: f.attname for f in concrete}, **{f.name: f.attname for f in concrete}}
    key = {attname[name]: getattr(row, attname[name]) for name in unique_fields}
    values: dict[str, Any] = {attname[n]: getattr(row, attname[n]) for n in update_fields}
    if None in key.values():  # a null never meets another row's key (it would match all nulls)
        row.save(force_insert=True, using=database)
        return
    matching = model._base_manager.db_manager(database).filter(**key)
    with transaction.atomic(using=database):
        if matching.update(**values):
            return
        try:
            with transaction.atomic(using=database):
                row.save(force_insert=True, using=database)
        except IntegrityError:
            # Inserted meanwhile by another writer of the same key: rewrite it. Anything else
            # (a conflict on another unique key) matches nothing here and is raised.
            if not matching.update(**values):
                raise
