"""The estate that planning reads: servers and partitions as frozen, plain data, no Django.

The inventory sync fills Django models from real IVM output; `mobility.inventory.estate` (outside this package)
turns those rows into these objects. Each field names the IVM command and attribute it comes from (ivm-cli.md §4),
so that a value that looks wrong can be traced back to the command line. Collections are tuples (not lists or
sets) so that a loaded estate is immutable, JSON-ready through `to_dict()` in a stable order, and compares equal when
the inventory has not changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .serialize import JsonData

# IVM's own spellings (ivm-cli.md §4.3, §4.2).
RUNNING = "Running"
NOT_ACTIVATED = "Not Activated"
NOT_MIGRATING = "Not Migrating"
NO_RESERVE = "no_reserve"
VIOSERVER = "vioserver"

# Backing-device kinds of a virtual SCSI target device (lsmap).
HDISK, LOGICAL_VOLUME, FILE_BACKED, VIRTUAL_OPTICAL = "hdisk", "lv", "file", "vopt"
BACKING_KINDS = (HDISK, LOGICAL_VOLUME, FILE_BACKED, VIRTUAL_OPTICAL)

# Names IVM generates for VTDs; IVM does not keep them across a move, only user-defined ones (ivm-cli.md §1.3).
_GENERATED_VTD = re.compile(r"^(vtscsi|vtopt)\d+$")


def is_generated_vtd_name(name: str) -> bool:
    """True for names like `vtscsi7` or `vtopt0` that IVM makes up and regenerates on the destination."""
    return bool(_GENERATED_VTD.match(name))


# ---------------------------------------------------------------------------------------------------------------
# Devices of a management partition (the VIOS that hosts IVM)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hdisk(JsonData):
    """A physical volume the management partition sees.

    name: `lsdev -type disk` (e.g. `hdisk3`); unique_id: `lsdev -dev hdiskN -attr unique_id` (the LUN's identity,
    compared across servers); reserve_policy: `lsdev -dev hdiskN -attr reserve_policy` (`no_reserve`,
    `single_path`, `PR_exclusive`, ...).
    """

    name: str
    unique_id: str
    reserve_policy: str


@dataclass(frozen=True, slots=True)
class FcPort(JsonData):
    """A physical Fibre Channel port of the management partition.

    name: `fcsN` (`lsnports` / `lsdev -type adapter`); npiv_capable: `lsnports` lists the port (fabric=1);
    available_ports: `lsnports` column `aports` (virtual ports still free on it).
    """

    name: str
    npiv_capable: bool
    available_ports: int


@dataclass(frozen=True, slots=True)
class ManagementPartition(JsonData):
    """The IVM management partition (partition ID 1, `lpar_env=vioserver`), the MSP and VIOS of its system.

    lpar_id / name: `lssyscfg -r lpar -F lpar_id,name,lpar_env`;
    max_virtual_slots: `lshwres -r virtualio --rsubtype slot --level lpar --filter lpar_ids=1 -F curr_max_virtual_slots`;
    used_slots: slot numbers of `lshwres -r virtualio --rsubtype slot --level slot --filter lpar_ids=1
    -F slot_num,config` whose config is not empty (serial, scsi, eth, fc, reserved ...), sorted;
    vtd_names: the VTD names `lsmap -all` shows on this VIOS, so that a kept user-defined name can be checked
    for a clash.
    slot_users: (slot, what uses it) for the used slots the inventory can name (a server adapter and the client
    partition it serves, a planned migration), so that a conflict can say who holds the slot.
    """

    lpar_id: int
    name: str
    max_virtual_slots: int
    used_slots: tuple[int, ...] = ()
    vtd_names: tuple[str, ...] = ()
    slot_users: tuple[tuple[int, str], ...] = ()

    def slot_user(self, slot: int) -> str:
        """What holds `slot`, in words ("" when the inventory does not say)."""
        return next((who for number, who in self.slot_users if number == slot), "")


# ---------------------------------------------------------------------------------------------------------------
# Virtual adapters of a client partition
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EthernetAdapter(JsonData):
    """A virtual Ethernet adapter: `lshwres -r virtualio --rsubtype eth --level lpar`
    (`slot_num`, `port_vlan_id`, `addl_vlan_ids`)."""

    slot: int
    port_vlan_id: int
    addl_vlan_ids: tuple[int, ...] = ()

    @property
    def vlans(self) -> tuple[int, ...]:
        """Every VLAN this adapter carries, sorted: the PVID and the additional (tagged) VLANs."""
        return tuple(sorted({self.port_vlan_id, *self.addl_vlan_ids}))


@dataclass(frozen=True, slots=True)
class BackingDevice(JsonData):
    """A virtual target device and what backs it, from `lsmap -vadapter vhostN` on the source management partition.

    kind: `hdisk` (a physical volume: SAN LUN), `lv` (logical volume), `file` (file-backed disk) or `vopt`
    (virtual optical); device: the backing device (`hdisk3`, `lv_data`, `/var/vio/VMLibrary/x.iso`; empty for a
    vopt without media); unique_id / reserve_policy: `lsdev -dev hdiskN -attr ...` on the source (hdisks only);
    vtd_name: the VTD (`vtscsi2`, or a user-defined name like `web01_rootvg`).
    """

    kind: str
    device: str
    vtd_name: str
    unique_id: str = ""
    reserve_policy: str = ""

    def __post_init__(self) -> None:
        if self.kind not in BACKING_KINDS:
            raise ValueError(f"unknown backing device kind {self.kind!r}; expected one of {BACKING_KINDS}")


@dataclass(frozen=True, slots=True)
class ScsiClientAdapter(JsonData):
    """A virtual SCSI client adapter: `lshwres -r virtualio --rsubtype scsi --level lpar` (`slot_num`,
    `remote_slot_num` = the server adapter's slot on the source management partition), with the backing devices
    of that server adapter (vhost) from `lsmap`."""

    slot: int
    remote_slot: int
    backing_devices: tuple[BackingDevice, ...] = ()


@dataclass(frozen=True, slots=True)
class FcClientAdapter(JsonData):
    """A virtual Fibre Channel (NPIV) client adapter: `lshwres -r virtualio --rsubtype fc --level lpar`
    (`slot_num`, `remote_slot_num`, `wwpns` = active and inactive WWPN), and the physical port its vfchost is
    bound to on the source management partition (`lsmap -npiv -all`, field fc port, e.g. `fcs0`)."""

    slot: int
    remote_slot: int
    wwpns: tuple[str, str]
    fc_port: str


# ---------------------------------------------------------------------------------------------------------------
# Partitions and systems
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Partition(JsonData):
    """A logical partition as the inventory last saw it.

    lpar_id, name, env (`lpar_env`: aixlinux/vioserver/os400), state, rmc_state (`active`/`inactive`/`none`),
    dlpar_mem_capable, dlpar_proc_capable, curr_compat_mode / desired_compat_mode
    (`curr_lpar_proc_compat_mode`, `desired_lpar_proc_compat_mode`): `lssyscfg -r lpar`.
    migration_state: `lslparmigr -r lpar -F migration_state` (`Not Migrating`, ...).
    memory_mb: the memory the destination must provide: `lshwres -r mem --level lpar` `curr_mem` when the
    partition runs, `pend_mem` (its configured amount) when it is not activated (IVM shows 0 for curr then).
    proc_units / virtual_procs: `lshwres -r proc --level lpar` `curr_proc_units`/`curr_procs` (pend_* when not
    activated); for a dedicated-processor partition proc_units is its number of processors.
    physical_io_slots: DRC names of `lshwres -r io --rsubtype slot --filter lpar_ids=N` (empty = none).
    """

    lpar_id: int
    name: str
    env: str
    state: str
    rmc_state: str
    dlpar_mem_capable: bool
    dlpar_proc_capable: bool
    migration_state: str
    curr_compat_mode: str
    desired_compat_mode: str
    memory_mb: int
    proc_units: float
    virtual_procs: int
    physical_io_slots: tuple[str, ...] = ()
    ethernet_adapters: tuple[EthernetAdapter, ...] = ()
    scsi_adapters: tuple[ScsiClientAdapter, ...] = ()
    fc_adapters: tuple[FcClientAdapter, ...] = ()
    quarantine_reason: str = ""  # why the inventory quarantined it (values that break IVM's rules); "" = none

    @property
    def vlans(self) -> tuple[int, ...]:
        """Every VLAN of every virtual Ethernet adapter, sorted."""
        return tuple(sorted({v for a in self.ethernet_adapters for v in a.vlans}))

    @property
    def backing_devices(self) -> tuple[BackingDevice, ...]:
        return tuple(d for a in self.scsi_adapters for d in a.backing_devices)

    @property
    def client_slot_count(self) -> int:
        """How many server adapters the destination management partition must host (vSCSI + vFC)."""
        return len(self.scsi_adapters) + len(self.fc_adapters)


@dataclass(frozen=True, slots=True)
class ManagedSystem(JsonData):
    """One server and its IVM.

    name, type_model, serial (`serial_num`), capabilities (the quoted `capabilities` list), compat_modes
    (`lpar_proc_compat_modes`): `lssyscfg -r sys`.
    mem_region_size_mb, memory_installed_mb, memory_available_mb: `lshwres -r mem --level sys`
    (`mem_region_size`, `configurable_sys_mem`, `curr_avail_sys_mem`).
    proc_units_installed, proc_units_available: `lshwres -r proc --level sys`
    (`configurable_sys_proc_units`, `curr_avail_sys_proc_units`).
    active_/inactive_migrations_supported and _in_progress: `lslparmigr -r sys`
    (`num_active_migrations_supported`, `num_active_migrations_in_progress`, and the inactive pair).
    ivm_address: the address ivmweb reaches this IVM at (what `migrlpar --ip` is given).
    management_partition, hdisks, fc_ports: the management partition and its devices.
    bridged_vlans: every VLAN an SEA of the management partition bridges (`lsmap -all -net`, the SEA's trunk
    adapters' `port_vlan_id` + `addl_vlan_ids`), sorted.
    partitions: every partition `lssyscfg -r lpar` lists on this system, the management partition included or not.
    """

    name: str
    type_model: str
    serial: str
    ivm_address: str
    capabilities: tuple[str, ...]
    compat_modes: tuple[str, ...]
    mem_region_size_mb: int
    memory_installed_mb: int
    memory_available_mb: int
    proc_units_installed: float
    proc_units_available: float
    active_migrations_supported: int
    active_migrations_in_progress: int
    inactive_migrations_supported: int
    inactive_migrations_in_progress: int
    management_partition: ManagementPartition
    bridged_vlans: tuple[int, ...] = ()
    hdisks: tuple[Hdisk, ...] = ()
    fc_ports: tuple[FcPort, ...] = ()
    partitions: tuple[Partition, ...] = field(default=())

    @property
    def target_name(self) -> str:
        """`tttt-mmm*ssssssss`, the unambiguous `migrlpar -t` form (ivm-cli.md §4.1)."""
        return f"{self.type_model}*{self.serial}"

    def partition_named(self, name: str) -> Partition | None:
        return next((p for p in self.partitions if p.name == name), None)


# ---------------------------------------------------------------------------------------------------------------
# Reading stored estate data back (the inverse of to_dict), e.g. to re-run the checks of an approved plan
# ---------------------------------------------------------------------------------------------------------------


def _ints(values) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def partition_from_dict(data: dict) -> Partition:
    """Rebuild a Partition from `Partition.to_dict()` output."""
    return Partition(
        **{k: data[k] for k in (
            "lpar_id", "name", "env", "state", "rmc_state", "dlpar_mem_capable", "dlpar_proc_capable",
            "migration_state", "curr_compat_mode", "desired_compat_mode", "memory_mb", "proc_units", "virtual_procs",
        )},
        physical_io_slots=tuple(data.get("physical_io_slots", ())),
        ethernet_adapters=tuple(EthernetAdapter(a["slot"], a["port_vlan_id"], _ints(a.get("addl_vlan_ids", ())))
                                for a in data.get("ethernet_adapters", ())),
        scsi_adapters=tuple(
            ScsiClientAdapter(a["slot"], a["remote_slot"], tuple(BackingDevice(**d) for d in a["backing_devices"]))
            for a in data.get("scsi_adapters", ())
        ),
        fc_adapters=tuple(FcClientAdapter(a["slot"], a["remote_slot"], tuple(a["wwpns"]), a["fc_port"])
                          for a in data.get("fc_adapters", ())),
        quarantine_reason=data.get("quarantine_reason", ""),
    )


def system_from_dict(data: dict) -> ManagedSystem:
    """Rebuild a ManagedSystem (with its partitions) from `ManagedSystem.to_dict()` output."""
    mp = data["management_partition"]
    scalars = {k: v for k, v in data.items() if k not in {
        "capabilities", "compat_modes", "management_partition", "bridged_vlans", "hdisks", "fc_ports", "partitions"}}
    return ManagedSystem(
        **scalars,
        capabilities=tuple(data["capabilities"]),
        compat_modes=tuple(data["compat_modes"]),
        management_partition=ManagementPartition(mp["lpar_id"], mp["name"], mp["max_virtual_slots"],
                                                 _ints(mp.get("used_slots", ())), tuple(mp.get("vtd_names", ())),
                                                 tuple((int(n), str(w)) for n, w in mp.get("slot_users", ()))),
        bridged_vlans=_ints(data.get("bridged_vlans", ())),
        hdisks=tuple(Hdisk(**h) for h in data.get("hdisks", ())),
        fc_ports=tuple(FcPort(**f) for f in data.get("fc_ports", ())),
        partitions=tuple(partition_from_dict(p) for p in data.get("partitions", ())),
    )
