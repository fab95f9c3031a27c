"""The migration engine: start, step, complete, fail, stop and recover (ivm-cli.md §1, §4.2, §7).

Source side: ``Migrating - Running`` / ``Migrating - Not Activated`` while it runs, migration_state going
Migration Starting -> Migration In Progress -> Suspended (active, final round) -> Migration Complete, then
the partition disappears. Destination side: a shell partition with the same migration, which becomes
the partition itself on completion (same id if free, new server slots, regenerated vtscsiN names).
All functions run under the world lock.
"""

from __future__ import annotations

import copy
import math
import uuid

from ivmsim import model as m
from ivmsim import reference as ref
from ivmsim import transfer

BANDWIDTH_JITTER = 0.03  # +-3 % per tick, from the seeded RNG, so concurrent transfers do not run in lockstep


def start(world, plan) -> m.Migration:
    """Begin a validated migration: the source partition starts migrating, a shell appears on the destination."""
    lpar, src, dst = plan.lpar, plan.source, plan.target
    active = plan.migration_type == "active"
    mig = m.Migration(id=uuid.uuid4().hex[:12], lpar_name=lpar.name, migration_type=plan.migration_type,
                      source_ivm=src.ivm, dest_ivm=dst.ivm, source_lpar_id=lpar.lpar_id,
                      dest_lpar_id=plan.dest_lpar_id, original_state=lpar.state,
                      phase_started=world.sim_time, started=world.sim_time)
    migrating_state = ref.MIGRATING_RUNNING if active else ref.MIGRATING_NOT_ACTIVATED
    shell = _shell(plan, mig.id, migrating_state)
    lpar.state, lpar.migration_id = migrating_state, mig.id
    dst.partitions.append(shell)
    world.migrations[mig.id] = mig
    if active:
        w = lpar.workload
        world.transfers[mig.id] = transfer.PreCopy(
            lpar.memory_mb, transfer.Workload(touched_mb=w.touched_mb, dirty_mb_s=w.dirty_mb_s,
                                              working_set_mb=w.working_set_mb),
            downtime_target_s=src.downtime_target_s)
        mig.bytes_remaining = world.transfers[mig.id].bytes_remaining
    _enter(world, mig, "starting")
    return mig


def _shell(plan, migration_id: str, state: str) -> m.Partition:
    """The destination's copy: new server adapters (slots from the plan), vtscsiN regenerated, custom VTDs kept."""
    dst = plan.target
    shell = copy.deepcopy(plan.lpar)
    shell.lpar_id, shell.state, shell.migration_id = plan.dest_lpar_id, state, migration_id
    shell.rmc_state = "inactive"
    shell.scsi, shell.fc = [], []
    dst.partitions.append(shell)  # temporarily, so device numbering sees the new names as they are made
    try:
        for a in plan.lpar.scsi:
            new = m.ScsiAdapter(slot=a.slot, server_slot=plan.scsi_slots[a.slot],
                                vhost=f"vhost{dst.next_device_index('vhost')}")
            shell.scsi.append(new)
            for vtd in a.vtds:
                backing = _dest_disk(plan.source, dst, vtd.backing)
                name = vtd.name if vtd.custom else f"vtscsi{dst.next_device_index('vtscsi')}"
                new.vtds.append(m.Vtd(name=name, backing=backing, custom=vtd.custom))
        for a in plan.lpar.fc:
            slot, port = plan.fc_slots[a.slot]
            shell.fc.append(m.FcAdapter(slot=a.slot, port=port, wwpns=list(a.wwpns), server_slot=slot,
                                        vfchost=f"vfchost{dst.next_device_index('vfchost')}"))
    finally:
        dst.partitions.remove(shell)
    return shell


def _dest_disk(src: m.System, dst: m.System, device: str) -> str:
    """The destination hdisk with the same unique_id (same SAN LUN, maybe another hdisk number)."""
    disk = src.vios.hdisk(device)
    match = next((d for d in dst.vios.hdisks if disk and d.unique_id == disk.unique_id), None)
    return match.name if match else device


def _enter(world, mig: m.Migration, phase: str) -> None:
    mig.phase, mig.phase_started = phase, world.sim_time
    mig.migration_state = {"starting": ref.MIGRATION_STARTING, "precopy": ref.MIGRATION_IN_PROGRESS,
                           "transfer": ref.MIGRATION_IN_PROGRESS, "suspended": ref.SUSPENDED,
                           "completing": ref.MIGRATION_IN_PROGRESS}[phase]
    actions = world.faults.on_phase((mig.source_ivm, mig.dest_ivm), mig.lpar_name, phase)
    for ivm in actions["drop"]:
        world.drop_connections(ivm)
    if "fail" in actions:
        fail(world, mig, actions["fail"])


def tick(world, dt: float) -> bool:
    """Advance every migration by ``dt`` simulated seconds. Returns True when something structural changed."""
    changed = False
    pairs: dict[tuple[str, str], list[m.Migration]] = {}
    for mig in list(world.migrations.values()):
        if world.faults.holds((mig.source_ivm, mig.dest_ivm), mig.lpar_name, mig.phase):
            continue
        elapsed = world.sim_time - mig.phase_started
        if mig.phase == "starting" and elapsed >= ref.STARTING_S:
            _enter(world, mig, "precopy" if mig.migration_type == "active" else "transfer")
            changed = True
        elif mig.phase == "transfer":
            # the definition travels over the same IVM-to-IVM network: a slow or stalled link delays it too
            mig.transfer_s += dt * min(1.0, world.faults.link_factor(mig.source_ivm, mig.dest_ivm))
            mig.remaining_time = max(0, math.ceil(ref.INACTIVE_TRANSFER_S - mig.transfer_s))
            if mig.transfer_s >= ref.INACTIVE_TRANSFER_S:
                changed |= _arrive(world, mig)
        elif mig.phase in ("precopy", "suspended"):
            pairs.setdefault((mig.source_ivm, mig.dest_ivm), []).append(mig)
        elif mig.phase == "complete" and elapsed >= ref.COMPLETE_LINGER_S:
            finish(world, mig)
            changed = True
    for (src, dst), migs in pairs.items():
        link = min(world.systems[src].msp_bandwidth_mb_s, world.systems[dst].msp_bandwidth_mb_s)
        share = transfer.share_bandwidth(link * world.faults.link_factor(src, dst), len(migs))
        for mig in migs:
            pc = world.transfers[mig.id]
            jitter = 1.0 + world.rng.uniform(-BANDWIDTH_JITTER, BANDWIDTH_JITTER)
            pc.advance(dt, share * jitter)
            mig.bytes_transmitted, mig.bytes_remaining = pc.bytes_transmitted, pc.bytes_remaining
            rate = share if share > 0 else 0
            # remaining_time forecasts every round still to come, not only this pass's bytes_remaining.
            left = pc.projected_remaining_bytes
            mig.remaining_time = math.ceil(left / (rate * transfer.BYTES_PER_MB)) if rate else 0
            if pc.phase == transfer.PHASE_SUSPENDED and mig.phase == "precopy":
                _enter(world, mig, "suspended")
                changed = True
            if pc.phase == transfer.PHASE_DONE and mig.phase in ("precopy", "suspended"):
                mig.suspend_window_s = pc.suspend_window_s
                changed |= _arrive(world, mig)
    return changed


def _arrive(world, mig: m.Migration) -> bool:
    """The partition runs (or sits, inactive) on the destination; the source shows Migration Complete."""
    _enter(world, mig, "completing")
    if mig.phase == "failed":
        return True
    dst = world.systems[mig.dest_ivm]
    src_lpar = world.systems[mig.source_ivm].lpar(mig.lpar_name)
    shell = dst.lpar(mig.lpar_name)
    if mig.migration_type == "active":
        shell.state, shell.rmc_state = ref.RUNNING, src_lpar.rmc_when_running
    else:
        shell.state = ref.NOT_ACTIVATED
    shell.migration_id = None
    mig.phase, mig.phase_started, mig.migration_state = "complete", world.sim_time, ref.MIGRATION_COMPLETE
    mig.bytes_remaining, mig.remaining_time = 0, 0
    world.transfers.pop(mig.id, None)
    world.outcomes[mig.id] = "complete"
    return True


def finish(world, mig: m.Migration) -> None:
    """Step 9: the source reclaims everything; the partition definition disappears from the source."""
    src = world.systems[mig.source_ivm]
    src.partitions = [p for p in src.partitions if p.migration_id != mig.id]
    world.migrations.pop(mig.id, None)


def fail(world, mig: m.Migration, reason: str) -> None:
    """Leave both sides in Migration Failed until ``migrlpar -o r``."""
    mig.phase, mig.phase_started, mig.migration_state, mig.reason = "failed", world.sim_time, ref.MIGRATION_FAILED, reason
    world.transfers.pop(mig.id, None)


def rollback(world, mig: m.Migration, outcome: str) -> None:
    """Stop or recover: the partition is back on the source as it was; the destination shell is removed."""
    src, dst = world.systems[mig.source_ivm], world.systems[mig.dest_ivm]
    dst.partitions = [p for p in dst.partitions if p.migration_id != mig.id]
    lpar = src.lpar(mig.lpar_name)
    if lpar is not None and lpar.migration_id == mig.id:
        lpar.state, lpar.migration_id = mig.original_state, None
    world.transfers.pop(mig.id, None)
    world.migrations.pop(mig.id, None)
    world.outcomes[mig.id] = outcome
