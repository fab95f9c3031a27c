"""The reads of an inventory sync over SSH: which commands, and how they are sent (no parsing, no database).

The independent listings go in two batched shell lines run concurrently on the pooled client
(``IVMClient.run_batch``); the per-device reads (``lsdev -dev X -attr``), which need the device lists, are batched
the same way. Every read is retry-safe: a connection dropped mid-sync is reconnected and the batch re-run by
``IVMClient``.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connections

from mobility.inventory.errors import SyncFailed
from mobility.inventory.records import MANAGEMENT_LPAR_ID
from mobility.ivm import Command, InvalidValue, commands
from mobility.ivm import values as ivm_values

SYS_FIELDS = ("name", "type_model", "serial_num", "state", "capabilities", "lpar_proc_compat_modes")
MEM_SYS_FIELDS = ("configurable_sys_mem", "curr_avail_sys_mem", "installed_sys_mem", "mem_region_size")
PROC_SYS_FIELDS = ("configurable_sys_proc_units", "curr_avail_sys_proc_units", "installed_sys_proc_units")
MIGR_SYS_FIELDS = ("num_active_migrations_supported", "num_active_migrations_in_progress",
                   "num_inactive_migrations_supported", "num_inactive_migrations_in_progress")
LPAR_FIELDS = ("name", "lpar_id", "lpar_env", "state", "rmc_state", "os_version", "dlpar_mem_capable",
               "dlpar_proc_capable", "curr_lpar_proc_compat_mode", "desired_lpar_proc_compat_mode",
               "virtual_eth_mac_base_value")
MEM_LPAR_FIELDS = ("lpar_id", "curr_mem", "pend_mem")
PROC_LPAR_FIELDS = ("lpar_id", "curr_proc_mode", "curr_proc_units", "curr_procs", "pend_proc_units", "pend_procs")
MIGR_LPAR_FIELDS = ("lpar_id", "migration_state")
ETH_FIELDS = ("lpar_id", "slot_num", "is_required", "is_trunk", "port_vlan_id", "addl_vlan_ids", "mac_addr")
SCSI_FIELDS = ("lpar_id", "slot_num", "is_required", "adapter_type", "remote_lpar_id", "remote_lpar_name",
               "remote_slot_num")
FC_FIELDS = SCSI_FIELDS + ("wwpns",)
SLOT_LPAR_FIELDS = ("lpar_id", "curr_max_virtual_slots")
IO_FIELDS = ("drc_name", "description", "lpar_id")


@dataclass(frozen=True)
class Reads:
    """Commands run on one IVM and what each printed on stdout, by the same keys."""

    commands: dict[str, Command]
    stdout: dict[str, str]


def inventory_commands() -> dict[str, Command]:
    """The reads that do not depend on each other (ivm-cli.md §4), by a short key."""
    return {
        "sys": commands.lssyscfg("sys", fields=SYS_FIELDS),
        "mem_sys": commands.lshwres("mem", level="sys", fields=MEM_SYS_FIELDS),
        "proc_sys": commands.lshwres("proc", level="sys", fields=PROC_SYS_FIELDS),
        "migr_sys": commands.lslparmigr("sys", fields=MIGR_SYS_FIELDS),
        "lpar": commands.lssyscfg("lpar", fields=LPAR_FIELDS),
        "mem_lpar": commands.lshwres("mem", level="lpar", fields=MEM_LPAR_FIELDS),
        "proc_lpar": commands.lshwres("proc", level="lpar", fields=PROC_LPAR_FIELDS),
        "migr_lpar": commands.lslparmigr("lpar", fields=MIGR_LPAR_FIELDS),
        "eth": commands.lshwres("virtualio", rsubtype="eth", level="lpar", fields=ETH_FIELDS),
        "scsi": commands.lshwres("virtualio", rsubtype="scsi", level="lpar", fields=SCSI_FIELDS),
        "fc": commands.lshwres("virtualio", rsubtype="fc", level="lpar", fields=FC_FIELDS),
        "slot_lpar": commands.lshwres("virtualio", rsubtype="slot", level="lpar", fields=SLOT_LPAR_FIELDS),
        "slot_vios": commands.lshwres("virtualio", rsubtype="slot", level="slot", lpar_ids=MANAGEMENT_LPAR_ID,
                                      fields=("slot_num", "config")),
        "io": commands.lshwres("io", rsubtype="slot", fields=IO_FIELDS),
        "lsmap": commands.lsmap_all(fields=("svsa", "physloc", "clientid", "vtd", "backing")),
        "npiv": commands.lsmap_all(npiv=True, fields=("name", "physloc", "clntid", "fc")),
        "disks": Command(("ioscli", "lsdev", "-type", "disk"), kind="lsdev_table"),  # constant argv
        "adapters": Command(("ioscli", "lsdev", "-type", "adapter"), kind="lsdev_table"),
        "seas": commands.lsdev_sea(),
        "nports": commands.lsnports(),
    }


def disk_key(name: str) -> str:
    return f"disk:{name}"


def sea_key(name: str) -> str:
    return f"sea:{name}"


def device_commands(disk_names, sea_names) -> dict[str, Command]:
    """Every attribute of each disk in one read (``lsdev -dev hdiskN -attr``), and each SEA's ``pvid``.

    Device names come from the IVM; they are validated before they go back out in a command.
    """
    try:
        reads = {disk_key(name): Command(("ioscli", "lsdev", "-dev", ivm_values.device_name(name), "-attr"))
                 for name in disk_names}
        reads.update({sea_key(name): commands.lsdev_attr(name, "pvid") for name in sea_names})
    except InvalidValue as exc:
        raise SyncFailed(f"the IVM listed a device name that is refused: {exc}") from exc
    return reads


def read_listings(client) -> Reads:
    """Run the independent listings on ``client``."""
    listings = inventory_commands()
    return Reads(listings, run_reads(client, listings))


def read_devices(client, disk_names, sea_names) -> Reads:
    """Run the per-device reads the listings named."""
    reads = device_commands(disk_names, sea_names)
    return Reads(reads, run_reads(client, reads))


def _run_batch(client, group):
    """One group of reads on a thread of its own, which gives back the database connection its command records
    took (outside a sync's in-memory collector, each command is recorded as it ends): a thread that ends holding one
    keeps it out of the process's pool for good."""
    try:
        return client.run_batch(group)
    finally:
        connections.close_all()


def run_reads(client, cmds: dict[str, Command], batches: int = 2) -> dict[str, str]:
    """Run independent read-only commands; stdout by key.

    They go in ``batches`` shell lines (``IVMClient.run_batch``: one exec channel each) run concurrently,
    instead of one channel per command: the SSH round trip per channel is most of what a listing costs.
    """
    if not cmds:
        return {}
    keys = list(cmds)
    groups = [keys[i::batches] for i in range(min(batches, len(keys)))]
    if len(groups) == 1:
        return {key: result.stdout
                for key, result in zip(keys, client.run_batch([cmds[k] for k in keys]), strict=True)}
    # The first group runs on this thread, the others on threads of their own (a thread costs more than a batch's
    # parsing); copy_context: those threads must append to the caller's command collector.
    with ThreadPoolExecutor(max_workers=len(groups) - 1, thread_name_prefix="ivm-read") as pool:
        futures = [pool.submit(contextvars.copy_context().run, _run_batch, client, [cmds[k] for k in group])
                   for group in groups[1:]]
        answers = [client.run_batch([cmds[k] for k in groups[0]]), *(future.result() for future in futures)]
    return {key: result.stdout for group, results in zip(groups, answers, strict=True)
            for key, result in zip(group, results, strict=True)}
