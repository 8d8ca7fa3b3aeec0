"""The hot INSERTs (a filing's case, its escrow hold, every timeline entry and offer) as one
prepared statement per model instead of `Model.objects.create()`.

Why: the ORM compiles an INSERT anew for every row: for the case's 25 columns that costs more
Python than the statement costs PostgreSQL, and a filing writes three such rows. `insert()`
does what `save()` does for a new row of a plain model (each field's `pre_save`, so `default`
and `auto_now` behave the same; its `get_db_prep_save`, so values are adapted the same) and
runs the statement through `odr.joined.prepared`, planned once per connection where that pays.

Not for a model with save() overrides that matter on insert, signals, file fields or
database defaults: `insert()` refuses the last two and sends no signal."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import Model
from django.db.models.expressions import DatabaseDefault
from django.db.models.fields.files import FileField

from odr.joined import prepared, table


@cache
def _plan(model: type[Model], vendor: str, with_pk: bool) -> tuple[str, list, bool]:
    """(SQL, fields in placeholder order, whether the SQL returns the new key)."""
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields if with_pk or f is not meta.pk]
    assert not any(isinstance(f, FileField) for f in fields), f"{model}: files need save()"
    quote = connection.ops.quote_name
    returns = not with_pk and connection.features.can_return_columns_from_insert
    sql = (f"INSERT INTO {table(model)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    if returns:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql, fields, returns


def insert(obj: Model) -> Model:
    """INSERT `obj` as a new row and give it its key, as `obj.save()` would for a new instance
    (no signals sent). A key set beforehand (a UUID) is written; an automatic one is read back."""
    model = type(obj)
    meta = model._meta
    with_pk = obj.pk is not None
    sql, fields, returns = _plan(model, connection.vendor, with_pk)
    values = []
    for f in fields:
        value = f.pre_save(obj, True)
        if isinstance(value, DatabaseDefault):
            raise TypeError(f"{model.__name__}.{f.name}: database defaults need save()")
        values.append(f.get_db_prep_save(value, connection))
    name = f"insert_{meta.db_table}" + ("_pk" if with_pk else "")
    with connection.cursor() as cursor:
        cursor.execute(prepared(name, sql), values)
        if not with_pk:
            new_pk = (cursor.fetchone()[0] if returns
                      else connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column))
            setattr(obj, meta.pk.attname, new_pk)
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj
