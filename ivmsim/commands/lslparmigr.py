"""``lslparmigr -r sys|lpar|virtualio|msp|procpool|mempool`` (ivm-cli.md §4.2)."""

from __future__ import annotations

from ivmsim import args, records, validation
from ivmsim import reference as ref
from ivmsim.commands import Ctx, check_managed_system, target
from ivmsim.commands.lssyscfg import parse_common
from ivmsim.errors import CommandError, MultiError, Result, migration_error
from ivmsim.formatting import Record, lpar_filter, parse_filter, parse_selection, render

SPEC = {"-r": "value", "-m": "value", "-t": "value", "--ip": "value", "-u": "value", "--filter": "any",
        "-F": "fields", "--header": "flag", "--redundantpgvios": "value"}


def run(ctx: Ctx, argv: list[str]) -> Result:
    cmd = "lslparmigr"
    opts = parse_common(cmd, argv, SPEC)
    args.require(cmd, opts, "-r")
    resource = args.choice(cmd, opts, "-r", ("sys", "lpar", "virtualio", "msp", "procpool", "mempool"))
    args.choice(cmd, opts, "--redundantpgvios", ("0", "1", "2"))
    check_managed_system(ctx, opts)
    s, world, header = ctx.system, ctx.world, opts.get("--header", False)
    if resource == "sys":
        if "--filter" in opts:
            raise CommandError(ref.E_USAGE, f"{cmd}: --filter is not valid with -r sys.")
        return Result(stdout=render([records.migration_sys_record(world, s)],
                                    parse_selection(opts["-F"], header, ref.MIGR_SYS_ATTRS)))
    filters = parse_filter(opts.get("--filter"), ("lpar_names", "lpar_ids"))
    if resource == "lpar":
        parts = lpar_filter(s.all_partitions(), filters)
        sel = parse_selection(opts["-F"], header, ref.MIGR_LPAR_ATTRS)
        return Result(stdout=render([records.migration_lpar_record(world, s, p) for p in parts], sel),
                      stderr="".join(_failure_message(world, p) for p in parts))

    # the rest describe a prospective move to -t at --ip
    args.require(cmd, opts, "-t", "--ip")
    dest = target.resolve(ctx, opts, need_trust=False)
    if resource == "procpool":
        sel = parse_selection(opts["-F"], header, ("shared_proc_pool_ids", "shared_proc_pool_names"))
        return Result(stdout=render([[("shared_proc_pool_ids", "0"), ("shared_proc_pool_names", "DefaultPool")]],
                                    sel))
    if resource == "mempool":
        sel = parse_selection(opts["-F"], header, ("dest_paging_vios_names", "dest_paging_vios_ids"))
        return Result(stdout=render([], sel))  # no Active Memory Sharing pools are modelled
    parts = lpar_filter(s.partitions, filters)
    if not filters or len(parts) != 1:
        raise CommandError(ref.E_USAGE, f"{cmd}: -r {resource} needs a --filter naming exactly one partition.")
    lpar = parts[0]
    if resource == "msp":
        sel = parse_selection(opts["-F"], header, ref.MIGR_MSP_ATTRS)
        rec: Record = [("source_msp_name", s.vios.name), ("source_msp_id", str(ref.MANAGEMENT_LPAR_ID)),
                       ("dest_msp_names", dest.vios.name), ("dest_msp_ids", str(ref.MANAGEMENT_LPAR_ID)),
                       ("ipaddr_mappings", f"{s.address}//{ref.MANAGEMENT_LPAR_ID}/{dest.vios.name}/{dest.address}")]
        return Result(stdout=render([rec], sel))
    sel = parse_selection(opts["-F"], header, ref.MIGR_VIRTUALIO_ATTRS)
    return Result(stdout=render([_virtualio(world, s, lpar, dest)], sel))


def _failure_message(world, p) -> str:
    """A move that failed after ``migrlpar -o m --async`` returned: the message the synchronous form would have
    printed (its code included), on stderr beside the listing, exit 0, until ``migrlpar -o r`` ends the migration."""
    mig = world.migrations.get(p.migration_id) if p.migration_id else None
    if mig is None or mig.phase != "failed":
        return ""
    error = migration_error("failed", lpar=p.name, reason=mig.reason or "unknown")
    return f"[{error.code}] {error.text}\n"


def _virtualio(world, s, lpar, dest) -> Record:
    """Step 4: the possible and suggested destination mappings of each client vSCSI/vFC adapter."""
    try:
        plan = validation.check(world, s, lpar, dest, {}, check_limits=False)
        scsi_slots, fc_slots = plan.scsi_slots, plan.fc_slots
    except MultiError:
        # mappings can still be suggested when other checks fail; slots come from the free list
        free = dest.free_vios_slots()
        scsi_slots = {a.slot: (free.pop(0) if free else 0) for a in lpar.scsi}
        fc_slots = {a.slot: ((free.pop(0) if free else 0), a.port) for a in lpar.fc}
    vios, vid = dest.vios.name, ref.MANAGEMENT_LPAR_ID
    possible_scsi = [f"{a.slot}/{vios}/{vid}" for a in lpar.scsi]
    suggested_scsi = [f"{a.slot}/{vios}/{vid}/{scsi_slots[a.slot]}" for a in lpar.scsi]
    possible_fc = [f"{a.slot}/{vios}/{vid}" for a in lpar.fc]
    suggested_fc = [f"{a.slot}/{vios}/{vid}/{fc_slots[a.slot][0]}/{fc_slots[a.slot][1]}" for a in lpar.fc]
    return [("lpar_name", lpar.name), ("lpar_id", str(lpar.lpar_id)),
            ("possible_virtual_scsi_mappings", ",".join(possible_scsi) or "none"),
            ("suggested_virtual_scsi_mappings", ",".join(suggested_scsi) or "none"),
            ("possible_virtual_fc_mappings", ",".join(possible_fc) or "none"),
            ("suggested_virtual_fc_mappings", ",".join(suggested_fc) or "none")]
