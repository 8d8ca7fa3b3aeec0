"""The hot INSERTs (a filing's case, its escrow hold, every timeline entry, offer and chat
line, the relay's notifications and deliveries) as one prepared statement per model instead of
`Model.objects.create()` and `bulk_create()`.

Why: every write of a request or of the relay inserts some of these rows, and the ORM
compiles each INSERT anew and PostgreSQL plans it anew. Here the statement is written once
per model (and number of rows) and run through `odr.joined.prepared`, planned once per
connection where that pays. Measured in-process on a filing (three such rows): PostgreSQL's
CPU 0.70 → 0.55 ms, Python 0.03 ms less per row (a timeline entry: 0.114 → 0.083 ms).
`insert()` does what `save()` does for a new row of a plain model: each field's `pre_save`
(so `default` and `auto_now` behave the same) and `get_db_prep_save` (values adapted the same).

Not for a model whose save() override matters on insert, that needs signals, or for file
fields, database defaults and expressions as values: `insert()` refuses the last three, sends
no signal, and leaves generated columns to the database."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import Model
from django.db.models.expressions import DatabaseDefault
from django.db.models.fields.files import FileField

from odr.joined import prepared, table

# Rows in one statement up to which it is prepared (one statement per number of rows up to
# this). A longer list (a shop with many staff told at once) is sent as text, in the batches
# `bulk_create` would use (one statement on PostgreSQL, within SQLite's parameter limit).
PREPARED_ROWS = 8


def _build(model: type[Model], with_pk: bool, rows: int) -> tuple[str, list, bool]:
    """(SQL, fields in placeholder order, whether the SQL returns the new keys)."""
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields
              if not f.generated and (with_pk or f is not meta.pk)]
    if any(isinstance(f, FileField) for f in fields):
        raise TypeError(f"{model.__name__}: a file field needs save()")
    quote = connection.ops.quote_name
    features = connection.features
    returns = not with_pk and (features.can_return_rows_from_bulk_insert if rows > 1
                               else features.can_return_columns_from_insert)
    row = f"({', '.join(['%s'] * len(fields))})"
    sql = (f"INSERT INTO {table(model)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
           f"VALUES {', '.join([row] * rows)}")
    if returns:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql, fields, returns


@cache
def _plan(model: type[Model], vendor: str, with_pk: bool, rows: int) -> tuple[str, list, bool]:
    """`_build`, written once per model, key kind and number of rows up to PREPARED_ROWS."""
    return _build(model, with_pk, rows)


def _value(field, obj: Model):
    value = field.pre_save(obj, True)
    if isinstance(value, DatabaseDefault) or hasattr(value, "resolve_expression"):
        raise TypeError(f"{type(obj).__name__}.{field.name}: database defaults and expressions "
                        "need save()")
    return field.get_db_prep_save(value, connection)


def insert(obj: Model) -> Model:
    """INSERT `obj` as a new row and give it its key, as `obj.save()` would for a new instance
    (no signals sent). A key set beforehand (a UUID) is written; an automatic one is read back."""
    return insert_many([obj])[0]


def insert_many(objs: list[Model]) -> list[Model]:
    """INSERT new instances of one model in one statement (or `bulk_create`'s batches) and give
    each its key (read back in the order written, as `bulk_create` relies on too)."""
    if not objs:
        return objs
    model, with_pk = type(objs[0]), objs[0].pk is not None
    if not all(type(o) is model and (o.pk is not None) == with_pk for o in objs):
        raise TypeError("insert_many: one model per call, keys all set or all automatic")
    if len(objs) > 1 and not with_pk and not connection.features.can_return_rows_from_bulk_insert:
        return [insert(o) for o in objs]
    if len(objs) <= PREPARED_ROWS:
        _insert_rows(model, with_pk, objs, prepare=True)
        return objs
    size = max(1, connection.ops.bulk_batch_size(_build(model, with_pk, 1)[1], objs))
    for start in range(0, len(objs), size):
        _insert_rows(model, with_pk, objs[start:start + size], prepare=False)
    return objs


def _insert_rows(model: type[Model], with_pk: bool, objs: list[Model], *, prepare: bool) -> None:
    meta = model._meta
    sql, fields, returns = (_plan(model, connection.vendor, with_pk, len(objs)) if prepare
                            else _build(model, with_pk, len(objs)))
    values = []
    for obj in objs:
        # As save() does: refuse a related object not saved yet, take its key if it got one
        # after it was assigned.
        obj._prepare_related_fields_for_save(operation_name="insert")
        values.extend(_value(f, obj) for f in fields)
    name = f"insert_{meta.db_table}" + ("_pk" if with_pk else "") + (
        f"_x{len(objs)}" if len(objs) > 1 else "")
    with connection.cursor() as cursor:
        cursor.execute(prepared(name, sql) if prepare else sql, values)
        if returns:
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                setattr(obj, meta.pk.attname, pk)
        elif not with_pk:
            setattr(objs[0], meta.pk.attname,
                    connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column))
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
