"""What the engine's workers do for batches on every poll: open a batch when its window opens, end the members its
window left unstarted, stop a batch at its first failure when it says so, and end it once every member has ended.
Every change is a conditional move (lifecycle), so any number of workers may do this at once: one of them wins."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mobility.batches.approval import void
from mobility.batches.figures import totals
from mobility.batches.hashing import batch_hash
from mobility.batches.planning import settle_stragglers
from mobility.choices import MigrationStatus
from mobility.lifecycle import TransitionRefused
from mobility.lifecycle.writer import transition, transition_batch
from mobility.models import Batch, BatchStatus

logger = logging.getLogger("mobility.engine")
LIVE = (BatchStatus.APPROVED, BatchStatus.RUNNING, BatchStatus.PAUSED, BatchStatus.STOPPING)
WAITING = (MigrationStatus.APPROVED, MigrationStatus.QUEUED)


def tick(now=None) -> int:
    """One pass over the batches that are live; returns how many moves were made."""

    settle_stragglers()
    now = now or timezone.now()
    made = 0
    for batch in Batch.objects.filter(status__in=LIVE):
        try:
            made += _tick(batch, now)
        except TransitionRefused:
            continue  # another worker made the move first
    return made


def _tick(batch: Batch, now) -> int:
    made = 0
    if batch.status == BatchStatus.APPROVED and (batch.not_before is None or batch.not_before <= now):

        if batch_hash(batch) != batch.content_hash:  # a member withdrawn or changed on its own since the vote
            void(batch, None, "a member changed since the approval")
            return made + 1
        transition_batch(batch, "open", started_at=now, outcome="The window is open: members start as slots free.")
        made += 1
    rows = batch.migrations.exclude(status=MigrationStatus.CANCELLED)
    if batch.not_after is not None and batch.not_after <= now:
        for m in rows.filter(status__in=WAITING, start_intent_at__isnull=True):
            try:
                transition(m, "window_closed", claimed_by="", lease_until=None,
                           outcome=f"Not started: the window of batch #{batch.pk} closed at "
                                   f"{batch.not_after:%Y-%m-%d %H:%M} UTC.")
                made += 1
            except TransitionRefused:
                continue  # it started meanwhile
    if (batch.stop_at_first_failure and batch.status in (BatchStatus.RUNNING, BatchStatus.PAUSED)
            and rows.filter(status=MigrationStatus.FAILED).exists()):
        failed = rows.filter(status=MigrationStatus.FAILED).select_related("partition").first()
        with transaction.atomic():
            transition_batch(batch, "halt", outcome=f"Stopped at the first failure ({failed.partition.name}).")
            for m in rows.filter(status__in=WAITING):
                try:
                    transition(m, "batch_halted", claimed_by="", lease_until=None,
                               outcome=f"Not started: batch #{batch.pk} stopped at the first failure.")
                except TransitionRefused:
                    continue
        made += 1
    if batch.status == BatchStatus.STOPPING:
        for m in rows.filter(status__in=WAITING, start_intent_at__isnull=True):
            try:
                transition(m, "batch_halted", claimed_by="", lease_until=None,
                           outcome=f"Not started: batch #{batch.pk} was stopped.")
            except TransitionRefused:
                continue
    if batch.status in (BatchStatus.RUNNING, BatchStatus.PAUSED, BatchStatus.STOPPING) and rows.exists() \
            and not rows.filter(~Q(status__in=[s.value for s in MigrationStatus.terminal()])).exists():
        transition_batch(batch, "stopped" if batch.status == BatchStatus.STOPPING else "finish",
                         outcome=summary(batch))
        made += 1
    return made


def summary(batch: Batch) -> str:

    t = totals(batch)
    text = (f"{t['moved']} moved, {t['failed']} failed, {t['not_started']} not started"
            + (f", {t['stayed']} stayed (not in the batch)" if t["stayed"] else "") + ".")
    return text
