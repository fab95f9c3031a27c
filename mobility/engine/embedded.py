"""The engine inside the web process: ``make run``'s default (SQLite and the in-memory channel layer).

Why here: the in-memory layer lives in one process's memory, so a worker in a process of its own pushed into a layer
that no socket reads, and pages were repaired only by their database watch (seconds late). The engine's threads in
daphne's process share its layer; the Redis topology (web processes and ``run_engine`` workers apart, one layer
across them) is unchanged, and ``IVMWEB_ENGINE_IN_WEB`` is refused with Redis. Chosen over a faster database watch
(every page would poll the database ten times a second to learn what the engine already knows) and over a second
transport between two processes (a socket, a port and its security for the demo alone). What makes it sound:

* pushes: the layer's queues are asyncio objects of daphne's event loop, which are not thread-safe. The ASGI
  application below names that loop to ``publish``, which hands every push from an engine or request thread to it
  (``asyncio.run_coroutine_threadsafe``, in call order); nothing else crosses threads;
* wake-ups: a page's IVM job, or a stop, wakes this engine object directly (``publish.wake_workers``);
* stopping: on SIGINT or SIGTERM daphne stops its reactor and returns; the interpreter then runs ``atexit`` handlers
  before it drops daemon threads. ``engine.stop`` there lets each driver hand its migration over (its lease
  released) as a SIGTERM'd worker does; further signals are ignored for those few seconds so that the second signal
  of a Ctrl-C (the terminal's, then ``run-demo``'s) does not cut the hand-over short.
* the database: SQLite serialises writers across threads as it did across the two processes (busy timeout).
"""

import asyncio
import atexit
import logging
import signal
import sys
import time

from mobility.engine.config import CONFIG
from mobility.engine.worker import process_engine
from mobility.live import publish

logger = logging.getLogger("mobility.engine")
STOP_TIMEOUT_S = 5.0  # per thread, as ``run_engine`` waits on SIGTERM


class _PushesServedHere:
    """The ASGI application, naming its event loop as the one that serves this process's sockets."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        publish.serve_pushes_on(asyncio.get_running_loop())
        return await self.application(scope, receive, send)


def start(application):
    """Start this process's engine; return ``application`` wrapped so that the engine's pushes reach its sockets."""
    # As in ``run_engine``: a thread back from SQLite or the IVM waits less for the GIL before its push goes out.
    sys.setswitchinterval(0.001)
    engine = process_engine(cfg=CONFIG)
    publish.engine_in_this_process(engine)
    atexit.register(_stop, engine)
    logger.info("engine %s runs in the web process (in-memory channel layer)", engine.worker_id)
    return _PushesServedHere(application)


def _stop(engine) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    logger.info("stopping the engine: handing its migrations over")
    started = time.monotonic()
    engine.stop(timeout=STOP_TIMEOUT_S)
    logger.info("engine stopped in %.1f s", time.monotonic() - started)
