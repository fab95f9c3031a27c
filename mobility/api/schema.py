"""drf-spectacular's post-processing for ivmweb: error answers are ``application/problem+json`` (RFC 9457)."""

PROBLEM_REF = "#/components/schemas/ProblemDetail"


def problem_media_type(result, generator, request, public):
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if str(code).startswith(("4", "5")) and content.get("application/json", {}).get("schema", {}).get(
                        "$ref") == PROBLEM_REF:
                    response["content"] = {"application/problem+json": content.pop("application/json")}
    return result


# The largest value of an integer column, as the database reports it: PostgreSQL's smallint, integer and bigint, and
# SQLite's one 64-bit integer. These bounds say which database generated the schema, not what the API accepts.
_COLUMN_LIMITS = frozenset({32767, 2147483647, 9223372036854775807})


def _without_column_limits(node) -> None:
    if isinstance(node, dict):
        if node.get("maximum") in _COLUMN_LIMITS and "integer" in (node.get("type") if isinstance(node.get("type"), list)
                                                                     else [node.get("type")]):
            del node["maximum"]
            if node.get("format") == "int64":
                del node["format"]
        for value in node.values():
            _without_column_limits(value)
    elif isinstance(node, list):
        for value in node:
            _without_column_limits(value)


def database_neutral(result, generator, request, public):
    """The same schema whichever database the code runs on (the committed one is compared with the generated one)."""
    _without_column_limits(result)
    return result
