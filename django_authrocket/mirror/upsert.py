"""The database's own multi-row statements for the mirror's bulk writes, and their reads.

:class:`Upsert` sends one ``INSERT ... ON CONFLICT (<unique key>) DO UPDATE SET ... WHERE <a
compared column differs>`` per chunk through ``connection.cursor()`` (the default database, as
the rest of the mirror), values always as parameters: on SQLite ``VALUES (...), (...)`` with
chunks under the database's limit of parameters a statement (``SQLITE_LIMIT_VARIABLE_NUMBER``),
on PostgreSQL one array per column through ``UNNEST``. :class:`Insert` is the same without the
conflict clause (new local users, with ``RETURNING``); :func:`columns` names a model's columns
and their defaults, for rows given in that order. :func:`present` and :func:`rows_where` read
by a long ``IN`` list with one plain statement per chunk. On SQLite this is several times
faster than Django's ``bulk_create(update_conflicts=True)``, which compiles each value and sends
at most 999 parameters a statement.

Only SQLite and PostgreSQL (:func:`available`): the callers keep Django's ``bulk_create`` and
filters for other databases (MySQL has no ``ON CONFLICT``; Oracle neither).

Values are prepared the way Django's fields prepare them (``get_db_prep_save``), with shortcuts
for the column types the mirror has: text, numbers and booleans pass as they are, JSON through
``connection.ops.adapt_json_value``, dates and times through ``adapt_datetimefield_value`` (on
SQLite computed directly for an aware datetime); any other field through its own
``get_db_prep_save``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Final

from django.conf import settings
from django.db import connection, models

#: Database vendors whose upsert syntax this module writes.
VENDORS: Final = frozenset({"sqlite", "postgresql"})
#: Parameters a statement may carry where the database does not say (SQLite's old default;
#: PostgreSQL's protocol allows 65,535).
_DEFAULT_LIMIT: Final = 999
_POSTGRESQL_LIMIT: Final = 65_535
#: Rows a statement carries at most, whatever the limit allows.
MAX_ROWS: Final = 2_000

_PASS: Final = frozenset(
    {"CharField", "TextField", "SlugField", "EmailField", "BooleanField", "IntegerField"}
)


def available() -> bool:
    """Whether the default database takes :class:`Upsert`'s statements."""
    return connection.vendor in VENDORS


def parameter_limit() -> int:
    """How many parameters one statement may carry on the default database."""
    if connection.vendor == "postgresql":
        return _POSTGRESQL_LIMIT
    connection.ensure_connection()
    raw = connection.connection
    getlimit = getattr(raw, "getlimit", None)  # Python 3.11+
    if getlimit is None:
        return _DEFAULT_LIMIT
    return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


class Insert:
    """Rows of one model, inserted with one multi-row ``INSERT`` per chunk: the columns it
    writes (``attnames``, in the order rows give their values)."""

    def __init__(self, model: type[models.Model], attnames: Sequence[str]) -> None:
        self.by_attname = {f.attname: f for f in model._meta.concrete_fields}
        self.fields = [self.by_attname[name] for name in attnames]
        self.table = quote(model._meta.db_table)
        columns = ", ".join(quote(f.column) for f in self.fields)
        # Names only (quoted by the database's own rule): every value goes as a parameter.
        self.head = f"INSERT INTO {self.table} ({columns}) VALUES "  # noqa: S608
        self.row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        self.tail = ""
        self.preparers = [_preparer(field) for field in self.fields]
        # PostgreSQL: one array per column through UNNEST (as Django's bulk_create sends them),
        # planned in a fraction of the time of thousands of placeholders.
        types = [field.db_type(connection) for field in self.fields]
        self.unnest = ""
        if connection.vendor == "postgresql" and None not in types:
            arrays = ", ".join(f"(%s)::{db_type}[]" for db_type in types)
            self.unnest = f"INSERT INTO {self.table} ({columns}) SELECT * FROM UNNEST({arrays})"  # noqa: S608

    def prepare(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        """The values of ``rows`` (each in ``attnames`` order) as the database takes them,
        column by column (so the columns that pass as they are cost nothing)."""
        columns = [list(column) for column in zip(*rows, strict=True)]
        for index, prepare in enumerate(self.preparers):
            if prepare is not None:
                columns[index] = [
                    None if value is None else prepare(value) for value in columns[index]
                ]
        return columns

    def flat(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """The values of ``rows`` as :meth:`prepare` makes them, row after row in one list (the
        parameters of a ``VALUES (...), (...)`` statement), each column prepared in one pass
        over its slice of the list."""
        width = len(self.fields)
        params = list(chain.from_iterable(rows))
        if len(params) != width * len(rows):
            raise ValueError(f"each row must have {width} values")
        for index, prepare in enumerate(self.preparers):
            if prepare is not None:
                params[index::width] = [
                    None if value is None else prepare(value) for value in params[index::width]
                ]
        return params

    def write(self, rows: Sequence[Sequence[Any]], returning: Sequence[str] = ()) -> list[Any]:
        """Write ``rows`` (each its values in ``attnames`` order, not yet prepared), one
        statement per chunk that fits the database's parameter limit; the ``returning``
        columns of the rows written, when asked."""
        limit = MAX_ROWS if self.unnest else parameter_limit() // len(self.fields)
        per_statement = max(1, min(MAX_ROWS, limit))
        back = ", ".join(quote(self.by_attname[name].column) for name in returning)
        returned: list[Any] = []
        with connection.cursor() as cursor:
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                params: list[Any]
                if self.unnest:
                    sql, params = self.unnest + self.tail, self.prepare(chunk)
                else:
                    sql = self.head + ", ".join([self.row] * len(chunk)) + self.tail
                    params = self.flat(chunk)
                cursor.execute(f"{sql} RETURNING {back}" if back else sql, params)
                if back:
                    returned.extend(cursor.fetchall())
        return returned


class Upsert(Insert):
    """An :class:`Insert` that meets a conflict on ``unique`` by rewriting the ``update``
    columns, and only when one of the ``compare`` columns differs."""

    def __init__(
        self,
        model: type[models.Model],
        attnames: Sequence[str],
        *,
        unique: Sequence[str],
        update: Sequence[str],
        compare: Sequence[str],
    ) -> None:
        super().__init__(model, attnames)
        column = {name: quote(field.column) for name, field in self.by_attname.items()}
        differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
        key = ", ".join(column[name] for name in unique)
        sets = ", ".join(f"{column[name]} = EXCLUDED.{column[name]}" for name in update)
        where = " OR ".join(
            f"{self.table}.{column[name]} {differs} EXCLUDED.{column[name]}" for name in compare
        )
        self.tail = f" ON CONFLICT ({key}) DO UPDATE SET {sets}" + (
            f" WHERE {where}" if where else ""
        )


def columns(
    model: type[models.Model],
) -> tuple[list[str], dict[str, Any], list[tuple[str, Any]]]:
    """``model``'s columns but its primary key (attnames), and their defaults: those that are
    the same for each row, and those to call for each row (a default that is a callable)."""
    names = []
    constant: dict[str, Any] = {}
    called = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        names.append(field.attname)
        if field.has_default() and callable(field.default):
            called.append((field.attname, field.get_default))
        else:
            constant[field.attname] = field.get_default()
    return names, constant, called


def present(model: type[models.Model], attname: str, values: Collection[Any]) -> set[Any]:
    """Which of ``values`` (as the column stores them: text, numbers) the column ``attname`` of
    ``model``'s table holds; one read per chunk under the parameter limit, every row of the
    table (no manager's filter hides one)."""
    column = _column(model, attname)
    found: set[Any] = set()
    with connection.cursor() as cursor:
        for sql, chunk in _where_in(model, column, column, values):
            cursor.execute(sql, chunk)
            found.update(value for (value,) in cursor.fetchall())
    return found


def rows_where(model: type[models.Model], attname: str, values: Collection[Any]) -> list[Any]:
    """The instances of ``model`` whose ``attname`` is one of ``values`` (text, numbers), read
    with a plain statement per chunk and made with ``from_db`` (as a queryset makes them): the
    ORM's filter prepares each value of a long ``IN`` list on its own, and a raw queryset each
    parameter and row, a few milliseconds for a page of 1,000."""
    fields = model._meta.concrete_fields
    names = [field.attname for field in fields]
    selected = ", ".join(quote(field.column) for field in fields)
    converters = _converters(fields)
    from_db = model.from_db
    alias = connection.alias
    rows = []
    with connection.cursor() as cursor:
        for sql, chunk in _where_in(model, selected, _column(model, attname), values):
            cursor.execute(sql, chunk)
            for values_ in cursor.fetchall():
                if converters:
                    values_ = list(values_)
                    for index, convert in converters:
                        values_[index] = convert(values_[index])
                rows.append(from_db(alias, names, values_))
    return rows


def _converters(fields: Sequence[models.Field[Any, Any]]) -> list[tuple[int, Callable[..., Any]]]:
    """The functions that turn a column's database value into the field's Python value (the
    backend's, then the field's ``from_db_value``), by column index: what the ORM applies."""
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(field.model._meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            converters.append((index, _chained(functions, column)))
    return converters


def _chained(functions: Sequence[Callable[..., Any]], column: Any) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        for function in functions:
            value = function(value, column, connection)
        return value

    return convert


def _where_in(
    model: type[models.Model], selected: str, column: str, values: Collection[Any]
) -> list[tuple[str, list[Any]]]:
    table = quote(model._meta.db_table)
    wanted = list(values)
    per_statement = max(1, min(MAX_ROWS, parameter_limit()))
    statements = []
    for start in range(0, len(wanted), per_statement):
        chunk = wanted[start : start + per_statement]
        marks = ", ".join(["%s"] * len(chunk))
        sql = f"SELECT {selected} FROM {table} WHERE {column} IN ({marks})"  # noqa: S608
        statements.append((sql, chunk))
    return statements


def _column(model: type[models.Model], attname: str) -> str:
    return quote(next(f.column for f in model._meta.concrete_fields if f.attname == attname))


def quote(name: str | None) -> str:
    return str(connection.ops.quote_name(str(name)))


def _preparer(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a value of ``field`` is made ready for the database (None: as it is). Never called
    with None (SQL NULL passes as it is, as ``get_db_prep_save`` passes it)."""
    ops = connection.ops
    internal = field.get_internal_type()
    if isinstance(field, models.ForeignKey):
        target = field.target_field
        return _preparer(target) if target.get_internal_type() not in _PASS else None
    if internal in _PASS or isinstance(field, models.AutoField):
        return None
    if internal == "DateTimeField":
        return _datetime_preparer()
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        if connection.vendor == "sqlite":  # JSON as text: an empty one is the same text always

            def dumped(value: Any) -> Any:
                if not value and type(value) in (dict, list):
                    return "{}" if type(value) is dict else "[]"
                return ops.adapt_json_value(value, encoder)

            return dumped
        return lambda value: ops.adapt_json_value(value, encoder)
    return lambda value: field.get_db_prep_save(value, connection)


def _datetime_preparer() -> Callable[[Any], Any]:
    """``adapt_datetimefield_value`` of the default database; on SQLite with ``USE_TZ`` its
    result computed directly for an aware datetime (the text of the naive time in the
    connection's time zone), several times faster than through the method's checks."""
    adapt = connection.ops.adapt_datetimefield_value
    if connection.vendor != "sqlite" or not settings.USE_TZ:
        return adapt
    zone = connection.timezone
    last: list[Any] = [None, None]  # the value before and its text: a page's synced_at repeats

    def prepare(value: Any) -> Any:
        if value is last[0]:
            return last[1]
        if type(value) is datetime and value.tzinfo is not None:
            if value.tzinfo is UTC and zone is UTC:  # the Core API's, and the connection's
                text = value.isoformat(" ")[:-6]  # without "+00:00": str() of the naive time
            else:
                text = str(value.astimezone(zone).replace(tzinfo=None))
            last[:] = value, text
            return text
        return adapt(value)

    return prepare
