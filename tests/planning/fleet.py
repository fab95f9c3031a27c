"""Builders for estates as planning reads them, and a small fleet where every answer is known.

The fleet: source `srcA` and four destinations.
  dstB  big and idle                         → the best destination for anything that can move
  dstC  smaller, 2 active migrations running → eligible, ranked after dstB
  dstD  the biggest, but LMB 256 MB (srcA: 128) → blocked by lmb_size for every partition
  dstE  active migration limit reached (8/8)  → blocked for active moves, fine for inactive ones
One problem partition per rule lives on srcA, plus `lp_web` (good, active) and `lp_batch` (good, inactive).
Other tests may reuse the builders (`system`, `partition`, `hdisk_backing`, ...) and tweak with
`dataclasses.replace`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

from mobility.planning.estate import (
    BackingDevice,
    EthernetAdapter,
    FcClientAdapter,
    FcPort,
    Hdisk,
    ManagedSystem,
    ManagementPartition,
    Partition,
    ScsiClientAdapter,
)

ALL_CAPABILITIES = (
    "active_lpar_mobility_capable",
    "inactive_lpar_mobility_capable",
    "virtual_fc_capable",
    "dlpar_mem_capable",
)
POWER7_MODES = ("default", "POWER6", "POWER6+", "POWER7")
BRIDGED = (1, 20, 30)


def vios(name: str = "vios1", *, max_virtual_slots: int = 200, used_slots: tuple[int, ...] = tuple(range(11)),
         vtd_names: tuple[str, ...] = ()) -> ManagementPartition:
    return ManagementPartition(lpar_id=1, name=name, max_virtual_slots=max_virtual_slots,
                               used_slots=tuple(sorted(used_slots)), vtd_names=vtd_names)


def hdisk_backing(device: str, unique_id: str, *, reserve_policy: str = "no_reserve",
                  vtd_name: str = "") -> BackingDevice:
    return BackingDevice("hdisk", device, vtd_name or f"vtscsi_{device}", unique_id, reserve_policy)


def scsi(slot: int, remote_slot: int, *devices: BackingDevice) -> ScsiClientAdapter:
    return ScsiClientAdapter(slot, remote_slot, tuple(devices))


def fc(slot: int, remote_slot: int, port: str = "fcs0", wwpn_base: str = "c0507609abcd") -> FcClientAdapter:
    return FcClientAdapter(slot, remote_slot, (f"{wwpn_base}{slot:02x}00", f"{wwpn_base}{slot:02x}01"), port)


def eth(slot: int, pvid: int, *addl: int) -> EthernetAdapter:
    return EthernetAdapter(slot, pvid, tuple(addl))


def partition(name: str, lpar_id: int, **overrides) -> Partition:
    """A partition that passes every rule on its own: running, RMC active, DLPAR capable, one SAN disk, VLAN 1."""
    values = dict(
        lpar_id=lpar_id,
        name=name,
        env="aixlinux",
        state="Running",
        rmc_state="active",
        dlpar_mem_capable=True,
        dlpar_proc_capable=True,
        migration_state="Not Migrating",
        curr_compat_mode="POWER7",
        desired_compat_mode="default",
        memory_mb=8192,
        proc_units=0.5,
        virtual_procs=1,
        physical_io_slots=(),
        ethernet_adapters=(eth(2, 1),),
        scsi_adapters=(scsi(3, 20 + lpar_id, hdisk_backing(f"hdisk{lpar_id}", uid(name))),),
        fc_adapters=(),
    )
    values.update(overrides)
    return Partition(**values)


def uid(name: str, n: int = 0) -> str:
    """A plausible unique_id for LUN `n` of a partition (the form lsdev prints, ivm-cli.md §4.6)."""
    return f"3321360050763008180{zlib.crc32(f'{name}/{n}'.encode()) % 10**8:08d}04214503IBMfcp"


def system(name: str, serial: str, **overrides) -> ManagedSystem:
    values = dict(
        name=name,
        type_model="8205-E6C",
        serial=serial,
        ivm_address=f"{name}.ivm.example",
        capabilities=ALL_CAPABILITIES,
        compat_modes=POWER7_MODES,
        mem_region_size_mb=128,
        memory_installed_mb=131072,
        memory_available_mb=65536,
        proc_units_installed=16.0,
        proc_units_available=8.0,
        active_migrations_supported=8,
        active_migrations_in_progress=0,
        inactive_migrations_supported=64,
        inactive_migrations_in_progress=0,
        management_partition=vios(f"vios_{name}"),
        bridged_vlans=BRIDGED,
        hdisks=(),
        fc_ports=(FcPort("fcs0", True, 60), FcPort("fcs1", True, 60)),
        partitions=(),
    )
    values.update(overrides)
    return ManagedSystem(**values)


def shared_hdisks(partitions: tuple[Partition, ...], *, hidden: tuple[str, ...] = ()) -> tuple[Hdisk, ...]:
    """The destination's view of every hdisk LUN of `partitions` (with its own hdisk numbering), minus `hidden`
    unique_ids."""
    disks = [d for p in partitions for d in p.backing_devices if d.kind == "hdisk" and d.unique_id not in hidden]
    return tuple(Hdisk(f"hdisk{100 + i}", d.unique_id, "no_reserve") for i, d in enumerate(disks))


@dataclass(frozen=True)
class Fleet:
    source: ManagedSystem
    destinations: tuple[ManagedSystem, ...]

    def partition(self, name: str) -> Partition:
        found = self.source.partition_named(name)
        assert found is not None, name
        return found

    def system(self, name: str) -> ManagedSystem:
        return next(s for s in (self.source, *self.destinations) if s.name == name)


def problem_partitions() -> tuple[Partition, ...]:
    """One partition per rule (named after the rule), and the two good ones."""
    return (
        partition(
            "lp_web", 11, memory_mb=16384, proc_units=2.0, virtual_procs=4,
            ethernet_adapters=(eth(2, 1), eth(4, 20, 30)),
            scsi_adapters=(
                scsi(3, 23, hdisk_backing("hdisk2", uid("lp_web", 0), vtd_name="web_rootvg")),
                scsi(5, 25, hdisk_backing("hdisk3", uid("lp_web", 1), vtd_name="vtscsi3")),
            ),
            fc_adapters=(fc(6, 26, "fcs0"), fc(7, 27, "fcs1")),
        ),
        partition("lp_batch", 12, state="Not Activated", rmc_state="inactive", dlpar_mem_capable=False,
                  dlpar_proc_capable=False, curr_compat_mode="", memory_mb=4096, proc_units=1.0),
        partition("lp_physio", 13, physical_io_slots=("U78AA.001.WZSGV7N-P1-C7",)),
        partition("lp_lv", 14, scsi_adapters=(
            scsi(3, 34, BackingDevice("lv", "lv_lp_lv", "lp_lv_rootvg")),)),
        partition("lp_reserve", 15, scsi_adapters=(
            scsi(3, 35, hdisk_backing("hdisk15", uid("lp_reserve"), reserve_policy="single_path")),)),
        partition("lp_vlan", 16, ethernet_adapters=(eth(2, 999),)),
        partition("lp_lun", 17),
        partition("lp_clash", 18),
        partition("lp_p8", 19, curr_compat_mode="POWER8", desired_compat_mode="POWER8"),
        partition("lp_normc", 20, rmc_state="inactive"),
        partition("lp_huge", 21, memory_mb=524288),
        partition("lp_vopt", 22, scsi_adapters=(
            scsi(3, 42, hdisk_backing("hdisk22", uid("lp_vopt")),
                 BackingDevice("vopt", "/var/vio/VMLibrary/aix71.iso", "vtopt0")),)),
        partition("lp_openfw", 23, state="Open Firmware"),
        partition("lp_stuck", 24, migration_state="Migration Failed"),
        partition("lp_nodlpar", 25, dlpar_proc_capable=False),
        partition("lp_cpu", 26, proc_units=24.0, virtual_procs=24),
    )


def build_fleet() -> Fleet:
    parts = problem_partitions()
    lun_hidden = tuple(d.unique_id for d in next(p for p in parts if p.name == "lp_lun").backing_devices)
    luns = shared_hdisks(parts, hidden=lun_hidden)
    source_vios = ManagementPartition(1, "vios_srcA", 200, tuple(range(11)) + tuple(range(20, 50)))
    source = system("srcA", "06AAAAA", memory_installed_mb=262144, memory_available_mb=32768,
                    management_partition=source_vios, partitions=parts,
                    hdisks=tuple(Hdisk(d.device, d.unique_id, d.reserve_policy)
                                 for p in parts for d in p.backing_devices if d.kind == "hdisk"))
    dst_b = system("dstB", "06BBBBB", memory_installed_mb=262144, memory_available_mb=131072,
                   proc_units_installed=32.0, proc_units_available=20.0, hdisks=luns,
                   management_partition=vios("vios_dstB", used_slots=(*range(11), *range(23, 26))),
                   partitions=(partition("lp_clash", 5),))
    dst_c = system("dstC", "06CCCCC", memory_installed_mb=131072, memory_available_mb=40960,
                   proc_units_installed=16.0, proc_units_available=6.0, hdisks=luns,
                   active_migrations_in_progress=2,
                   management_partition=vios("vios_dstC", max_virtual_slots=64, used_slots=tuple(range(21))),
                   fc_ports=(FcPort("fcs0", True, 10), FcPort("fcs1", True, 10)))
    dst_d = system("dstD", "06DDDDD", memory_installed_mb=524288, memory_available_mb=400000,
                   proc_units_installed=64.0, proc_units_available=60.0, mem_region_size_mb=256, hdisks=luns)
    dst_e = system("dstE", "06EEEEE", hdisks=luns, active_migrations_in_progress=8)
    return Fleet(source, (dst_b, dst_c, dst_d, dst_e))


def with_partition(fleet: Fleet, new: Partition) -> Fleet:
    """The fleet with `new` replacing (or added to) the source's partitions."""
    others = tuple(p for p in fleet.source.partitions if p.name != new.name)
    return replace(fleet, source=replace(fleet.source, partitions=(*others, new)))
