"""Values as people read them: durations in words ("4 min 05 s", not "0:04:05.027242") and recorded data as
key/value pairs (not a Python dict's text). Pure functions, shared by presenters, exports' neighbours and templates."""

import json
import re
from datetime import UTC, datetime, timedelta

UNKNOWN = "—"
# A moment as the audit trail's JSON stores it (str() or isoformat() of an aware datetime).
_MOMENT = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)")


def duration(value: timedelta | float | int | None) -> str:
    """A duration (a timedelta or seconds) in words, to the precision that matters at its size; "—" when unknown."""
    if value is None:
        return UNKNOWN
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        return UNKNOWN
    if round(seconds, 1) < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


def moment(value: datetime) -> str:
    """A moment to the second, in UTC (as every page of the history reads)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def value_text(value) -> str:
    """One recorded value as text: strings as they are, absent as "—", structures as compact JSON."""
    if value is None or value == "":
        return UNKNOWN
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and _MOMENT.fullmatch(value):
        return moment(datetime.fromisoformat(value))
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))


def pairs(data, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """A recorded dict as (key, text) pairs in its own order, for a key/value table; other values as one pair."""
    if not isinstance(data, dict):
        return [] if data in (None, "", {}) else [("value", value_text(data))]
    return [(str(key), value_text(value)) for key, value in data.items() if key not in skip]
