"""Insert many new rows at once and learn their primary keys: the inventory sync's new rows, the audit trail's
command events.

``bulk_create`` builds a model instance and prepares every value of every row in Python (about 0.1 ms a row: most
of a first inventory sync's CPU); on PostgreSQL the rows go through ``COPY`` instead, values adapted by psycopg's C
code, with primary keys taken from the table's sequence first (one round trip) so that the caller learns them
without reading the rows back. Other databases (SQLite in development) use ``bulk_create``.
"""

from __future__ import annotations

import contextlib
import json

from django.db import connection, models


def insert_rows(model: type[models.Model], columns: tuple[str, ...], rows: list[tuple], constant: dict, *,
                returning: bool = True) -> list[int]:
    """Insert ``rows`` (values of ``columns``, attnames) with ``constant``'s columns; their pks, in row order (none
    unless ``returning``: on PostgreSQL, learning them costs a round trip).

    Every other concrete field gets its model default, as with ``bulk_create``.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objs = [model(**constant, **dict(zip(columns, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs, batch_size=500)
        return [obj.pk for obj in objs] if returning else []
    return _copy_rows(model, columns, rows, constant, returning)


def _copy_rows(model, columns, rows, constant, returning: bool) -> list[int]:
    meta = model._meta
    fields = {field.attname: field for field in meta.concrete_fields}
    given = {meta.pk.attname, *columns, *constant}
    defaults = {name: field.get_db_prep_save(field.get_default(), connection)
                for name, field in fields.items() if name not in given}
    fixed = {**{name: _db_value(fields[name], value) for name, value in constant.items()}, **defaults}
    json_positions = [i for i, name in enumerate(columns) if isinstance(fields[name], models.JSONField)]
    names = [*([meta.pk.attname] if returning else []), *columns, *fixed]
    sql = (f"COPY {connection.ops.quote_name(meta.db_table)} "
           f"({', '.join(connection.ops.quote_name(fields[name].column) for name in names)}) FROM STDIN")
    with connection.cursor() as cursor:
        pks = []
        if returning:  # the keys first, from the table's own sequence, so that the rows carry them
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [meta.db_table, meta.pk.column, len(rows)])
            pks = sorted(pk for (pk,) in cursor.fetchall())  # ascending in row order, as bulk_create gives them
        lead = [(pk,) for pk in pks] if returning else [()] * len(rows)
        tail = tuple(fixed.values())
        logged = getattr(cursor, "debug_sql", None)  # the debug cursor logs queries (DEBUG, tests): log this one
        with logged(sql) if logged else contextlib.nullcontext(), cursor.cursor.copy(sql) as copy:
            for key, row in zip(lead, rows, strict=True):
                if json_positions:
                    row = list(row)
                    for i in json_positions:
                        row[i] = json.dumps(row[i])
                copy.write_row((*key, *row, *tail))
    return pks


def _db_value(field, value):
    return json.dumps(value) if isinstance(field, models.JSONField) else value
