"""Engine tunables: ``getattr(settings, "IVMWEB_ENGINE_...", default)``; ``run_engine`` may override them."""

from dataclasses import dataclass

from django.conf import settings


@dataclass
class EngineConfig:
    lease_s: float = 30.0  # a worker that stops renewing for this long loses the migration to another worker
    poll_s: float = 1.0  # how often a worker looks for due work, and how often a transfer is polled
    stuck_s: float = 300.0  # no progress for this long: the migration is flagged "stuck"
    timeout_s_per_gib: float = 900.0  # overall run time allowed per GiB of partition memory...
    timeout_min_s: float = 900.0  # ...but never less than this
    timeout_policy: str = "stop"  # on overall timeout: "stop" (migrlpar -o s, then -o r if needed) or "flag"
    shutdown_timeout_s: float = 120.0  # step 2: osshutdown, then shutdown --immed after this long
    threads: int = 16  # migrations driven at the same time by one worker process
    # Their pieces of work (steps, polls) running at once: the rest wait their turn between pieces. One GIL runs one
    # thread's Python at a time, so 30 busy threads only took turns; the push a piece sends right after its commit
    # waited behind all of them (seconds when 50 migrations started or finished at once).
    busy: int = 2
    # The CPU priority of a migration's work (``os.nice`` increment in each driver and housekeeping thread): below the
    # web processes', whose pushes browsers wait for, and below the IVM jobs of this worker, for which a person waits
    # on a page, while a migration's work is measured in seconds. On Linux a thread's niceness is its own; elsewhere
    # the first driver lowers the whole process, as a service manager's Nice= does. 0 leaves it.
    nice: int = 10
    job_threads: int = 8  # IVM jobs asked from pages (tests, syncs, validations) run at the same time
    migrations: bool = True  # False: a worker for IVM jobs only (``run_engine --jobs-only``)
    batch_sync_age_s: float = 15.0  # step 1 of a batch's member accepts an inventory sync begun this long before


def load() -> EngineConfig:
    return EngineConfig(
        lease_s=float(getattr(settings, "IVMWEB_ENGINE_LEASE_S", 30.0)),
        poll_s=float(getattr(settings, "IVMWEB_ENGINE_POLL_S", 1.0)),
        stuck_s=float(getattr(settings, "IVMWEB_ENGINE_STUCK_S", 300.0)),
        timeout_s_per_gib=float(getattr(settings, "IVMWEB_ENGINE_TIMEOUT_S_PER_GIB", 900.0)),
        timeout_min_s=float(getattr(settings, "IVMWEB_ENGINE_TIMEOUT_MIN_S", 900.0)),
        timeout_policy=str(getattr(settings, "IVMWEB_ENGINE_TIMEOUT_POLICY", "stop")),
        shutdown_timeout_s=float(getattr(settings, "IVMWEB_ENGINE_SHUTDOWN_TIMEOUT_S", 120.0)),
        threads=int(getattr(settings, "IVMWEB_ENGINE_THREADS", 16)),
        busy=int(getattr(settings, "IVMWEB_ENGINE_BUSY", 2)),
        nice=int(getattr(settings, "IVMWEB_ENGINE_NICE", 10)),
        job_threads=int(getattr(settings, "IVMWEB_ENGINE_JOB_THREADS", 8)),
        batch_sync_age_s=float(getattr(settings, "IVMWEB_ENGINE_BATCH_SYNC_AGE_S", 15.0)),
    )


CONFIG = load()
