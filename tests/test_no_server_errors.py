"""Every URL pattern of ivmweb, as every role, with hostile ids, query strings and form fields: never a 5xx.

The test walks ``get_resolver().url_patterns`` (so a new view is fuzzed without being listed here; the Django
admin's own pages are skipped except its index, two changelists and one change page). Per pattern it
- sweeps: the valid request on a migration in each state (one completed without any step); every hostile value
  of the catalogue below in each path id; a valid body declared in each odd charset
  (DEBUG off and on); and a value of each kind in each field the view reads (its forms' fields, ``VIEW_FIELDS``;
  the kind's values in turn from field to field) while the other fields hold valid values; as the role whose page
  it is, by each method the view answers;
- then, as each role in turn, lets hypothesis draw (fixed seeds, bounded examples) a method, the path's ids, a query
  string and a form body mixing the view's fields, other views' fields and made-up names, values of every kind.
A 5xx fails the test with the request that caused it. CSRF is tested elsewhere: the client does not enforce it.

Kinds of input tried (each value is drawn from one kind; the counts of a run are printed at the end of the module
under "fuzz inputs by kind"):
- ids in the path: ids of real rows, 0, negative-looking ("-1"), huge (past bigint), non-ASCII digits ("²", "٣",
  "１２"), strings, the empty segment, NUL, a long string;
- query and form values: the same ids and numbers, non-ASCII digits, calendar extremes ("0001-01-01",
  "9999-12-31", "10000-01-01", "2026-02-30"), real names (users, teams, partitions, servers) and enum values,
  unknown enum values, wrong types (a date where a number goes, "on"/"true" where text goes, floats, "1e309"),
  very long strings (10 000 characters), NUL bytes, control, bidi and non-BMP characters, arbitrary text,
  repeated keys (lists), unknown field names;
- bodies: url-encoded, multipart, JSON, none, and url-encoded or multipart bodies that declare another charset
  (utf-7, utf-16, latin-1, rot13, an unknown one);
- as anonymous, requester rita, approver alex, auditor audrey and admin adam; GET and POST, with and without
  the HX-Request header.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.test.client import BOUNDARY, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from mobility.choices import MigrationMode, MigrationStatus, PartitionState, StepStatus
from mobility.forms.governance import AuditLogFilterForm, HistoryFilterForm, VoteForm
from mobility.forms.inventory import ConsoleRegistrationForm, HostKeyConfirmForm, PartitionFilterForm
from mobility.forms.plans import DigestForm, SubmitForm
from mobility.governance.history import SORTS
from mobility.models import IVMConsole, ManagedSystem, Partition, PlanVersion
from tests.governance import conftest as governance
from tests.governance.conftest import make_request

pytestmark = pytest.mark.django_db
estate = governance.estate  # the governance tests' small estate, as a fixture here too

ROLES = (None, "rita", "alex", "audrey", "adam")
# The admin's own pages are Django's; a few of them are enough to see our ModelAdmins answer bad input.
ADMIN_KEPT = {"admin:index", "admin:mobility_migration_changelist", "admin:mobility_migration_change",
              "admin:mobility_auditevent_changelist"}
EXAMPLES_PER_ROLE = 8  # hypothesis' share per pattern and role, after the sweep
KINDS: Counter = Counter()  # input kind -> how many values of it were sent

# --- the URL patterns -------------------------------------------------------------------------------------------


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield prefix, entry.pattern, name


def _route(prefix: str, pattern) -> tuple[str, list[str]]:
    """The pattern as a template ``migrations/{pk}/tasks/{index}/`` and its parameter names ("" for a regex
    this cannot fill in, such as the admin's catch-all)."""
    if isinstance(pattern, RoutePattern):
        route = prefix + str(pattern)
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), re.findall(r"<(?:\w+:)?(\w+)>", route)
    assert isinstance(pattern, RegexPattern)
    regex = str(pattern).lstrip("^").rstrip("$")
    template = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", regex)
    if "(" in template or "[" in template:
        return "", []
    return prefix.lstrip("^") + template.replace("\\", ""), re.findall(r"\(\?P<(\w+)>", regex)


def url_patterns() -> list[tuple[str, list[str], str]]:
    found = []
    for prefix, pattern, name in _walk(get_resolver().url_patterns):
        admins = name.startswith("admin:") or prefix.startswith("admin")
        if prefix.startswith(("static", "media")) or (admins and name not in ADMIN_KEPT):
            continue
        template, params = _route(prefix, pattern)
        if template or not params:
            found.append((template, params, name or "/" + template))
    return found


PATTERNS = url_patterns()

# --- what each view reads ----------------------------------------------------------------------------------------

WIZARD = ["partition", "destination", "mode", "slot-scsi-4", "port-fc-5"]
CONTROL = ["confirm", "reason", "force", "done"]
# URL name -> the fields the view reads (its forms' own, so a new form field is fuzzed too); others: GENERIC.
VIEW_FIELDS = {
    "login": ["username", "password", "next"],
    "admin:mobility_migration_changelist": ["o", "p", "q", "e", "status__exact", "mode__exact", "all"],
    "admin:mobility_auditevent_changelist": ["o", "p", "q", "e", "action__exact", "_to_field"],
    "mobility:inventory": list(PartitionFilterForm.base_fields),
    "mobility:history": list(HistoryFilterForm.base_fields),
    "mobility:history_stats": list(HistoryFilterForm.base_fields),
    "mobility:history_export": list(HistoryFilterForm.base_fields),
    "mobility:audit_log": list(AuditLogFilterForm.base_fields),
    "mobility:approval_vote": list(VoteForm.base_fields),
    "mobility:console_register": list(ConsoleRegistrationForm.base_fields),
    "mobility:console_host_key": ["scan", "pin"],
    "mobility:console_pin": list(HostKeyConfirmForm.base_fields),
    "mobility:plan_new": [*WIZARD, "validation"],
    "mobility:plan_validate": [*WIZARD, "digest"],
    "mobility:plan_submit": [*WIZARD, *SubmitForm.base_fields],
    "mobility:plan_detail": ["slot-scsi-4", "port-fc-5", "revalidation", "revision", "rehearsal"],
    "mobility:plan_rehearse": ["faults"],
    "mobility:plan_revalidate": ["slot-scsi-4", "port-fc-5", *DigestForm.base_fields],
    "mobility:plan_revise": ["slot-scsi-4", "port-fc-5", *DigestForm.base_fields],
    "mobility:migration_withdraw": CONTROL, "mobility:migration_stop": CONTROL,
    "mobility:migration_recover": CONTROL, "mobility:migration_task": CONTROL,
}
GENERIC = ["page", "q", "next"]


def sweep_role(name: str) -> str | None:
    """Whose page it is: the sweep goes past the role gate to the parsing behind it."""
    if name.startswith(("mobility:history", "mobility:audit_log")):
        return "audrey"
    if name.startswith(("mobility:console", "admin:")):
        return "adam"
    if name.startswith(("mobility:approval", "mobility:dashboard")):
        return "alex"
    return None if name in ("login", "logout") else "rita"


# --- the inputs ---------------------------------------------------------------------------------------------------

# kind -> values; the sweep sends each, hypothesis draws from them (and from its own text).
PATH_KINDS = {
    "path: zero or negative-looking": ["0", "-1", "00"],
    "path: huge number": ["99999999999999999999", str(2**63), str(2**31)],
    "path: non-ASCII digits": ["²", "٣", "１２", "𝟗"],
    "path: string": ["abc", "csv.json", "..", "%2F"],
    "path: long string or NUL": ["x" * 3000, "a\x00b", ""],
    "path: unknown enum value": ["xml", "CSV", "exe"],
}
VALUE_KINDS = {
    "value: number, zero or negative": ["0", "-1", "4095", "65536"],
    "value: huge number": ["99999999999999999999", str(2**63), "1" * 40],
    "value: non-ASCII digits": ["²", "٣", "１２", "1²"],
    "value: calendar extreme or impossible date": ["0001-01-01", "9999-12-31", "10000-01-01", "2026-02-30",
                                                  "2026-12-06T25:61", "9999-12-31T23:59"],
    "value: wrong type": ["on", "1.5", "1e309", "NaN", "[]", "2026-12-06"],
    "value: unknown enum value": ["bogus", "ACTIVE", "completed ", "-created_at", "../"],
    "value: very long string": ["x" * 10_000, "٣" * 5000],
    "value: NUL byte": ["a\x00b", "\x00", "\x1b[31m\x00\r\n"],
    "value: control, bidi or non-BMP characters": ["\x1b[31m\r\n", "\U0001f600\u202e", "\x7f\x08"],
    "value: empty": [""],
}


def kind(label: str, values) -> st.SearchStrategy:
    """Values of one kind, tagged with it so that the run can count what it tried."""
    strategy = values if isinstance(values, st.SearchStrategy) else st.sampled_from(values)
    return strategy.map(lambda v: (label, v))


def path_values(world) -> st.SearchStrategy:
    return st.one_of(kind("path: id of a real row", [str(pk) for pk in world.ids]),
                     kind("path: arbitrary text", st.text(min_size=1, max_size=12)),
                     *(kind(label, values) for label, values in PATH_KINDS.items()))


def field_values(world) -> st.SearchStrategy:
    return st.one_of(kind("value: id of a real row", [str(pk) for pk in world.ids]),
                     kind("value: real name or enum value", world.names),
                     kind("value: arbitrary text", st.text(max_size=30)),
                     *(kind(label, values) for label, values in VALUE_KINDS.items()))


def form(world, fields: list[str]) -> st.SearchStrategy:
    """Field name (the view's, another view's, or made up) -> one value, or several (a repeated key)."""
    names = st.one_of(st.sampled_from(fields), st.sampled_from(sorted({f for fs in VIEW_FIELDS.values() for f in fs})),
                      st.text(min_size=1, max_size=8))
    return st.dictionaries(names, st.lists(field_values(world), min_size=1, max_size=3), max_size=6)


BODY_KINDS = ["url-encoded", "multipart", "json", "none", "url-encoded, odd charset", "multipart, odd charset"]
ODD_CHARSETS = ["utf-7", "utf-16", "latin-1", "rot13", "x-unknown"]

# --- the estate ---------------------------------------------------------------------------------------------------


@pytest.fixture
def world(estate, personas):
    """The governance estate with requests in the states that change what a page offers (one completed with
    follow-up tasks, one completed without any step); the ids, names and valid values the inputs borrow."""
    rita = personas["rita"]
    pending = make_request(estate.app01, rita, estate.b)
    approved = make_request(estate.app02, rita, estate.c, status=MigrationStatus.APPROVED)
    failed = make_request(estate.ana01, personas["omar"], estate.c, status=MigrationStatus.FAILED,
                          start_intent_at=timezone.now() - timedelta(hours=1), recover_needed=True)
    done = make_request(estate.db01, rita, estate.a, status=MigrationStatus.COMPLETED, mode=MigrationMode.INACTIVE)
    done.create_steps()
    done.steps.filter(key="postrequisites").update(status=StepStatus.RUNNING, data={"tasks": [
        {"text": "Check the application", "done": False, "by": "", "at": None}]})
    bare = make_request(estate.app01, rita, estate.c, status=MigrationStatus.COMPLETED)  # no steps at all
    ids = set(PlanVersion.objects.values_list("pk", flat=True)) | {0, 1, 11}
    for model in (Partition, ManagedSystem, IVMConsole, type(pending)):
        ids |= set(model.objects.values_list("pk", flat=True))
    names = ["Payments", "Analytics", "app01", "db01", "Server-A", "Server-B", "rita", "alex", "ivm1", "yes", "on",
             "approved", "rejected", "scsi", "fcs0", *MigrationMode.values, *MigrationStatus.values,
             *PartitionState.values, *SORTS, "none", "127.0.0.1", "a" * 64]
    # The path id the sweep uses, by the route's first segment (index: the first follow-up task).
    main = {"systems": estate.a.pk, "partitions": estate.app01.pk, "consoles": estate.a.console_id,
            "migrations": pending.pk, "approvals": pending.pk, "history": pending.pk, "admin": pending.pk}
    valid = {"partition": estate.app01.pk, "destination": estate.b.pk, "confirm": "yes", "reason": "maintenance",
             "decision": "approved", "comment": "fine", "plan_hash": pending.latest_plan().content_hash,
             "name": "ivm9", "host": "127.0.0.1", "port": "1", "username": "padmin", "password": "pw",
             "done": "on"}
    # The history's filters name things (the wizard's carry ids).
    history = {"partition": "app01", "destination": "Server-B", "source": "Server-A", "team": "Payments",
               "requester": "rita", "date_from": "2026-01-01", "date_to": "2026-12-31", "mode": "active"}
    valid_for = {name: {**valid, **history} if name.startswith("mobility:history") else valid
                 for _, _, name in PATTERNS}
    migrations = [m.pk for m in (pending, approved, failed, done, bare)]
    return SimpleNamespace(ids=sorted(ids), names=names, main=main, valid=valid_for, done=done, migrations=migrations,
                           users={user.username: user for user in User.objects.all()})


@pytest.fixture(scope="module", autouse=True)
def report_kinds(request):
    """After the module: how many values of each kind were sent (the note of issue 17 lists them)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter and capture and KINDS:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\nfuzz inputs by kind:")
            for label, count in sorted(KINDS.items()):
                reporter.write_line(f"  {count:6d}  {label}")


class Clients:
    """One test client per role (signed in), signed in again after a request that signed it out."""

    def __init__(self, users):
        self.users, self.clients = users, {}

    def get(self, role: str | None) -> Client:
        if role not in self.clients:
            client = Client(raise_request_exception=False)
            if role:
                client.force_login(self.users[role])
            self.clients[role] = client
        return self.clients[role]

    def forget(self, role):
        self.clients.pop(role, None)


def send(clients: Clients, role, method: str, path: str, query: dict, body: dict, body_kind="url-encoded",
         charset="", htmx=False, name=""):
    """One request; a 5xx fails with everything needed to replay it."""
    client = clients.get(role)
    headers = {"HX-Request": "true"} if htmx else {}
    url = path + ("?" + urlencode(query, doseq=True) if query else "")
    sent = ""
    if method == "GET":
        response = client.get(url, headers=headers)
    elif body_kind == "url-encoded":
        sent = urlencode(body, doseq=True)
        response = client.post(url, sent, content_type="application/x-www-form-urlencoded", headers=headers)
    elif body_kind == "multipart":
        sent = repr(body)
        response = client.post(url, body, headers=headers)
    elif body_kind == "json":
        sent = json.dumps(body)
        response = client.post(url, sent, content_type="application/json", headers=headers)
    elif body_kind == "none":
        response = client.post(url, headers=headers)
    else:
        # Bytes that declare another charset (the test client would re-encode a str). Django's WSGI test request
        # decodes the query string with that charset before any middleware runs, so these go without one;
        # daphne, our server, reads the query string as UTF-8 whatever the body says.
        if body_kind.startswith("multipart"):
            raw, declared = encode_multipart(BOUNDARY, body), f"multipart/form-data; boundary={BOUNDARY}"
        else:
            raw, declared = urlencode(body, doseq=True).encode(), "application/x-www-form-urlencoded"
        url, sent = path, f"{raw!r} declared as {declared}; charset={charset}"
        response = client.post(url, raw, content_type="text/plain", headers=headers,
                               CONTENT_TYPE=f"{declared}; charset={charset}")
    KINDS["requests sent"] += 1
    KINDS[f"request: {method}" + (f" with a {body_kind} body" if method == "POST" else "")] += 1
    KINDS[f"role: {role or 'anonymous'}"] += 1
    if name == "logout":
        clients.forget(role)
    exc = getattr(response, "exc_info", None)
    if name == "readyz" and response.status_code == 503:  # its answer when a check fails (no worker runs here)
        assert json.loads(response.content)["status"] == "unready"
        return response
    assert response.status_code < 500, (
        f"{response.status_code} for {method} {url[:600]!r} as {role or 'anonymous'} (htmx={htmx}): "
        f"{exc[1] if exc else 'no exception'!r}; body {sent[:600]!r}")
    return response


def _path(template: str, segments: dict) -> str:
    return "/" + template.format(**{p: quote(str(v), safe="") for p, v in segments.items()})


def _main_ids(world, template: str, params: list[str], name: str) -> dict:
    first = template.split("/")[0]
    ids = {p: world.main.get(first, world.main["migrations"]) for p in params}
    if name == "mobility:migration_task":
        ids["pk"] = world.done.pk
    return {**ids, **({"index": 0} if "index" in params else {}), **({"fmt": "csv"} if "fmt" in params else {})}


def sweep(world, clients, template, params, name):
    """Every catalogued hostile value in each path id, then in each field the view reads, the rest valid."""
    role = sweep_role(name)
    main = _main_ids(world, template, params, name)
    fields = VIEW_FIELDS.get(name, GENERIC)
    valid = {f: world.valid[name][f] for f in fields if f in world.valid[name]}
    for param in params:
        for label, values in PATH_KINDS.items():
            for value in values:
                KINDS[label] += 1
                send(clients, role, "GET", _path(template, {**main, param: value}), valid, {}, name=name)
    methods = [m for m in ("GET", "POST")
               if send(clients, role, m, _path(template, main), valid, valid, name=name).status_code != 405]
    if "pk" in params and template.split("/")[0] in ("migrations", "approvals", "history"):
        for pk in world.migrations:  # the valid request on a migration in each state (one has no steps at all)
            for method in methods:
                send(clients, role, method, _path(template, {**main, "pk": pk}), valid, valid, name=name)
    if "POST" in methods:
        # The valid body declared in each odd charset, also with DEBUG on (whose error page reads the body again).
        for debug in (False, True):
            with override_settings(DEBUG=debug):
                for charset in ODD_CHARSETS:
                    for body_kind in ("url-encoded, odd charset", "multipart, odd charset"):
                        KINDS[f"charset: {charset}"] += 1
                        send(clients, role, "POST", _path(template, main), {}, valid, body_kind, charset, name=name)
    if name not in VIEW_FIELDS:
        return  # a view that reads no field: hypothesis' made-up fields are enough
    for number, field in enumerate(fields):
        for label, values in VALUE_KINDS.items():
            data = {**valid, field: values[number % len(values)]}  # each field meets each kind, values in turn
            KINDS[label] += len(methods)
            for method in methods:
                send(clients, role, method, _path(template, main), data if method == "GET" else {}, data, name=name)


@pytest.mark.parametrize(("template", "params", "name"), PATTERNS, ids=[p[2] for p in PATTERNS])
def test_no_server_errors(world, template, params, name):
    clients = Clients(world.users)
    sweep(world, clients, template, params, name)
    fields = VIEW_FIELDS.get(name, GENERIC)

    def probe_as(role, number):
        @seed(17_000 + number)  # fixed, and another per role
        @settings(max_examples=EXAMPLES_PER_ROLE, deadline=timedelta(seconds=5), database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(method=st.sampled_from(["GET", "POST"]),
               segments=st.fixed_dictionaries({p: path_values(world) for p in params}),
               query=form(world, fields), body=form(world, fields), body_kind=st.sampled_from(BODY_KINDS),
               charset=st.sampled_from(ODD_CHARSETS), htmx=st.booleans())
        def probe(method, segments, query, body, body_kind, charset, htmx):
            for label, _ in [*segments.values(), *(v for vs in [*query.values(), *body.values()] for v in vs)]:
                KINDS[label] += 1
            if method == "POST" and body_kind.endswith("odd charset"):
                KINDS[f"charset: {charset}"] += 1
            send(clients, role, method, _path(template, {p: v for p, (_, v) in segments.items()}),
                 {k: [v for _, v in vs] for k, vs in query.items()}, {k: [v for _, v in vs] for k, vs in body.items()},
                 body_kind, charset, htmx, name=name)

        probe()

    for number, role in enumerate(ROLES):
        probe_as(role, number)
