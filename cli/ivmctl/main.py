"""ivmctl's commands. Human tables by default, ``--json`` for scripts; exit 0 when done, 1 when the API refused or a
watched migration did not complete, 2 for wrong usage."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ivmctl import config
from ivmctl.client import ApiError, Client

app = typer.Typer(help="ivmweb from the command line: plan, submit, approve, watch and audit partition migrations.",
                  no_args_is_help=True, add_completion=False)
out = Console()
err = Console(stderr=True)
JSON = Annotated[bool, typer.Option("--json", help="Print the API's JSON (for scripts)")]
FINAL = {"completed", "failed", "stopped", "rejected", "expired", "cancelled"}


def _client() -> Client:
    saved = config.login()
    if not saved:
        err.print("Not logged in: run 'ivmctl login URL' first.")
        raise typer.Exit(2)
    return Client(saved["url"], saved["token"])


def _fail(exc: ApiError) -> typer.Exit:
    err.print(f"[red]error[/red]: {exc.text()}", markup=True, highlight=False)
    return typer.Exit(1)


@contextlib.contextmanager
def _refusals():
    """Around API calls: a refusal prints the API's words on stderr and exits 1; so does an address that does not
    answer (no traceback)."""
    try:
        yield
    except ApiError as exc:
        raise _fail(exc) from None
    except httpx.TransportError as exc:
        try:
            where = exc.request.url
        except RuntimeError:  # httpx raises it when the error carries no request
            where = "ivmweb"
        err.print(f"[red]error[/red]: cannot reach {where}: {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from None


def _get(path: str, client: Client | None = None, **params):
    with _refusals():
        return (client or _client()).get(path, **params)


def _post(path: str, body: dict, client: Client | None = None):
    with _refusals():
        return (client or _client()).post(path, body)


def _pages(path: str, client: Client | None = None, **params) -> list:
    with _refusals():
        return (client or _client()).all_pages(path, **params)


def _json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _print(data, as_json: bool, human) -> None:
    """``--json``: the API's JSON as it came; else ``human(data)``."""
    if as_json:
        _json(data)
    else:
        human(data)


def _table(title: str, columns: list[str], rows: list[list]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    out.print(table)


def _resolve(client: Client, kind: str, ref: str) -> int:
    """An id from an id or a unique name (partitions may share a name across servers: then give the id)."""
    if ref.isdigit():
        return int(ref)
    if kind == "partition":
        found = [p for p in client.all_pages("partitions/", q=ref) if p["name"] == ref]
        where = ", ".join(f"{p['id']} on {p['server']['name']}" for p in found)
    else:
        found = [s for s in client.all_pages("servers/") if s["name"] == ref]
        where = ", ".join(str(s["id"]) for s in found)
    if len(found) == 1:
        return found[0]["id"]
    err.print(f"No {kind} named {ref!r} that you may see." if not found
              else f"Several {kind}s are named {ref!r} ({where}); give the id.")
    raise typer.Exit(1)


def _mapping(text: str) -> dict:
    """``scsi:4=21`` or ``fc:5=22:fcs1`` (client slot 5 to server slot 22 on port fcs1); an empty slot lets IVM
    choose (``scsi:4=``)."""
    try:
        kind, rest = text.split(":", 1)
        client_slot, target = rest.split("=", 1)
        slot, _, port = target.partition(":")
        row = {"kind": kind, "client_slot": int(client_slot), "vios_slot": int(slot) if slot else None}
        if port:
            row["fc_port"] = port
        return row
    except ValueError:
        raise typer.BadParameter(f"{text!r}: write KIND:CLIENT_SLOT=SERVER_SLOT[:PORT], e.g. scsi:4=21") from None


# --- login -------------------------------------------------------------------------------------------------------

@app.command()
def login(url: Annotated[str, typer.Argument(help="ivmweb's address, e.g. https://ivmweb.example.com")],
          token: Annotated[str | None, typer.Option(envvar="IVMCTL_TOKEN",
                                                   help="The token (else asked for, hidden)")] = None):
    """Store a personal API token (made on the page 'API tokens') for URL, after checking it works."""
    token = token or typer.prompt("API token", hide_input=True)
    me = _get("me/", Client(url, token))
    path = config.save_login(url, token)
    out.print(f"Logged in to {url} as {me['username']} ({', '.join(me['roles']) or 'no role'}; token scope "
              f"{me['token']['scope'] if me.get('token') else '?'}). Saved in {path}.")


@app.command()
def whoami(as_json: JSON = False):
    """Who the stored token acts as."""
    _print(_get("me/"), as_json, lambda me: out.print(
        f"{me['username']}: roles {', '.join(me['roles']) or 'none'}; teams {', '.join(me['teams']) or 'none'}"))


# --- inventory and planning ----------------------------------------------------------------------------------

@app.command()
def partitions(server: Annotated[str | None, typer.Option(help="Only this server's (name or id)")] = None,
               as_json: JSON = False):
    """The partitions you may see."""
    client = _client()
    with _refusals():
        where = _resolve(client, "server", server) if server else None
    _print(_pages("partitions/", client, server=where), as_json, lambda rows: _table(
        "Partitions", ["id", "name", "server", "team", "state", "memory MB", "units", "can move"],
        [[p["id"], p["name"], p["server"]["name"], p["team"], p["state"], p["memory_mb"], p["proc_units"],
          p["mode"] or "no"] for p in rows]))


@app.command()
def destinations(partition: Annotated[str, typer.Argument(help="Name or id")],
                 mode: Annotated[str | None, typer.Option(help="inactive: shut it down first")] = None,
                 as_json: JSON = False):
    """The other servers ranked for a partition, with the reasons; the excluded ones last."""
    client = _client()
    with _refusals():
        body = client.get(f"partitions/{_resolve(client, 'partition', partition)}/destinations/", mode=mode)
    if as_json:
        return _json(body)
    for check in body["partition_checks"]:
        if check["status"] != "ok":
            out.print(f"{check['status'].upper()}: {check['title']}: {check['message']}")
    _table(f"Destinations of {body['partition']['name']} ({body['mode'] or 'cannot move'})",
           ["server", "eligible", "score", "why"],
           [[d["server"]["name"], "yes" if d["eligible"] else "no", f"{d['score']:.0f}",
             "; ".join([c["message"] for c in d["blocking"]]
                       or [r["text"] for r in d["reasons"] if r["effect"] != "positive"][:3] or ["fits"])]
            for d in body["destinations"]])


def _show_draft(body: dict) -> None:
    out.print(f"Plan: {body['partition']['name']} → {body['destination']['name']} ({body['mode']}); "
              f"digest {body['digest']}")
    bad = [c for c in body["checks"] if c["status"] != "ok"]
    for check in bad:
        out.print(f"  {check['status'].upper()}: {check['title']}: {check['message']}")
    _table("Mappings", ["kind", "client slot", "server", "server slot", "port"],
           [[m["kind"], m["client_slot"], m.get("vios_name"), m.get("vios_slot") if m.get("vios_slot") is not None
             else "IVM picks", m.get("fc_port")] for m in body["mappings"]])
    for problem in body["problems"]:
        out.print(f"  PROBLEM: {problem['message']}")
    validation = body.get("validation")
    if validation:
        if validation["ok"]:
            out.print("IVM validated the plan (migrlpar -o v).")
        else:
            out.print(f"IVM refused the plan: {validation['error']}")
            for key, messages in validation["checks"].items():
                for message in messages:
                    out.print(f"  {key}: [{message['code']}] {message['text']}")
            for message in validation["ivm_says"]:
                out.print(f"  [{message['code']}] {message['text']}")


JOB_FINAL = {"done", "failed", "timed_out"}


def _wait_job(client: Client, job: dict, what: str, interval: float, timeout: float, quiet: bool = False) -> dict:
    """Poll an IVM job (``GET jobs/<id>/``) until it has finished; a spinner with its progress line on stderr
    unless ``quiet`` (--json)."""
    deadline = time.monotonic() + timeout if timeout else None
    with contextlib.nullcontext() if quiet else err.status(what, spinner="dots") as spinner:
        while not job["finished"]:
            if deadline is not None and time.monotonic() > deadline:
                err.print(f"Gave up after {timeout:.0f} s; job {job['id']} is {job['status']} ({job['url']}).")
                raise typer.Exit(1)
            time.sleep(interval)
            job = _get(job["url"].removeprefix("/api/v1/"), client)
            if spinner is not None:
                spinner.update(f"{what} ({job['status']}{': ' + job['progress'] if job['progress'] else ''})")
    return job


INTERVAL = Annotated[float, typer.Option(help="Seconds between polls of the IVM job")]
TIMEOUT = Annotated[float, typer.Option(help="Give up waiting for the IVM job after this many seconds (0: never)")]


@app.command()
def plan(partition: Annotated[str, typer.Argument(help="Name or id")],
         to: Annotated[str, typer.Option("--to", help="The destination server (name or id)")],
         maps: Annotated[list[str] | None, typer.Option("--map", help="KIND:CLIENT_SLOT=SERVER_SLOT[:PORT]")] = None,
         mode: Annotated[str | None, typer.Option(help="inactive: shut a running partition down first")] = None,
         interval: INTERVAL = 0.5, timeout: TIMEOUT = 180, as_json: JSON = False):
    """Draft a plan with the recommended (or your) mappings and have IVM validate it (a job a worker runs; this waits
    for it); kept for 'ivmctl submit', which uses IVM's answer for 10 minutes. --json prints the finished job."""
    client = _client()
    body = {"partition": _resolve(client, "partition", partition), "destination": _resolve(client, "server", to),
            "mode": mode, "mappings": [_mapping(m) for m in maps or []]}
    draft = _post("plans/draft/", body, client)
    if not draft["ready"]:
        _print(draft, as_json, _show_draft)
        raise typer.Exit(1)
    job = _post("plans/validate/", {**body, "digest": draft["digest"]}, client)
    job = _wait_job(client, job, f"IVM is validating job {job['id']}", interval, timeout, quiet=as_json)
    config.save_plan({**body, "mappings": draft["mappings"], "digest": draft["digest"]})
    validation = job["result"] if job["status"] == "done" else None
    if as_json:
        _json(job)
    else:
        _show_draft({**draft, "validation": validation})
        if validation is None:
            err.print(f"The validation job {job['id']} {job['status'].replace('_', ' ')}: {job['error']}")
    if not (validation and validation.get("ok")):
        raise typer.Exit(1)


@app.command()
def job(job_id: Annotated[int, typer.Argument(metavar="ID")],
        wait: Annotated[bool, typer.Option(help="Wait until it has finished")] = False,
        interval: INTERVAL = 0.5, timeout: TIMEOUT = 180, as_json: JSON = False):
    """One of your IVM jobs (a validation, a revision): its status, progress and result; exit 1 unless done."""
    client = _client()
    found = _get(f"jobs/{job_id}/", client)
    if wait:
        found = _wait_job(client, found, f"Job {job_id}", interval, timeout, quiet=as_json)
    if as_json:
        _json(found)
    else:
        out.print(f"Job {found['id']} ({found['kind']}): {found['status']}"
                  f"{' — ' + found['progress'] if found['progress'] else ''}{' — ' + found['error'] if found['error'] else ''}")
        if found["result"]:
            _json(found["result"])
    raise typer.Exit(0 if found["status"] == "done" else 1)


@app.command()
def submit(reason: Annotated[str, typer.Option(help="Why the partition should move")],
           wished_start: Annotated[str | None, typer.Option(help="ISO 8601, e.g. 2027-01-05T22:00:00Z")] = None,
           activate: Annotated[bool, typer.Option(help="Inactive moves: start it on the destination")] = False,
           as_json: JSON = False):
    """Submit the plan drafted last by 'ivmctl plan', on IVM's answer to its validation (within 10 minutes; else
    run 'ivmctl plan' again): it waits for approval."""
    drafted = config.plan()
    if not drafted:
        err.print("No plan drafted: run 'ivmctl plan PARTITION --to SERVER' first.")
        raise typer.Exit(2)
    body = {**drafted, "reason": reason, "wished_start": wished_start, "activate_on_destination": activate}
    _print(_post("plans/submit/", body), as_json, lambda m: out.print(
        f"Submitted migration {m['id']}: {m['partition']['name']} {m['source']['name']} → "
        f"{m['destination']['name']}, waiting for approval."))


# --- approvals ---------------------------------------------------------------------------------------------------

@app.command()
def approvals(as_json: JSON = False):
    """Requests waiting for a vote (your teams', or all for an auditor)."""
    _print(_pages("approvals/"), as_json, lambda rows: _table(
        "Waiting for approval", ["id", "partition", "from → to", "requester", "plan", "you may vote"],
        [[a["migration"]["id"], a["migration"]["partition"]["name"],
          f"{a['migration']['source']['name']} → {a['migration']['destination']['name']}",
          a["migration"]["requester"]["username"],
          f"v{a['plan']['version']} {a['plan']['content_hash'][:12]}" if a["plan"] else "",
          "yes" if a["can_vote"] else (a["why_not"] or "no")] for a in rows]))


def _vote(migration_id: int, decision: str, comment: str, plan_hash: str | None, as_json: bool):
    client = _client()
    card = _get(f"approvals/{migration_id}/", client)
    if card["plan"] is None:
        err.print("This request has no plan to vote on.")
        raise typer.Exit(1)
    read = plan_hash or card["plan"]["content_hash"]
    result = _post(f"approvals/{migration_id}/vote/", {"decision": decision, "plan_hash": read, "comment": comment},
                   client)
    _print(result, as_json, lambda r: out.print(
        f"{decision.capitalize()} migration {migration_id} (plan v{card['plan']['version']}, {read[:12]}); "
        f"it is now {r['migration']['status']}."))


@app.command()
def approve(migration_id: Annotated[int, typer.Argument(metavar="ID")],
            comment: Annotated[str, typer.Option(help="Required: why")],
            plan_hash: Annotated[str | None, typer.Option("--hash", help="The plan hash you reviewed")] = None,
            as_json: JSON = False):
    """Approve the plan you read (its hash): a plan changed since is refused."""
    _vote(migration_id, "approved", comment, plan_hash, as_json)


@app.command()
def reject(migration_id: Annotated[int, typer.Argument(metavar="ID")],
           comment: Annotated[str, typer.Option(help="Required: why")],
           plan_hash: Annotated[str | None, typer.Option("--hash", help="The plan hash you reviewed")] = None,
           as_json: JSON = False):
    """Reject the plan you read."""
    _vote(migration_id, "rejected", comment, plan_hash, as_json)


# --- migrations --------------------------------------------------------------------------------------------------

@app.command()
def migrations(status: Annotated[list[str] | None, typer.Option(help="Only these statuses")] = None,
               as_json: JSON = False):
    """The migrations you may see, newest first (the latest 200)."""
    _print(_get("migrations/", status=status, page_size=200)["results"], as_json, lambda rows: _table(
        "Migrations", ["id", "partition", "from → to", "mode", "status", "%", "requested"],
        [[m["id"], m["partition"]["name"], f"{m['source']['name']} → {m['destination']['name']}", m["mode"],
          m["status"], f"{m['percent']:.0f}", m["created_at"][:16]] for m in rows]))


@app.command()
def show(migration_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JSON = False):
    """One migration: status, figures and steps."""
    m = _get(f"migrations/{migration_id}/")
    if as_json:
        return _json(m)
    out.print(f"#{m['id']} {m['partition']['name']}: {m['source']['name']} → {m['destination']['name']} "
              f"({m['mode']}) {m['status']} {m['percent']:.0f}% {m['bytes_transmitted']} bytes. {m['outcome']}")
    _table("Steps", ["#", "step", "status", "detail"], [[s["number"], s["title"], s["status"], s["detail"]]
                                                       for s in m["steps"]])


@app.command()
def watch(migration_id: Annotated[int, typer.Argument(metavar="ID")],
          interval: Annotated[float, typer.Option(help="Seconds between polls")] = 1.0,
          timeout: Annotated[float, typer.Option(help="Give up after this many seconds (0: never)")] = 0,
          as_json: JSON = False):
    """Follow a migration's steps and progress until it ends; exit 0 only if it completed."""
    client = _client()
    after, status, deadline = 0, "", time.monotonic() + timeout if timeout else None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                        TimeElapsedColumn(), console=err, disable=as_json)
    with progress:
        bar = progress.add_task(f"migration {migration_id}", total=100)
        while True:
            page = _get(f"migrations/{migration_id}/events/", client, after=after)
            for event in page["results"]:
                if as_json:
                    _json(event)
                elif event["kind"] == "progress":
                    progress.update(bar, completed=event["payload"].get("percent") or 0)
                elif event["kind"] == "step":
                    p = event["payload"]
                    progress.console.print(f"step {p.get('number')} {p.get('key')}: {p.get('status')} "
                                           f"{p.get('detail') or ''}".rstrip())
                elif event["kind"] == "status":
                    progress.console.print(f"status: {event['payload'].get('status')} "
                                           f"{event['payload'].get('outcome') or ''}".rstrip())
            after, status = page["after"], page["status"]
            if status in FINAL and not page["more"]:
                break
            if deadline is not None and time.monotonic() > deadline:
                err.print(f"Gave up after {timeout:.0f} s; the migration is {status}.")
                raise typer.Exit(1)
            if not page["more"]:
                time.sleep(interval)
    if not as_json:
        out.print(f"Migration {migration_id} {status}.")
    raise typer.Exit(0 if status == "completed" else 1)


def _act(migration_id: int, action: str, body: dict, as_json: bool):
    _print(_post(f"migrations/{migration_id}/{action}/", body), as_json,
           lambda m: out.print(f"Migration {migration_id}: {m['status']}. {m['outcome']}".rstrip()))


@app.command()
def stop(migration_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JSON = False):
    """Stop a running migration (or an approved one that has not started)."""
    _act(migration_id, "stop", {}, as_json)


@app.command()
def recover(migration_id: Annotated[int, typer.Argument(metavar="ID")],
            force: Annotated[bool, typer.Option(help="Administrators only")] = False, as_json: JSON = False):
    """Recover a migration the IVM left half-moved."""
    _act(migration_id, "recover", {"force": force}, as_json)


@app.command()
def withdraw(migration_id: Annotated[int, typer.Argument(metavar="ID")],
             reason: Annotated[str, typer.Option(help="Why")], as_json: JSON = False):
    """Withdraw a request before it starts."""
    _act(migration_id, "withdraw", {"reason": reason}, as_json)


# --- batches -----------------------------------------------------------------------------------------------------

batch = typer.Typer(help="Batches: evacuate a server or move picked partitions together, with one approval.",
                    no_args_is_help=True)
app.add_typer(batch, name="batch")


def _batch_line(b: dict) -> str:
    t = b["totals"]
    return (f"Batch {b['id']} ({b['kind']}{', ' + b['source']['name'] if b.get('source') else ''}): {b['status']}; "
            f"{t['moved']} moved, {t['running']} running, {t['waiting']} waiting, {t['failed']} failed, "
            f"{t['not_started']} not started, {t['stayed']} stayed. {b['outcome']}".rstrip())


def _batch_post(path: str, body: dict, as_json: bool) -> dict | None:
    try:
        b = _client().post(path, body)
    except ApiError as exc:
        raise _fail(exc) from None
    if as_json:
        _json(b)
        return None
    out.print(_batch_line(b))
    return b


@batch.command("list")
def batch_list(status: Annotated[list[str] | None, typer.Option(help="Only these statuses")] = None,
               as_json: JSON = False):
    """The batches you may see, newest first (the latest 200)."""
    try:
        body = _client().get("batches/", status=status, page_size=200)
    except ApiError as exc:
        raise _fail(exc) from None
    if as_json:
        return _json(body["results"])
    _table("Batches", ["id", "kind", "source", "status", "members", "moved", "running", "waiting", "failed",
                       "requested"],
           [[b["id"], b["kind"], (b["source"] or {}).get("name", ""), b["status"], b["totals"]["members"],
             b["totals"]["moved"], b["totals"]["running"], b["totals"]["waiting"], b["totals"]["failed"],
             b["created_at"][:16]] for b in body["results"]])


@batch.command("show")
def batch_show(batch_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JSON = False):
    """One batch: its totals, members in start order and the partitions that stay."""
    try:
        b = _client().get(f"batches/{batch_id}/")
    except ApiError as exc:
        raise _fail(exc) from None
    if as_json:
        return _json(b)
    out.print(_batch_line(b))
    out.print(f"hash {b['content_hash'] or '-'}; parallelism {b['parallelism'] or '-'} (IVMs allow "
              f"{b['parallelism_cap']}); you may: {', '.join(b['actions']) or 'nothing now'}")
    _table("Members", ["#", "id", "partition", "from → to", "mode", "status", "%"],
           [[m["batch_position"], m["id"], m["partition"]["name"], f"{m['source']['name']} → {m['destination']['name']}",
             m["mode"], m["status"], f"{m['percent']:.0f}"] for m in b["members"]])
    if b["immovable"]:
        _table("Stays", ["partition", "why", "fix"],
               [[x["partition"], r["why"], r["fix"]] for x in b["immovable"] for r in x["reasons"][:1]])


@batch.command("evacuate")
def batch_evacuate(server: Annotated[str, typer.Argument(help="Server name or id")],
                   reason: Annotated[str, typer.Option(help="Why the server must be emptied")],
                   only_running: Annotated[bool, typer.Option(help="Only the running partitions")] = False,
                   stop_at_first_failure: Annotated[bool, typer.Option()] = False, as_json: JSON = False):
    """Plan the evacuation of a server; IVM validates every member, then the batch waits for one approval."""
    client = _client()
    _batch_post("batches/evacuate/", {"server": _resolve(client, "server", server), "reason": reason,
                                      "only_running": only_running, "stop_at_first_failure": stop_at_first_failure},
                as_json)


def _batch_vote(batch_id: int, decision: str, comment: str, batch_hash: str | None, extra: dict, as_json: bool):
    try:
        read = batch_hash or _client().get(f"batches/{batch_id}/")["content_hash"]
    except ApiError as exc:
        raise _fail(exc) from None
    _batch_post(f"batches/{batch_id}/vote/", {"decision": decision, "comment": comment, "batch_hash": read, **extra},
                as_json)


@batch.command("approve")
def batch_approve(batch_id: Annotated[int, typer.Argument(metavar="ID")],
                  comment: Annotated[str, typer.Option(help="Required: why")],
                  batch_hash: Annotated[str | None, typer.Option("--hash", help="The batch hash you reviewed")] = None,
                  not_before: Annotated[str | None, typer.Option(help="ISO 8601 with offset")] = None,
                  not_after: Annotated[str | None, typer.Option(help="ISO 8601 with offset")] = None,
                  time_zone: Annotated[str, typer.Option(help="Your time zone (IANA)")] = "UTC",
                  parallelism: Annotated[int | None, typer.Option(help="At most this many at once")] = None,
                  as_json: JSON = False):
    """Approve the batch you read (its hash), inside a window, at most PARALLELISM members at once."""
    extra = {k: v for k, v in {"not_before": not_before, "not_after": not_after, "time_zone": time_zone,
                               "parallelism": parallelism}.items() if v is not None}
    _batch_vote(batch_id, "approved", comment, batch_hash, extra, as_json)


@batch.command("reject")
def batch_reject(batch_id: Annotated[int, typer.Argument(metavar="ID")],
                 comment: Annotated[str, typer.Option(help="Required: why")],
                 batch_hash: Annotated[str | None, typer.Option("--hash", help="The batch hash you reviewed")] = None,
                 as_json: JSON = False):
    """Reject the batch you read."""
    _batch_vote(batch_id, "rejected", comment, batch_hash, {}, as_json)


@batch.command("pause")
def batch_pause(batch_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JSON = False):
    """No new member starts; the running ones go on."""
    _batch_post(f"batches/{batch_id}/pause/", {}, as_json)


@batch.command("resume")
def batch_resume(batch_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JSON = False):
    """Members start again as slots free."""
    _batch_post(f"batches/{batch_id}/resume/", {}, as_json)


@batch.command("stop")
def batch_stop(batch_id: Annotated[int, typer.Argument(metavar="ID")],
               stop_running: Annotated[bool, typer.Option(help="Stop the running members too")] = False,
               as_json: JSON = False):
    """No member starts any more (and, with --stop-running, the running ones are stopped)."""
    _batch_post(f"batches/{batch_id}/stop/", {"stop_running": stop_running}, as_json)


@batch.command("move-back")
def batch_move_back(batch_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JSON = False):
    """From a finished evacuation: plan the return of every moved partition, as a new batch."""
    _batch_post(f"batches/{batch_id}/move-back/", {}, as_json)


# --- history -----------------------------------------------------------------------------------------------------

@app.command()
def history(status: Annotated[str | None, typer.Option(help="Outcome")] = None,
            partition: Annotated[str | None, typer.Option()] = None,
            team: Annotated[str | None, typer.Option()] = None,
            requester: Annotated[str | None, typer.Option()] = None,
            source: Annotated[str | None, typer.Option(help="Source server name")] = None,
            destination: Annotated[str | None, typer.Option(help="Destination server name")] = None,
            date_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
            date_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
            csv: Annotated[bool, typer.Option("--csv", help="Every matching migration as CSV")] = False,
            as_json: JSON = False):
    """The migration history (auditors), with the history page's filters."""
    filters = {"status": status, "partition": partition, "team": team, "requester": requester, "source": source,
               "destination": destination, "date_from": date_from, "date_to": date_to}
    client = _client()
    if csv:
        with _refusals():
            for chunk in client.stream("history/export.csv", **filters):
                sys.stdout.write(chunk)
        return
    _print(_pages("history/", client, **filters), as_json, lambda rows: _table(
        "History", ["id", "requested", "partition", "from → to", "status", "requester", "approvers", "duration s"],
        [[r["id"], r["created_at"][:16], r["partition"], f"{r['source']} → {r['destination']}", r["status"],
          r["requester"], r["approvers"], r["duration_s"]] for r in rows]))


if __name__ == "__main__":
    app()
