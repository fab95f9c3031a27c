"""``manage.py run_engine``: the migration engine's worker process.

Starts the poll loop at boot (claims due migrations every ``--poll`` seconds) and serves the worker channel
like ``runworker ivmweb-engine`` does, so wake-ups from the web process are answered at once.
``--lease``/``--poll``/``--worker-id`` override the settings (tests use a short lease); ``--jobs-only`` runs the
pages' IVM jobs (tests, scans, syncs, validations) and no migration.
"""

import faulthandler
import logging
import signal
import sys
import threading
import time

from channels.management.commands.runworker import Command as RunWorker
from django.conf import settings

from mobility.engine.config import CONFIG
from mobility.engine.worker import process_engine
from mobility.observability.serve import serve

logger = logging.getLogger("mobility.engine")


class Command(RunWorker):
    help = "Run the migration engine: poll loop plus the ivmweb-engine worker channel."

    def add_arguments(self, parser):
        parser.add_argument("--layer", default="default", help="Channel layer alias.")
        parser.add_argument("--lease", type=float, help="Lease length in seconds.")
        parser.add_argument("--poll", type=float, help="Poll interval in seconds.")
        parser.add_argument("--worker-id", help="Name this worker writes into Migration.claimed_by.")
        parser.add_argument("--jobs-only", action="store_true",
                            help="Run IVM jobs asked from pages only: no migration, no housekeeping.")
        parser.add_argument("--metrics", metavar="ADDR:PORT",
                            help="Serve this host's metrics on /metrics there (hosts without a web process).")

    def handle(self, *args, **options):
        # Dozens of driver threads share one GIL; a thread back from PostgreSQL or the IVM waits for it up to the
        # switch interval per hand-over. 1 ms instead of 5 ms lets a committed change reach its push sooner.
        sys.setswitchinterval(0.001)
        # `kill -USR1 <pid>`: every thread's stack to stderr (the log), for a worker that hangs, and it goes on.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        if options.get("lease"):
            CONFIG.lease_s = options["lease"]
        if options.get("poll"):
            CONFIG.poll_s = options["poll"]
        if options.get("jobs_only"):
            CONFIG.migrations = False
        engine = process_engine(worker_id=options.get("worker_id"), cfg=CONFIG)
        if options.get("metrics"):

            serve(options["metrics"])

        def terminate(signum, frame):
            # The handler runs in the main thread, usually inside the channel listener's event loop, where Django
            # refuses the ORM (engine.stop deletes the heartbeat row): stop from a thread of its own.
            # Bounded: a SIGTERM during start-up (Django's setup inside the listener) lands while the main thread holds
            # logging's lock, which the stopper's first log line waits for; exiting unwinds the main thread, frees the
            # lock, and the stopper (not a daemon) finishes the hand-over before the process ends.
            stopper = threading.Thread(target=engine.stop, kwargs={"timeout": 5}, name="engine-stop")
            stopper.start()
            stopper.join(10)
            sys.exit(0)

        signal.signal(signal.SIGTERM, terminate)
        self.stdout.write(f"engine {engine.worker_id} started; serving channel {settings.IVMWEB_WORKER_CHANNEL}")
        self.stdout.flush()
        # The channel only carries wake-ups: if the layer fails (Redis restarted, a read timed out), the poll loop
        # goes on by itself and the listener is started again.
        while not engine.stopping.is_set():
            try:
                super().handle(*args, channels=[settings.IVMWEB_WORKER_CHANNEL], **options)
            except Exception as exc:  # noqa: BLE001
                logger.warning("worker channel listener stopped (%s); restarting in 1 s", exc)
                time.sleep(1)
