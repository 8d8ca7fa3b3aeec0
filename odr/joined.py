"""Hot reads spelled out once in SQL across several tables, their rows turned back into model
instances with Django's own converters (datetimes on SQLite, JSON on PostgreSQL).

Why: the ORM compiles a `select_related` query anew on every call, and for the five tables a
filing or a transition reads that costs 2-4 ms of CPU here, several times the query itself. The
hottest paths (filing a case, locking a case for a transition, the token, the case-event relay)
write their SQL with `columns()`, run it with `fetch_one()` and read its row with `Joined`;
everything else keeps using the ORM.

On PostgreSQL where a thread keeps its session (`CONN_MAX_AGE` > 0: the gunicorn serving
model; the ASGI processes' database threads, odr/asyncdb.py), `fetch_one()` runs them as
prepared statements: planning these joins costs PostgreSQL 0.4-0.9 ms per call, seven times
what executing them does. Behind a proxy that pools transactions (PgBouncer in transaction
mode) set ODR_PREPARED_STATEMENTS=off: the session a statement was prepared on is not kept."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created
from django.db.models import Model
from django.db.models.sql import Query


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def columns(alias: str, model: type[Model]) -> str:
    """Every concrete column of `model`, in field order: what `Joined` expects per model."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}"
                     for f in model._meta.concrete_fields)


# What PostgreSQL answers when a session's prepared statements cannot be trusted: one has
# gone ("does not exist": a pooling proxy moved us to another session), one already exists
# there (the same), or its plan no longer fits the table (a migration changed a column).
_LOST_STATEMENT = {"26000", "42P05", "0A000"}


def _watch_prepared(execute, sql, params, many, context):
    """Execute wrapper: after such an answer to one of our PREPAREs or EXECUTEs, this session
    runs the SQL as it is until the connection is replaced (odr/asyncdb.py replaces a database
    thread's at once; a request's goes at its CONN_MAX_AGE), instead of failing every time."""
    try:
        return execute(sql, params, many, context)
    except Exception as exc:
        if (sql.startswith(("PREPARE odr_", "EXECUTE odr_"))
                and getattr(exc.__cause__, "pgcode", None) in _LOST_STATEMENT):
            context["connection"].odr_session_stale = True
        raise


def _forget_prepared(sender, connection, **kwargs) -> None:
    """A new session knows no prepared statement."""
    connection.odr_prepared = set()
    connection.odr_session_stale = False
    if _watch_prepared not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch_prepared)


connection_created.connect(_forget_prepared, dispatch_uid="odr.joined")


def _prepares() -> bool:
    """On PostgreSQL, where this thread keeps its session: a persistent connection
    (CONN_MAX_AGE > 0), or one of the ASGI processes' database threads (odr/asyncdb.py)."""
    return (connection.vendor == "postgresql" and settings.ODR_PREPARED_STATEMENTS
            and (connection.settings_dict["CONN_MAX_AGE"] != 0
                 or getattr(connection, "odr_keeps_session", False))
            and not getattr(connection, "odr_session_stale", False))


def positional(sql: str) -> tuple[str, list[str]]:
    """`sql` with its `%(name)s` placeholders as `%s` (what `prepared` takes), and the names
    in their order, to build the parameter list from a dict."""
    return re.sub(r"%\((\w+)\)s", "%s", sql), re.findall(r"%\((\w+)\)s", sql)


def prepared(name: str, sql: str) -> str:
    """What to run for `sql` (placeholders `%s`, no other `%`) on this connection: `EXECUTE`
    of a statement prepared once per connection where that pays (see above), else `sql`."""
    if not _prepares():
        return sql
    assert "%" not in sql.replace("%s", ""), "PREPARE text is sent without parameters"
    statement = f"odr_{name}"
    parts = sql.split("%s")
    # Opening a cursor first runs the request's health check and (re)connects: the set read
    # below is then the session's that the EXECUTE will run on (a reconnect resets it).
    with connection.cursor() as cursor:
        known = getattr(connection, "odr_prepared", None)  # this thread's connection (a proxy)
        if known is None:
            known = connection.odr_prepared = set()
        if statement not in known:
            cursor.execute(f"PREPARE {statement} AS " + "".join(
                part + (f"${i}" if i < len(parts) else "")
                for i, part in enumerate(parts, start=1)))
            # Not undone by a rollback: a prepared statement lives as long as the session.
            known.add(statement)
    return f"EXECUTE {statement}" + (f"({', '.join(['%s'] * (len(parts) - 1))})"
                                     if len(parts) > 1 else "")


def fetch_one(name: str, sql: str, params: Sequence) -> tuple | None:
    """The first row of `sql`, prepared where that pays."""
    with connection.cursor() as cursor:
        cursor.execute(prepared(name, sql), params)
        return cursor.fetchone()


def fetch_all(name: str, sql: str, params: Sequence) -> list[tuple]:
    """Every row of `sql`, prepared where that pays."""
    with connection.cursor() as cursor:
        cursor.execute(prepared(name, sql), params)
        return cursor.fetchall()


class Joined:
    """The models a row holds, in the order their `columns()` appear in the SELECT; columns
    after the last model are returned as they are (an EXISTS flag, say)."""

    def __init__(self, *models: type[Model]):
        self.models = models
        self._fields = [[f.attname for f in m._meta.concrete_fields] for m in models]
        self._pk_at = [[f.primary_key for f in m._meta.concrete_fields].index(True)
                       for m in models]
        self._converters: dict[str, dict] = {}

    def _converters_here(self) -> dict:
        """{column position: (converters, expression)} for this database, computed once."""
        vendor = connection.vendor
        if vendor not in self._converters:
            compiler = connection.ops.compiler("SQLCompiler")(Query(None), connection,
                                                              connection.alias)
            cols = [f.get_col(m._meta.db_table) for m in self.models
                    for f in m._meta.concrete_fields]
            self._converters[vendor] = compiler.get_converters(cols)
        return self._converters[vendor]

    def instances(self, row: Sequence) -> tuple[list[Model | None], list]:
        """The row's model instances (None for a LEFT JOIN that found nothing), and the
        trailing extra columns."""
        values = list(row)
        for pos, (converters, expression) in self._converters_here().items():
            value = values[pos]
            for convert in converters:
                value = convert(value, expression, connection)
            values[pos] = value
        out: list[Model | None] = []
        at = 0
        for model, names, pk_at in zip(self.models, self._fields, self._pk_at, strict=True):
            part = values[at:at + len(names)]
            at += len(names)
            out.append(None if part[pk_at] is None
                       else model.from_db(connection.alias, names, part))
        return out, values[at:]
