"""The metrics ivmweb records as things happen, in the process where they happen (prometheus_client).

Why two kinds (see ``scrape`` for the other): what the database holds (migrations by status, queues, workers'
heartbeats, the audit checkpoint) is read when ``/metrics`` is scraped, so every web process answers the same truth
whichever of them Prometheus reaches, and nothing is lost when a process restarts. What happens inside a process
(a step's duration, an SSH command's latency, a push's delay, a refused write) is counted here, in that process.

Several processes on one host: with ``PROMETHEUS_MULTIPROC_DIR`` set (the shipped units set it, one directory per
host, emptied at boot), prometheus_client keeps these values in files there and ``/metrics`` adds up those of every
ivmweb process of the host, web processes and engine workers alike (its multiprocess mode). A host with workers only
serves them with ``run_engine --metrics ADDR:PORT``. Without the variable each process counts for itself.

Labels stay bounded: step keys (11), modes (2), outcomes, IVM addresses and console names (the fleet's size), IVM
command names (a fixed list). Never a partition's name or a migration's id.
"""

from prometheus_client import Counter, Gauge, Histogram

_STEP_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
_RATE_BUCKETS = tuple(mib * 1024 * 1024 for mib in (1, 5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200))
_WINDOW_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
_PUSH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_SSH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_SYNC_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

# The IVM commands ivmweb sends (mobility.ivm.commands); anything else is counted as "other".
# migrlpar and chsysstate are told apart by their operation (-o m, -o v, ...): a start is not a validation.
IVM_COMMANDS = frozenset({"lssyscfg", "lshwres", "lsmap", "lsdev", "lsnports", "lslparmigr", "migrlpar",
                          "chsysstate", "mkauthkeys"})
_WITH_OPERATION = frozenset({"migrlpar", "chsysstate"})

STEP_SECONDS = Histogram("ivmweb_migration_step_duration_seconds",
                         "Time from a migration step's start to its end, by step, mode and how it ended.",
                         ["step", "mode", "outcome"], buckets=_STEP_BUCKETS)
TRANSFER_RATE = Histogram("ivmweb_migration_transfer_rate_bytes_per_second",
                          "Memory transfer rate between two polls of a migration's step 6 (lslparmigr figures).",
                          ["mode"], buckets=_RATE_BUCKETS)
SUSPEND_WINDOW = Histogram("ivmweb_migration_suspend_window_seconds",
                           "How long an active migration's partition was seen suspended (between polls).",
                           buckets=_WINDOW_BUCKETS)
LEASE_TAKEOVERS = Counter("ivmweb_engine_lease_takeovers",
                          "Migrations a worker claimed while they were being driven (another worker's lease had "
                          "expired, or it handed over when it stopped).")
FENCED_WRITES = Counter("ivmweb_engine_fenced_writes_refused",
                        "Writes of a driver refused because its fencing token was no longer the migration's.")
PUSH_DELAY = Histogram("ivmweb_live_push_delay_seconds",
                       "From a migration event's creation (just before its commit) to its push being written to a "
                       "browser's websocket.", buckets=_PUSH_BUCKETS)
WEBSOCKETS = Gauge("ivmweb_live_websocket_clients", "Open live websockets (signed-in browsers' pages).",
                   multiprocess_mode="livesum")
SSH_SECONDS = Histogram("ivmweb_ivm_command_duration_seconds",
                        "Wall time of one IVM command over SSH (retries included), by IVM address and command name.",
                        ["ivm", "command"], buckets=_SSH_BUCKETS)
SSH_FAILURES = Counter("ivmweb_ivm_command_failures",
                       "IVM commands that did not end with exit 0: failed (non-zero exit), timeout, abandoned or "
                       "connection.", ["ivm", "command", "outcome"])
SYNC_SECONDS = Histogram("ivmweb_inventory_sync_duration_seconds",
                         "Duration of one IVM's inventory sync, by console name and result.",
                         ["ivm", "outcome"], buckets=_SYNC_BUCKETS)
CHECKPOINTS_WRITTEN = Counter("ivmweb_audit_checkpoints_written",
                              "Signed audit checkpoints this process appended to the checkpoint file.")


def step_changed(step, mode: str) -> None:
    """A step row that just ended (done, failed, skipped): its duration. Anything else is ignored."""
    if step.finished_at is not None and step.started_at is not None and step.status in ("done", "failed", "skipped"):
        STEP_SECONDS.labels(step.key, mode, step.status).observe(
            max(0.0, (step.finished_at - step.started_at).total_seconds()))


def transfer_rate(mode: str, bytes_per_s: float | None) -> None:
    if bytes_per_s is not None and bytes_per_s > 0:
        TRANSFER_RATE.labels(mode).observe(bytes_per_s)


def suspend_window(seconds: float | None) -> None:
    if seconds is not None:
        SUSPEND_WINDOW.observe(seconds)


def lease_takeover() -> None:
    LEASE_TAKEOVERS.inc()


def fenced_write_refused() -> None:
    FENCED_WRITES.inc()


def push_delivered(message: dict, now: float) -> None:
    """A ``live.push`` just written to a socket; ``message["at"]`` is its event's creation time (epoch seconds)."""
    at = message.get("at")
    if isinstance(at, int | float):
        PUSH_DELAY.observe(max(0.0, now - at))


def websocket_opened() -> None:
    WEBSOCKETS.inc()


def websocket_closed() -> None:
    WEBSOCKETS.dec()


def ivm_label(host: str, port: int) -> str:
    return host if port == 22 else f"{host}:{port}"


def command_label(cmd) -> str:
    """``lssyscfg``, ``migrlpar -o m``...: a name from a fixed list, whatever the command's arguments."""
    name = getattr(cmd, "name", "")
    if name not in IVM_COMMANDS:
        return "other"
    argv = list(getattr(cmd, "argv", ()))
    if name in _WITH_OPERATION and "-o" in argv[:-1]:
        op = argv[argv.index("-o") + 1]
        if op in ("m", "v", "s", "r", "on", "shutdown", "osshutdown"):
            return f"{name} -o {op}"
    return name


def ivm_command(host: str, port: int, cmd, outcome: str, seconds: float) -> None:
    """One IVM command's end (``mobility.ivm.client``'s record of it)."""
    ivm, command = ivm_label(host, port), command_label(cmd)
    SSH_SECONDS.labels(ivm, command).observe(seconds)
    if outcome != "ok":
        SSH_FAILURES.labels(ivm, command, outcome).inc()


def sync_finished(result) -> None:
    """An inventory sync's result (``mobility.inventory.SyncResult``); one shared with a sync already running is not
    a sync of its own."""
    if not getattr(result, "shared", False):
        SYNC_SECONDS.labels(result.console.name, "ok" if result.ok else "failed").observe(result.duration_s)


def checkpoint_written(checkpoint) -> None:
    if checkpoint is not None:
        CHECKPOINTS_WRITTEN.inc()
