"""Batches of migrations: a server's evacuation, partitions picked together, or the move back of an evacuation.

One more door into the same lifecycle and policy: every member is an ordinary migration, planned with
``mobility.plans`` (validated by IVM in a worker's job), approved with ``mobility.governance.approvals`` (four eyes
from ``mobility.policy``) and run by the engine, which starts members only as the batch allows
(``mobility.engine.admission``). The batch's own status moves are the lifecycle's ``BATCH_MOVES``.

- ``planning``: build a batch (placement in ``mobility.planning.batch``), one validation job per member, settle it;
- ``approval``: the one approval (hash, window, parallelism), rejection, edits that void it;
- ``control``: pause, resume, stop, withdraw;
- ``supervise``: what the engine's workers do for running batches (window, first failure, the end);
- ``figures``: totals, ETA and what stayed, for the pages.
"""


class BatchRefused(Exception):
    """A batch request that changes nothing; the message says why, for the person who asked."""
