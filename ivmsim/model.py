"""The simulated fleet's state: managed systems, their management partition and client partitions.

Plain dataclasses, serialised to JSON by :func:`to_dict` / :func:`from_dict` for the state directory.
Server-side virtual adapters (vhost/vfchost, VTDs) are kept with the client adapter they serve, so moving
a partition moves exactly the records that the destination must recreate.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field

from ivmsim import reference as ref


@dataclass
class Workload:
    """How the partition uses memory; feeds the pre-copy transfer model."""

    touched_mb: float = 0.0
    dirty_mb_s: float = 0.0
    working_set_mb: float = 0.0


@dataclass
class EthAdapter:
    slot: int
    port_vlan_id: int
    addl_vlan_ids: list[int] = field(default_factory=list)
    ieee_virtual_eth: bool = False
    mac_addr: str = ""

    def vlans(self) -> list[int]:
        return [self.port_vlan_id, *self.addl_vlan_ids]


@dataclass
class Vtd:
    """A virtual target device on the management partition; ``custom`` names survive a move."""

    name: str
    backing: str
    custom: bool = False


@dataclass
class ScsiAdapter:
    slot: int  # client slot (kept on a move)
    server_slot: int = 0  # slot of vhostN on the management partition (renumbered on a move)
    vhost: str = ""
    vtds: list[Vtd] = field(default_factory=list)


@dataclass
class FcAdapter:
    slot: int
    port: str  # physical FC port on the management partition (fcsN)
    wwpns: list[str] = field(default_factory=list)
    server_slot: int = 0
    vfchost: str = ""


@dataclass
class IoSlot:
    drc_name: str
    description: str = "PCI-E Adapter"
    drc_index: str = "21010200"


@dataclass
class Partition:
    name: str
    lpar_id: int
    state: str = ref.NOT_ACTIVATED
    rmc_state: str = "active"
    lpar_env: str = "aixlinux"
    os_version: str = "AIX 7.1 7100-05-06-2028"
    memory_mb: int = 2048
    min_memory_mb: int = 512
    max_memory_mb: int = 0
    proc_units: float = 0.5
    min_proc_units: float = 0.1
    max_proc_units: float = 0.0
    procs: int = 1
    compat_mode: str = "default"
    dlpar_mem_capable: bool = True
    dlpar_proc_capable: bool = True
    mac_base: str = ""
    rmc_ipaddr: str = ""
    eth: list[EthAdapter] = field(default_factory=list)
    scsi: list[ScsiAdapter] = field(default_factory=list)
    fc: list[FcAdapter] = field(default_factory=list)
    io_slots: list[IoSlot] = field(default_factory=list)
    vopt_media: str = ""
    workload: Workload = field(default_factory=Workload)
    # The RMC state the partition reaches once running (bad-rmc keeps "inactive").
    rmc_when_running: str = "active"
    max_virtual_slots: int = 10
    started_at: float | None = None  # simulated time of the last activation, for uptime
    # The running compatibility mode when a fleet file (a twin) states it; empty = derived from the desired one.
    curr_compat_mode: str = ""
    migration_id: str | None = None

    @property
    def is_vios(self) -> bool:
        return self.lpar_env == "vioserver"

    @property
    def consumes_resources(self) -> bool:
        return self.state not in ref.IDLE_STATES


@dataclass
class Hdisk:
    name: str
    unique_id: str
    reserve_policy: str = "no_reserve"
    size_mb: int = 51200
    pvid: str = "none"


@dataclass
class Sea:
    name: str
    pvid: int
    vlans: list[int]
    real_adapter: str = "ent0"
    trunk_slot: int = 0


@dataclass
class FcPort:
    name: str
    fabric: str = "A"
    npiv_capable: bool = True
    wwpn: str = ""


@dataclass
class Vios:
    """The management partition (partition id 1, ``vioserver``): IVM itself and the MSP."""

    name: str
    memory_mb: int = 4096
    proc_units: float = 0.5
    procs: int = 2
    max_virtual_slots: int = 200
    rmc_state: str = "active"
    seas: list[Sea] = field(default_factory=list)
    hdisks: list[Hdisk] = field(default_factory=list)
    logical_volumes: list[str] = field(default_factory=list)
    fc_ports: list[FcPort] = field(default_factory=list)
    os_version: str = "VIOS 2.2.6.10"
    started_at: float = -10 * 86400.0  # the management partition has been up since before the simulation

    def hdisk(self, name: str) -> Hdisk | None:
        return next((d for d in self.hdisks if d.name == name), None)

    def bridged_vlans(self) -> set[int]:
        return {v for sea in self.seas for v in sea.vlans}


@dataclass
class System:
    """One managed system and the IVM that manages it."""

    name: str
    ivm: str
    type_model: str
    serial_num: str
    memory_mb: int
    proc_units: float
    vios: Vios
    firmware_mem_mb: int = 1024
    mem_region_size: int = 128
    compat_modes: list[str] = field(default_factory=lambda: ["default", "POWER6", "POWER6+", "POWER7"])
    capabilities: list[str] = field(default_factory=lambda: list(ref.DEFAULT_CAPABILITIES))
    max_active_migrations: int = ref.DEFAULT_MAX_ACTIVE_MIGRATIONS
    max_inactive_migrations: int = ref.DEFAULT_MAX_INACTIVE_MIGRATIONS
    msp_bandwidth_mb_s: float = ref.DEFAULT_MSP_BANDWIDTH_MB_S
    downtime_target_s: float = ref.DOWNTIME_TARGET_S
    password: str = ""
    authorized_keys: list[str] = field(default_factory=list)
    address: str = ""  # loopback address of the IVM's SSH listener, filled in at start
    partitions: list[Partition] = field(default_factory=list)
    free_io_slots: list[IoSlot] = field(default_factory=list)  # physical slots no partition owns

    @property
    def mtms(self) -> str:
        """``tttt-mmm*ssssssss``, the other accepted spelling of the system in -m / -t."""
        return f"{self.type_model}*{self.serial_num}"

    def names_me(self, value: str) -> bool:
        return value in (self.name, self.mtms)

    def lpar(self, name: str | None = None, lpar_id: int | None = None) -> Partition | None:
        for p in self.partitions:
            if (name is not None and p.name == name) or (lpar_id is not None and p.lpar_id == lpar_id):
                return p
        return None

    def vios_partition_view(self) -> Partition:
        """The management partition as a Partition record, for listings (id 1)."""
        v = self.vios
        return Partition(name=v.name, lpar_id=ref.MANAGEMENT_LPAR_ID, state=ref.RUNNING, rmc_state=v.rmc_state,
                         lpar_env="vioserver", os_version=v.os_version, started_at=v.started_at, memory_mb=v.memory_mb,
                         min_memory_mb=v.memory_mb // 2, max_memory_mb=v.memory_mb * 2, proc_units=v.proc_units,
                         procs=v.procs, compat_mode="default", max_virtual_slots=v.max_virtual_slots,
                         mac_base=mac_base(self, ref.MANAGEMENT_LPAR_ID))

    def all_partitions(self) -> list[Partition]:
        return sorted([self.vios_partition_view(), *self.partitions], key=lambda p: p.lpar_id)

    # --- resources ----------------------------------------------------------------------------------------
    def used_memory_mb(self) -> int:
        return self.vios.memory_mb + sum(p.memory_mb for p in self.partitions if p.consumes_resources)

    def free_memory_mb(self) -> int:
        return self.memory_mb - self.firmware_mem_mb - self.used_memory_mb()

    def free_proc_units(self) -> float:
        used = self.vios.proc_units + sum(p.proc_units for p in self.partitions if p.consumes_resources)
        return round(self.proc_units - used, 2)

    def used_vios_slots(self) -> set[int]:
        used = set(range(ref.RESERVED_VIOS_SLOTS))
        used.update(s.trunk_slot for s in self.vios.seas)
        for p in self.partitions:
            used.update(a.server_slot for a in p.scsi)
            used.update(a.server_slot for a in p.fc)
        return used

    def free_vios_slots(self) -> list[int]:
        used = self.used_vios_slots()
        return [s for s in range(ref.FIRST_SERVER_SLOT, self.vios.max_virtual_slots) if s not in used]

    def next_device_index(self, prefix: str) -> int:
        """Smallest unused N for vhostN / vfchostN; largest+1 for vtscsiN (IVM never reuses them at once)."""
        pattern = re.compile(rf"^{prefix}(\d+)$")
        names = []
        for p in self.partitions:
            names += [a.vhost for a in p.scsi] + [a.vfchost for a in p.fc] + [v.name for a in p.scsi for v in a.vtds]
        numbers = {int(m.group(1)) for n in names if (m := pattern.match(n))}
        if prefix == "vtscsi":
            return max(numbers, default=-1) + 1
        n = 0
        while n in numbers:
            n += 1
        return n

    def free_lpar_id(self, preferred: int) -> int:
        taken = {p.lpar_id for p in self.partitions} | {ref.MANAGEMENT_LPAR_ID}
        if preferred not in taken:
            return preferred
        return next(i for i in range(2, ref.MAX_LPARS + 1) if i not in taken)


@dataclass
class Migration:
    """One migration as both IVMs see it. Persisted; the live transfer object is kept by the engine."""

    id: str
    lpar_name: str
    migration_type: str  # "active" | "inactive"
    source_ivm: str
    dest_ivm: str
    source_lpar_id: int
    dest_lpar_id: int
    original_state: str
    phase: str = "starting"  # starting|precopy|transfer|suspended|complete|failed
    migration_state: str = ref.MIGRATION_STARTING
    phase_started: float = 0.0
    started: float = 0.0
    bytes_transmitted: int = 0
    bytes_remaining: int = 0
    remaining_time: int = 0
    transfer_s: float = 0.0  # inactive moves: simulated seconds of definition transfer done
    reason: str = ""
    suspend_window_s: float | None = None

    @property
    def in_progress(self) -> bool:
        return self.phase not in ("complete", "failed")


def natural_key(name: str) -> list:
    """hdisk2 before hdisk10: digits compare as numbers."""
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


def _mac_prefix(system: System) -> str:
    digits = re.sub(r"[^0-9A-F]", "", system.serial_num.upper())[-4:].rjust(4, "0")
    return f"26{digits}0"


def mac_prefix(system: System) -> str:
    """Locally administered MAC prefix of a system: 7 hex digits (``26`` + 4 of the serial + ``0``), so that
    prefix + 2-digit partition id + 3-digit slot is the 12-digit MAC real systems print (``26E6B0002007``)."""
    return _mac_prefix(system)


def mac_base(system: System, lpar_id: int) -> str:
    """``virtual_eth_mac_base_value``: 12 hex digits, the partition's adapters differ in the last three."""
    return f"{_mac_prefix(system)}{lpar_id:02X}000"


# --- JSON (de)serialisation ------------------------------------------------------------------------------
def to_dict(obj) -> dict:
    return dataclasses.asdict(obj)


def from_dict(cls, data):
    """Rebuild a dataclass tree from :func:`to_dict` output, following the type hints."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint, value):
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(item, v) for v in value]
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(inner[0], value)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value)
    return value
