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
