"""IVM jobs: what a page asks of an IVM (test a connection, scan or pin a host key, sync, validate or revise a plan)
runs in the engine's workers, never inside the web request.

The request stores an ``IVMJob`` row (``enqueue``) and answers at once with the job's place on the page; a worker
claims the row under a lease and a fencing token (``queue``), runs it bounded in time (``runner``, the work itself
in ``kinds``) and writes its progress and result to the row; each write pushes ``job.changed`` to the job's group,
whose sockets (``mobility.consumers.JobsConsumer``) render the row for the page. The row is the truth: a lost push
is repaired by the socket's own look at the database.
"""

from mobility.jobs.queue import enqueue

__all__ = ["enqueue"]
