"""The migration engine: durable, lease-based orchestration of the 11 steps in a Channels worker.

Layout:
  * ``config``   — tunables read from settings (``IVMWEB_ENGINE_*``), overridable by ``run_engine`` options;
  * ``claim``    — who drives a migration: conditional UPDATEs on ``claimed_by``/``lease_until``;
  * ``events``   — the sequenced event stream (``MigrationEvent``) and step bookkeeping, pushed on commit;
  * ``ivmside``  — the IVM questions and commands the steps need (through ``mobility.inventory.connections``);
  * ``admission``— the per-IVM active/inactive limits and the queue;
  * ``steps``    — one function per step; each does one bounded piece of work and returns;
  * ``driver``   — the loop that drives one claimed migration, with its heartbeat;
  * ``worker``   — the poll loop and thread pool of one worker process, and its channel consumer;
  * ``control``  — what people ask for (stop, recover, tick a follow-up task), used by the views.

The database is the truth. Channel messages only wake the poll loop earlier than its next tick.
"""
