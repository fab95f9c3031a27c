"""Page numbers for lists, cursors for the two streams that only grow: a migration's events (after a sequence
number) and the audit trail (newest first, by id; no count over millions of rows). The migrations list, which grows
by the hundred thousand, has page numbers with a capped count and its rows found by id first (``CappedPages``)."""

import math

from django.core.paginator import InvalidPage
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

MAX_PAGE_SIZE = 200


class Pages(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param) or 1
        if raw == "last":
            return raw
        if not (str(raw).isascii() and str(raw).isdigit()) or len(str(raw)) > 9:
            raise ValidationError({"page": ["A page is a whole number from 1."]})
        return raw

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw[:9]) <= self.max_page_size:
            raise ValidationError({"page_size": [f"A page size is a whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise
        except InvalidPage as exc:  # pragma: no cover — DRF turns it into NotFound already
            raise NotFound(str(exc)) from None


COUNT_CAP = 10_000


def capped_count(queryset, cap: int | None = None) -> tuple[int, bool]:
    """How many rows match, counted up to ``cap`` (``COUNT_CAP``; a count stops there, however many there are), and
    whether there are more."""
    cap = COUNT_CAP if cap is None else cap
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return min(found, cap), found > cap


def page_rows(queryset, offset: int, limit: int, fetch=None) -> list:
    """The rows ``offset`` to ``offset + limit`` of an ordered queryset, found by id first: the offset walks an index
    of ids (no joins, no wide rows), then only the page's rows are read, by ``fetch(ids)`` (a queryset: the rows with
    their related rows; by default ``queryset`` itself restricted to the ids). Rows are model instances, or dicts
    with an ``id`` for a ``.values()`` queryset."""
    ids = list(queryset.values_list("pk", flat=True)[offset: offset + limit])
    rows = fetch(ids) if fetch is not None else queryset.order_by().filter(pk__in=ids)
    found = {row["id"] if isinstance(row, dict) else row.pk: row for row in rows}
    return [found[pk] for pk in ids if pk in found]


class CappedPages(Pages):
    """Page numbers over a list that may hold hundreds of thousands of rows: ``count`` is exact up to 10,000; above,
    it is 10,000 and ``count_capped`` is true (filter further, or follow ``next``). Counting every row of a big list
    costs more than the page itself; ``next`` says whether there is a following page either way."""

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self.get_page_size(request)
        raw = self.get_page_number(request, None)
        self.count, self.capped = capped_count(queryset)
        if raw == "last":
            if self.capped:
                raise ValidationError({"page": [f"There are more than {self.count:,} matching rows: page=last "
                                                "needs fewer; filter further."]})
            self.number = max(1, math.ceil(self.count / size))
        else:
            self.number = int(raw)
        if self.number < 1:
            raise ValidationError({"page": ["A page is a whole number from 1."]})
        rows = page_rows(queryset, (self.number - 1) * size, size + 1, getattr(view, "fetch_rows", None))
        if not rows and self.number > 1:
            raise NotFound("Invalid page.")
        self.more, self.rows = len(rows) > size, rows[:size]
        return self.rows

    def get_next_link(self):
        return replace_query_param(self.request.build_absolute_uri(), self.page_query_param, self.number + 1) \
            if self.more else None

    def get_previous_link(self):
        if self.number == 1:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.page_query_param, self.number - 1)

    def get_paginated_response(self, data):
        return Response({"count": self.count, "count_capped": self.capped, "next": self.get_next_link(),
                         "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        answer = super().get_paginated_response_schema(schema)
        answer["properties"]["count"]["description"] = f"Matching rows, counted up to {COUNT_CAP:,}"
        answer["properties"]["count_capped"] = {
            "type": "boolean", "description": f"More than {COUNT_CAP:,} rows match: count stops there"}
        answer["required"] = [*answer.get("required", []), "count_capped"]
        return answer


class AuditCursor(pagination.CursorPagination):
    """The audit trail, newest first; ``cursor`` is opaque (DRF's), ``page_size`` up to 200."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw[:9]) <= self.max_page_size:
            raise ValidationError({"page_size": [f"A page size is a whole number from 1 to {self.max_page_size}."]})
        return int(raw)


class AfterSequence(pagination.BasePagination):
    """A migration's events after ``after`` (a sequence number, 0 for the first), up to ``limit``, oldest first.
    ``next`` asks for the events after the last one returned; ``last_seq`` is the migration's latest so far."""

    default_limit = 200
    max_limit = 1000

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.after = self._number(request, "after", 0, 2**31 - 1)
        self.limit = self._number(request, "limit", self.default_limit, self.max_limit, low=1)
        rows = list(queryset.filter(seq__gt=self.after).order_by("seq")[: self.limit + 1])
        self.more = len(rows) > self.limit
        self.rows = rows[: self.limit]
        return self.rows

    @staticmethod
    def _number(request, name, default, high, low=0):
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or not low <= int(raw) <= high:
            raise ValidationError({name: [f"{name} is a whole number from {low} to {high}."]})
        return int(raw)

    def after_seq(self) -> int:
        """The sequence number to ask after next: the last one returned (rows are dicts or events)."""
        if not self.rows:
            return self.after
        last = self.rows[-1]
        return last["seq"] if isinstance(last, dict) else last.seq

    def get_paginated_response(self, data, last_seq=0, status=""):
        after = self.after_seq()
        url = self.request.build_absolute_uri()
        nxt = replace_query_param(url, "after", after) if self.more else None
        return Response({"next": nxt, "after": after, "more": self.more, "last_seq": last_seq, "status": status,
                         "results": data})

    def get_paginated_response_schema(self, schema):
        return {"type": "object", "required": ["next", "after", "more", "last_seq", "status", "results"],
                "properties": {"next": {"type": ["string", "null"], "format": "uri"},
                               "after": {"type": "integer", "description": "The sequence number to ask after next"},
                               "more": {"type": "boolean"},
                               "last_seq": {"type": "integer"},
                               "status": {"type": "string", "description": "The migration's status now"},
                               "results": schema}}

    def get_schema_operation_parameters(self, view):
        return [{"name": "after", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0},
                 "description": "Return the events whose sequence number is greater than this."},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": self.max_limit}}]
