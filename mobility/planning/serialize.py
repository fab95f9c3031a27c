"""Turn planning results into JSON-ready data for a plan snapshot.

Every dataclass in this package inherits `JsonData`, so `obj.to_dict()` gives plain dicts, lists, strings,
numbers, booleans and None: what `json.dumps` accepts and what the plan's hash is computed over.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, enums, tuples, sets and mappings recursively into JSON types.

    Sets come out as sorted lists so the same data always serialises the same way (the plan hash depends on it).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


class JsonData:
    """Mixin for the package's dataclasses: `to_dict()` returns JSON-ready data."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)
