"""Read and write model rows with written-out statements, for the hot paths.

``Model.save()`` and ``QuerySet.create()`` build their INSERT or UPDATE through the ORM's
query compiler on every call; on the payment hot path (some ten row writes per confirmation)
building those statements cost more CPU than Postgres spent running them. The statements
here are built once per model (and, for an UPDATE, per set of columns), with the table and
column names taken from ``_meta`` and every value passed as a parameter, and run on the
caller's connection, inside the caller's transaction if there is one.

The values are prepared exactly as the ORM prepares them: each field's ``pre_save`` (so
``auto_now``/``auto_now_add`` apply) and then ``get_db_prep_save`` (so JSON, decimals and IP
addresses are adapted the same way). What this path does not do, and therefore refuses:

* expressions as values (``F()``, ``Now()``, a database default): those instances go
  through ``save()``;
* model inheritance (a parent table to write first): such models are refused outright;
* ``pre_save``/``post_save`` signals: nothing in the project listens to them, and the hot
  path models are written only by their own services.

Reading is the mirror image: :func:`get_column_list` names a model's columns in its field
order for a written-out SELECT, and :func:`load_instances` builds the instances from the rows
through the documented ``Model.from_db`` hook, converting each value with its field's
``from_db_value`` (JSON is parsed there, as the ORM does), without a queryset or a
``RawQuerySet`` per call.

This is persistence plumbing, not business logic: callers decide what to write and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from functools import cache
from typing import Any, TypeVar

from django.db import DatabaseError, connection, models, transaction

ModelT = TypeVar("ModelT", bound=models.Model)


class WrittenOutRowError(TypeError):
    """The model or value cannot be written by a written-out statement."""


def _column(field: models.Field[Any, Any]) -> str:
    column = field.column
    assert column is not None  # every concrete field has one
    return column


@cache
def _load_plan(model: type[models.Model]) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(field)) for field in fields)
    converters = tuple(getattr(field, "from_db_value", None) for field in fields)
    return columns, tuple(field.attname for field in fields), converters


def get_column_list(model: type[models.Model]) -> str:
    """The model's columns, quoted, in its field order: what a SELECT for
    :func:`load_instances` selects (``SELECT <this> FROM ...``)."""
    return _load_plan(model)[0]


def load_instances(model: type[ModelT], *, sql: str, params: Sequence[Any]) -> list[ModelT]:
    """Run ``sql``, which selects :func:`get_column_list` of ``model``, and build one instance
    per row as the ORM would load it (``from_db``, so a model that remembers its loaded
    values does)."""
    _columns, attnames, converters = _load_plan(model)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    instances = []
    for row in rows:
        if len(row) != len(attnames):
            raise WrittenOutRowError(f"the SELECT must name every {model.__name__} column")
        values = [
            value if convert is None else convert(value, None, connection)
            for value, convert in zip(row, converters, strict=True)
        ]
        instances.append(model.from_db(connection.alias, attnames, values))
    return instances


# Appended to an INSERT run on its own (autocommit): the statement's transaction, which commits
# as the statement ends, does not wait for its WAL flush (``SET LOCAL`` without the BEGIN,
# SET and COMMIT round trips).
_NO_FLUSH_WAIT = ", set_config('synchronous_commit', 'off', true)"


@cache
def _insert_plan(
    model: type[models.Model],
    *,
    wait_for_flush: bool = True,
    computed: tuple[tuple[str, str], ...] = (),
) -> tuple[str, tuple[models.Field[Any, Any], ...]]:
    """The INSERT and the fields whose values it takes as parameters, in order. ``computed``:
    ``(attname, SQL expression)`` for the columns whose value the statement computes instead
    (an earlier row's new key, in :func:`insert_rows`)."""
    meta = model._meta
    if meta.parents:
        raise WrittenOutRowError(f"{model.__name__} inherits a table; use save()")
    pk = meta.pk
    assert pk is not None
    fields = tuple(
        field
        for field in meta.concrete_fields
        if not (field.primary_key and field.db_returning)  # the serial id: assigned by Postgres
    )
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(field)) for field in fields)
    expressions = dict(computed)
    placeholders = ", ".join(expressions.get(field.attname, "%s") for field in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"RETURNING {quote(_column(pk))}{'' if wait_for_flush else _NO_FLUSH_WAIT}"
    )
    return sql, tuple(field for field in fields if field.attname not in expressions)


@cache
def _update_plan(
    model: type[models.Model], attnames: tuple[str, ...]
) -> tuple[str, tuple[models.Field[Any, Any], ...]]:
    meta = model._meta
    if meta.parents:
        raise WrittenOutRowError(f"{model.__name__} inherits a table; use save()")
    by_attname = {field.attname: field for field in meta.concrete_fields}
    fields = tuple(by_attname[name] for name in attnames)
    if any(field.primary_key for field in fields):
        raise WrittenOutRowError("the primary key is not updated in place")
    pk = meta.pk
    assert pk is not None
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(_column(field))} = %s" for field in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(_column(pk))} = %s"  # noqa: S608
    return sql, fields


def _prepare(field: models.Field[Any, Any], instance: models.Model, *, add: bool) -> Any:
    value = field.pre_save(instance, add)
    if hasattr(value, "resolve_expression"):
        raise WrittenOutRowError(
            f"{type(instance).__name__}.{field.attname} holds an expression; use save()"
        )
    return field.get_db_prep_save(value, connection=connection)


def _remember_saved(instance: models.Model, *, attnames: list[str] | None) -> None:
    """A model that remembers its saved values (``apps.common.changed_fields``) is told."""
    remember = getattr(instance, "remember_saved_columns", None)
    if remember is not None:
        remember(attnames=attnames)


def insert_row(instance: models.Model, *, wait_for_flush: bool = True) -> None:
    """INSERT the unsaved ``instance`` (as ``save(force_insert=True)`` would) and set its
    primary key from the database; a model that remembers its saved values remembers
    every column as saved. A unique violation raises ``IntegrityError``, as ``save()`` does.

    ``wait_for_flush=False``, only outside any transaction: the row commits with
    ``synchronous_commit`` off, so the caller does not wait for the WAL to reach the disk (a
    database crash may lose the last few hundred milliseconds of such rows, never corrupt
    them). Inside a transaction it would switch the caller's whole transaction: refused."""
    if not instance._state.adding:
        raise WrittenOutRowError(f"this {type(instance).__name__} is already saved")
    if not wait_for_flush and connection.in_atomic_block:
        raise WrittenOutRowError("wait_for_flush=False is for a row written on its own")
    sql, fields = _insert_plan(type(instance), wait_for_flush=wait_for_flush)
    values = [_prepare(field, instance, add=True) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    assert row is not None
    _mark_inserted(instance, pk=row[0])


# A row's reference to an earlier row of the same statement: (its column's attname, the
# earlier row's position).
_Reference = tuple[str, int]


def _select_new_key(model: type[models.Model], *, position: int) -> str:
    """The new primary key of the statement's row at ``position``."""
    pk = model._meta.pk
    assert pk is not None
    return f"(SELECT {connection.ops.quote_name(_column(pk))} FROM inserted_{position})"  # noqa: S608


# An UPDATE of one saved row: its model and the attnames of the columns it sets.
_UpdateSpec = tuple[type[models.Model], tuple[str, ...]]


@cache
def _write_rows_plan(
    updates: tuple[_UpdateSpec, ...],
    row_models: tuple[type[models.Model], ...],
    references: tuple[tuple[_Reference, ...], ...],
) -> tuple[str, tuple[tuple[models.Field[Any, Any], ...], ...]]:
    """The statement, and for each UPDATE and then each INSERT the fields whose values it
    takes as parameters (an UPDATE also takes its row's primary key, last). It returns one
    row: how many rows each UPDATE matched, then each inserted row's new key."""
    ctes = []
    selects = []
    row_fields = []
    for number, (model, attnames) in enumerate(updates):
        sql, fields = _update_plan(model, attnames)
        pk = model._meta.pk
        assert pk is not None
        returning = connection.ops.quote_name(_column(pk))
        ctes.append(f"updated_{number} AS ({sql} RETURNING {returning})")
        selects.append(f"(SELECT count(*) FROM updated_{number})")  # noqa: S608
        row_fields.append(fields)
    for number, (model, referenced) in enumerate(zip(row_models, references, strict=True)):
        computed = tuple(
            (attname, _select_new_key(row_models[position], position=position))
            for attname, position in referenced
        )
        sql, fields = _insert_plan(model, computed=computed)
        ctes.append(f"inserted_{number} AS ({sql})")
        selects.append(_select_new_key(model, position=number))
        row_fields.append(fields)
    return f"WITH {', '.join(ctes)} SELECT {', '.join(selects)}", tuple(row_fields)


def _list_references(
    instance: models.Model, *, earlier: Sequence[models.Model]
) -> tuple[_Reference, ...]:
    """The foreign keys of ``instance`` that point at an unsaved row listed before it."""
    references = []
    for field in type(instance)._meta.concrete_fields:
        if not field.many_to_one or not field.is_cached(instance):  # type: ignore[attr-defined]
            continue
        related = field.get_cached_value(instance)  # type: ignore[attr-defined]
        if related is None or not related._state.adding:
            continue
        position = next((n for n, row in enumerate(earlier) if row is related), None)
        if position is None:
            raise WrittenOutRowError(
                f"{type(instance).__name__}.{field.name} is an unsaved row not written before it"
            )
        references.append((field.attname, position))
    return tuple(references)


def insert_rows(*instances: models.Model) -> None:
    """INSERT several unsaved instances, of any models, with one statement (one INSERT per
    row, as data-modifying CTEs, run in the order given: all stored or, on any error, none),
    as :func:`insert_row` does each. A row whose foreign key points at an unsaved row listed
    before it gets that row's new primary key, inside the statement."""
    if len(instances) == 1:
        insert_row(instances[0])
        return
    write_rows(inserts=instances)


def write_rows(
    *,
    updates: Sequence[tuple[models.Model, Sequence[str]]] = (),
    inserts: Sequence[models.Model] = (),
) -> None:
    """One statement for several row writes: each ``(saved instance, attnames)`` in
    ``updates`` is an UPDATE of those columns (as :func:`update_columns`), then each unsaved
    instance in ``inserts`` an INSERT (as :func:`insert_rows`), as data-modifying CTEs. They
    all see the database as it was before the statement, so a row is written once at most
    and no write may depend on another's effect (an INSERT may still take an earlier
    inserted row's new key). An UPDATE that matches no row raises ``DatabaseError`` (as
    ``save(update_fields=...)`` does) and nothing of the statement is kept: it runs in the
    caller's transaction, or in one of its own when it updates and the caller has none."""
    update_specs = []
    for instance, attnames in updates:
        if instance.pk is None or instance._state.adding:
            raise WrittenOutRowError(f"this {type(instance).__name__} is not saved yet")
        if not attnames:
            raise WrittenOutRowError(f"no column of this {type(instance).__name__} to update")
        update_specs.append((type(instance), tuple(attnames)))
    references = []
    for number, instance in enumerate(inserts):
        if not instance._state.adding:
            raise WrittenOutRowError(f"this {type(instance).__name__} is already saved")
        references.append(_list_references(instance, earlier=inserts[:number]))
    if not update_specs and not inserts:
        return
    sql, row_fields = _write_rows_plan(
        tuple(update_specs), tuple(type(instance) for instance in inserts), tuple(references)
    )
    values: list[Any] = []
    for (instance, _), fields in zip(updates, row_fields, strict=False):
        values.extend(_prepare(field, instance, add=False) for field in fields)
        values.append(instance.pk)
    for instance, fields in zip(inserts, row_fields[len(update_specs) :], strict=True):
        values.extend(_prepare(field, instance, add=True) for field in fields)
    # the counts are checked after the statement: a transaction undoes it when one is off
    own_transaction = bool(update_specs) and not connection.in_atomic_block
    with transaction.atomic() if own_transaction else nullcontext():
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            row = cursor.fetchone()
        assert row is not None
        matched, keys = row[: len(update_specs)], row[len(update_specs) :]
        if any(count != 1 for count in matched):
            raise DatabaseError("Save with update_fields did not affect any rows.")
    for instance, attnames in updates:
        _remember_saved(instance, attnames=list(attnames))
    for instance, pk, referenced in zip(inserts, keys, references, strict=True):
        for attname, position in referenced:  # an earlier row: already marked
            setattr(instance, attname, inserts[position].pk)
        _mark_inserted(instance, pk=pk)


def _mark_inserted(instance: models.Model, *, pk: Any) -> None:
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias
    _remember_saved(instance, attnames=None)


def update_columns(instance: models.Model, *, attnames: Sequence[str]) -> None:
    """UPDATE the saved ``instance``'s ``attnames`` columns (as ``save(update_fields=...)``
    would, ``DatabaseError`` included when no row has its primary key)."""
    if instance.pk is None or instance._state.adding:
        raise WrittenOutRowError(f"this {type(instance).__name__} is not saved yet")
    if not attnames:
        return
    sql, fields = _update_plan(type(instance), tuple(attnames))
    values = [_prepare(field, instance, add=False) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, instance.pk])
        updated = cursor.rowcount
    if updated != 1:
        raise DatabaseError("Save with update_fields did not affect any rows.")
    _remember_saved(instance, attnames=list(attnames))
