"""Limits on what a browser may send over the live websocket, checked before any JSON is parsed.

The browser only ever sends small flat objects. A frame nested deeper than the limit is refused unparsed: json
recurses once per level and would raise RecursionError. Its depth is read within the first ``max_bytes`` only, so
no frame costs more than that to scan, and it comes first: a nested frame shows its depth in its first bytes.
"""

import re

from django.conf import settings

TOO_DEEP, TOO_BIG = 1008, 1009  # close codes: policy violation, message too big

# A JSON string whole (brackets inside it do not nest), a quote that opens no string (json.loads stops there, so
# the scan does too: never rescanning the rest from each later quote), or one bracket.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|"|[\[\]{}]', re.DOTALL)


def violation(text: str | None, data: bytes | None) -> int | None:
    """The close code for a frame over the limits, or None when it may be parsed."""
    max_bytes = settings.IVMWEB_WS_MAX_FRAME_BYTES
    if text is not None and _too_deep(text, max_bytes, settings.IVMWEB_WS_MAX_DEPTH):
        return TOO_DEEP
    size = len(data) if data is not None else len(text.encode()) if text is not None else 0
    return TOO_BIG if size > max_bytes else None


def _too_deep(text: str, max_bytes: int, max_depth: int) -> bool:
    depth = 0
    for token in _TOKEN.finditer(text, 0, max_bytes):
        match token.group():
            case "[" | "{":
                depth += 1
                if depth > max_depth:
                    return True
            case "]" | "}":
                depth -= 1
                if depth <= 0:  # the first value is whole (json.loads reads no further) or a stray closer
                    return False
            case '"':
                return False
    return False
