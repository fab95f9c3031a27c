"""Insert many new inventory rows at once and learn their primary keys."""

from __future__ import annotations

from django.db import models


def insert_rows(model: type[models.Model], columns: tuple[str, ...], rows: list[tuple], constant: dict) -> list[int]:
    """Insert ``rows`` (values of ``columns``, attnames) with ``constant``'s columns; their pks, in order."""
    objs = [model(**constant, **dict(zip(columns, row, strict=True))) for row in rows]
    model.objects.bulk_create(objs, batch_size=500)
    return [obj.pk for obj in objs]
