"""JSON bodies, refusing a NUL character anywhere in them (PostgreSQL stores no NUL in text nor jsonb: one reaching
a comment or the audit trail would be a 500), as ``mobility.request_input`` refuses it in forms and queries."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if _has_nul(data):
            raise ParseError("A field contains a NUL character, which no field of this site accepts.")
        return data
