"""``/metrics``: what the database holds, read at scrape time, next to what the processes counted (``metrics``).

Read at scrape time (a collector, a handful of aggregate queries): migrations by status and mode, the queue per IVM,
migrations being driven without a live lease, the engine workers' heartbeats, the last audit checkpoint. Every web
process answers the same figures (aggregate them with ``max`` across instances, not ``sum``).
"""

import hmac
import ipaddress
import os
import re
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from mobility.choices import MigrationStatus
from mobility.governance import checkpoints
from mobility.models import Migration, WorkerHeartbeat


class DatabaseCollector:
    """Gauges computed from PostgreSQL when scraped."""
    def collect(self):
        now = timezone.now()
        by_status = GaugeMetricFamily("ivmweb_migrations", "Migrations by status and mode (from the database).",
                                      labels=["status", "mode"])
        counts = {(s, m): n for s, m, n in Migration.objects.values_list("status", "mode").annotate(n=Count("pk"))
                  .values_list("status", "mode", "n")}
        for status in MigrationStatus.values:
            for mode in ("active", "inactive"):
                by_status.add_metric([status, mode], counts.get((status, mode), 0))
        yield by_status

        queue = GaugeMetricFamily("ivmweb_migration_queue_length",
                                  "Approved migrations waiting for a migration slot, by source IVM (console name).",
                                  labels=["ivm"])
        for ivm, n in (Migration.objects.filter(status=MigrationStatus.QUEUED)
                       .values_list("source__console__name").annotate(n=Count("pk"))
                       .values_list("source__console__name", "n")):
            queue.add_metric([ivm or ""], n)
        yield queue

        yield GaugeMetricFamily("ivmweb_migrations_without_live_lease",
                                "Migrations being driven (running, stopping, recovering) whose lease ran out more "
                                "than a lease ago: no worker has taken them over.",
                                value=orphaned(now).count())

        workers = WorkerHeartbeat.objects.filter(beat_at__gte=now - timedelta(days=1))
        alive = [w for w in workers if (now - w.beat_at).total_seconds() <= w.lease_s]
        yield GaugeMetricFamily("ivmweb_engine_workers_alive",
                                "Engine workers whose heartbeat is within their lease.", value=len(alive))
        newest = workers.aggregate(newest=Max("beat_at"))["newest"]
        if newest is not None:
            yield GaugeMetricFamily("ivmweb_engine_heartbeat_age_seconds",
                                    "Age of the newest engine worker heartbeat.",
                                    value=(now - newest).total_seconds())

        yield from _checkpoint_metrics()


def orphaned(now):
    """Migrations being driven whose lease expired more than one lease ago (or that nobody holds)."""
    stale = now - timedelta(seconds=settings.IVMWEB_ENGINE_LEASE_S)
    return Migration.objects.filter(status__in=MigrationStatus.active()).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=stale))


def _checkpoint_metrics():
    """The last signed checkpoint of the audit trail, when this host can read the checkpoint file."""
    try:
        last = checkpoints.last_checkpoint()
    except (OSError, ValueError):
        last = None
        readable = 0
    else:
        readable = 1
    yield GaugeMetricFamily("ivmweb_audit_checkpoint_file_readable",
                            "1 when this process can read the audit checkpoint file's last line as a checkpoint.",
                            value=readable)
    if last is None:
        return
    yield GaugeMetricFamily("ivmweb_audit_checkpoint_last_number", "Number of the last audit checkpoint.",
                            value=last.seq)
    yield GaugeMetricFamily("ivmweb_audit_checkpoint_chain_length",
                            "Sealed audit events covered by the last checkpoint.", value=last.length)
    yield GaugeMetricFamily("ivmweb_audit_checkpoint_last_timestamp_seconds",
                            "When the last audit checkpoint was written (Unix time).",
                            value=last.written_at.timestamp())
    yield GaugeMetricFamily("ivmweb_audit_checkpoint_last_signature_ok",
                            "1 when the last checkpoint's signature checks out with this host's key.",
                            value=1 if last.signature_ok() else 0)


_database = DatabaseCollector()


class _Both:
    def __init__(self, processes):
        self.processes = processes

    def collect(self):
        yield from self.processes.collect()
        yield from _database.collect()


def _forget_dead_processes(directory: str) -> None:
    """The websocket gauge is a sum over live processes: drop the files of processes that are gone (a restarted or
    killed daphne), as prometheus_client's ``mark_process_dead`` does, at each scrape."""
    for name in os.listdir(directory):
        match = re.fullmatch(r"gauge_live\w*?_(\d+)\.db", name)
        if match and not _running(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), directory)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exposition() -> bytes:
    """The text format: this host's ivmweb processes (multiprocess mode) or else this process, and the database."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        _forget_dead_processes(directory)
        processes = CollectorRegistry()
        MultiProcessCollector(processes, path=directory)
    else:
        processes = PROCESS_REGISTRY
    return generate_latest(_Both(processes))


def refusal(remote_addr: str, authorization: str) -> tuple[int, str] | None:
    """Why this client may not read the metrics (status, text), or None: its address must be in
    ``IVMWEB_METRICS_ALLOWED_NETS`` and, when ``IVMWEB_METRICS_TOKEN`` is set, it must send that token as a bearer."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        address = None
    if address is None or not any(address in net for net in settings.IVMWEB_METRICS_ALLOWED_NETS):
        return 403, "metrics are not served to this address"
    token = settings.IVMWEB_METRICS_TOKEN
    if token and not hmac.compare_digest((authorization or "").encode(), f"Bearer {token}".encode()):
        return 401, "send the metrics token (Authorization: Bearer ...)"
    return None
