"""Recommended virtual adapter mappings for a destination (process step 4), and checks of edited ones.

IVM works out mappings itself at step 4; ivmweb proposes them first so that a person can review and edit them
before approval, and so that the approved plan records exactly what `migrlpar -i` will be given.

How a recommendation is made, per client adapter (vSCSI first, then vFC, each by client slot):
* server slot: the adapter's server slot on the source is kept when it is free and assignable on the destination
  management partition (IVM keeps user-defined adapter IDs, ivm-cli.md §1.3); otherwise the lowest free
  assignable slot (see slots.py: never 0–RESERVED_SLOT_LIMIT, never at or above max_virtual_slots).
* Fibre Channel port: the same port name as on the source when it exists on the destination, is NPIV capable and
  still has a free virtual port; otherwise the NPIV port with the most free virtual ports (then by name).
* VTD names: `migrlpar` has no attribute for them; IVM keeps user-defined names and regenerates `vtscsiN`. The plan
  predicts the outcome per device and flags a user-defined name the destination VIOS already uses.
* Ethernet: the adapter's VLANs and whether the destination bridges them (IVM has no VLAN mapping attribute).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .estate import VIRTUAL_OPTICAL, ManagedSystem, Partition, is_generated_vtd_name
from .mapping_syntax import (
    ATTRIBUTE,
    FC,
    SCSI,
    AdapterMapping,
    MappingSyntaxError,
    format_mapping,
    format_mappings,
    migrlpar_input,
    parse_mapping,
    parse_mappings,
)
from .serialize import JsonData
from .slots import SLOT_OUT_OF_RANGE, SLOT_TAKEN, free_slots, slot_problem

__all__ = [
    "ATTRIBUTE", "FC", "SCSI", "SLOT_OUT_OF_RANGE", "SLOT_TAKEN", "AdapterMapping", "EthernetMapping", "MappingNote",
    "MappingPlan", "MappingProblem", "MappingSyntaxError", "VtdPlan", "check_mappings", "edit_mapping", "edit_plan",
    "format_mapping", "format_mappings", "migrlpar_input", "parse_mapping", "parse_mappings", "recommend_mappings",
]

# Problem codes (stable, for the UI to style or translate).
UNKNOWN_CLIENT_SLOT = "unknown_client_slot"
DUPLICATE_CLIENT_SLOT = "duplicate_client_slot"
DUPLICATE_SLOT = "duplicate_slot"
UNKNOWN_VIOS = "unknown_vios"
FC_PORT_UNKNOWN = "fc_port_unknown"
FC_PORT_NOT_NPIV = "fc_port_not_npiv"
FC_PORT_FULL = "fc_port_full"
VLAN_NOT_BRIDGED = "vlan_not_bridged"
NO_FREE_SLOT = "no_free_slot"


@dataclass(frozen=True, slots=True)
class EthernetMapping(JsonData):
    """A virtual Ethernet adapter on the destination: its VLANs, and those the destination does not bridge."""

    client_slot: int
    vlans: tuple[int, ...]
    unbridged: tuple[int, ...]

    @property
    def bridged(self) -> bool:
        return not self.unbridged


@dataclass(frozen=True, slots=True)
class VtdPlan(JsonData):
    """What a virtual target device will be called on the destination: `dest_name` "" means IVM generates one."""

    client_slot: int
    device: str
    source_name: str
    dest_name: str
    note: str


@dataclass(frozen=True, slots=True)
class MappingNote(JsonData):
    """Why a row looks the way it does (kept slot, other slot, other FC port...)."""

    kind: str
    client_slot: int
    text: str


@dataclass(frozen=True, slots=True)
class MappingProblem(JsonData):
    """A conflict in one row. kind/row point at `MappingPlan.rows` (scsi, fc) or `MappingPlan.ethernet` (eth).
    `message` is a sentence that names the slot and the adapter; `mapping` is the row in `migrlpar -i` syntax,
    a detail for who wants to see exactly what IVM would be given."""

    kind: str
    row: int
    client_slot: int
    code: str
    message: str
    mapping: str = ""


def adapter_words(kind: str, client_slot: int) -> str:
    """"the virtual SCSI adapter in client slot 3": how a sentence names one client adapter."""
    label = {SCSI: "virtual SCSI", FC: "virtual Fibre Channel"}.get(kind, "virtual Ethernet")
    return f"the {label} adapter in client slot {client_slot}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


@dataclass(frozen=True, slots=True)
class MappingPlan(JsonData):
    """Mappings for one partition to one destination: rows in `migrlpar -i` terms plus what a person should know."""

    partition: str
    destination: str
    vios_name: str
    vios_id: int
    rows: tuple[AdapterMapping, ...]
    ethernet: tuple[EthernetMapping, ...]
    vtds: tuple[VtdPlan, ...]
    notes: tuple[MappingNote, ...]
    problems: tuple[MappingProblem, ...]

    @property
    def strings(self) -> dict[str, str]:
        """The `virtual_scsi_mappings` / `virtual_fc_mappings` values."""
        return format_mappings(self.rows)

    @property
    def migrlpar_input(self) -> str:
        return migrlpar_input(self.rows)

    @property
    def valid(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------------------------------------------------------
# Recommendation
# ---------------------------------------------------------------------------------------------------------------


def _pick_fc_port(wanted: str, capacity: dict[str, int]) -> str:
    if capacity.get(wanted, 0) > 0:
        return wanted
    best = sorted((name for name, left in capacity.items() if left > 0), key=lambda n: (-capacity[n], n))
    return best[0] if best else ""


def _plan_vtds(partition: Partition, dest: ManagedSystem) -> tuple[VtdPlan, ...]:
    taken = set(dest.management_partition.vtd_names)
    plans = []
    for adapter in partition.scsi_adapters:
        for dev in adapter.backing_devices:
            if dev.kind == VIRTUAL_OPTICAL:
                continue
            if is_generated_vtd_name(dev.vtd_name):
                plans.append(VtdPlan(adapter.slot, dev.device, dev.vtd_name, "",
                                     f"{dev.vtd_name} is a generated name; IVM creates a new vtscsiN name"))
            elif dev.vtd_name in taken:
                plans.append(VtdPlan(adapter.slot, dev.device, dev.vtd_name, "",
                                     f"{dev.vtd_name} already exists on {dest.management_partition.name}; "
                                     "rename one of them before the move to keep the name"))
            else:
                taken.add(dev.vtd_name)
                plans.append(VtdPlan(adapter.slot, dev.device, dev.vtd_name, dev.vtd_name,
                                     f"user-defined name {dev.vtd_name} is kept"))
    return tuple(plans)


def recommend_mappings(partition: Partition, destination: ManagedSystem) -> MappingPlan:
    """Propose a server slot (and FC port) on the destination management partition for every client vSCSI and
    vFC adapter, report Ethernet VLAN bridging, and check the result (`problems` is empty when it is usable)."""
    vios = destination.management_partition
    adapters = [(SCSI, a.slot, a.remote_slot, "") for a in sorted(partition.scsi_adapters, key=lambda a: a.slot)]
    adapters += [(FC, a.slot, a.remote_slot, a.fc_port) for a in sorted(partition.fc_adapters, key=lambda a: a.slot)]

    # Pass 1: keep the source server slot wherever the destination allows it.
    chosen: dict[tuple[str, int], int] = {}
    notes: list[MappingNote] = []
    for kind, client_slot, source_slot, _ in adapters:
        problem = slot_problem(vios, source_slot)
        if problem is None and source_slot not in chosen.values():
            chosen[(kind, client_slot)] = source_slot
            notes.append(MappingNote(kind, client_slot, f"keeps server slot {source_slot} as on the source"))
    # Pass 2: the rest get the lowest free slots.
    spare = iter(s for s in free_slots(vios) if s not in set(chosen.values()))
    for kind, client_slot, source_slot, _ in adapters:
        if (kind, client_slot) in chosen:
            continue
        problem = slot_problem(vios, source_slot)
        why = problem[1] if problem else f"slot {source_slot} is already given to another adapter"
        slot = next(spare, None)
        if slot is None:
            notes.append(MappingNote(kind, client_slot, f"no free server slot on {vios.name} ({why})"))
        else:
            chosen[(kind, client_slot)] = slot
            notes.append(MappingNote(kind, client_slot, f"server slot {source_slot} cannot be kept ({why}); "
                                                        f"uses slot {slot}"))

    capacity = {p.name: p.available_ports for p in destination.fc_ports if p.npiv_capable}
    rows = []
    for kind, client_slot, _, source_port in adapters:
        port = ""
        if kind == FC:
            port = _pick_fc_port(source_port, capacity)
            if port:
                capacity[port] -= 1
                if port != source_port:
                    notes.append(MappingNote(FC, client_slot, f"uses {port} instead of {source_port}: make sure "
                                                              f"{port} is on the same fabric"))
            else:
                notes.append(MappingNote(FC, client_slot, f"no NPIV port with a free virtual port on "
                                                          f"{destination.name}"))
        rows.append(AdapterMapping(kind, client_slot, "", vios.lpar_id, chosen.get((kind, client_slot)), port))

    ethernet = _ethernet_rows(partition, destination)
    rows_t = tuple(rows)
    return MappingPlan(
        partition=partition.name,
        destination=destination.name,
        vios_name=vios.name,
        vios_id=vios.lpar_id,
        rows=rows_t,
        ethernet=ethernet,
        vtds=_plan_vtds(partition, destination),
        notes=tuple(sorted(notes, key=lambda n: (n.kind != SCSI, n.client_slot))),
        problems=check_mappings(partition, destination, rows_t),
    )


def _ethernet_rows(partition: Partition, destination: ManagedSystem) -> tuple[EthernetMapping, ...]:
    bridged = set(destination.bridged_vlans)
    return tuple(
        EthernetMapping(a.slot, a.vlans, tuple(v for v in a.vlans if v not in bridged))
        for a in sorted(partition.ethernet_adapters, key=lambda a: a.slot)
    )


# ---------------------------------------------------------------------------------------------------------------
# Checking (after every edit, all rows again: one row's change can clear or cause another row's conflict)
# ---------------------------------------------------------------------------------------------------------------


def check_mappings(partition: Partition, destination: ManagedSystem,
                   rows: Sequence[AdapterMapping]) -> tuple[MappingProblem, ...]:
    """Every conflict in `rows` for this partition and destination, plus VLANs the destination does not bridge.
    Each problem names its row; a conflict between two rows is reported on both."""
    vios = destination.management_partition
    client_slots = {SCSI: {a.slot for a in partition.scsi_adapters}, FC: {a.slot for a in partition.fc_adapters}}
    ports = {p.name: p for p in destination.fc_ports}
    client_count = Counter((m.kind, m.client_slot) for m in rows)
    slot_count = Counter(m.vios_slot for m in rows if m.vios_slot is not None)
    port_use: Counter[str] = Counter()
    unclaimed = iter([s for s in free_slots(vios) if s not in slot_count])
    problems: list[MappingProblem] = []

    def add(i: int, m: AdapterMapping, code: str, message: str) -> None:
        problems.append(MappingProblem(m.kind, i, m.client_slot, code, _sentence(message), format_mapping(m)))

    for i, m in enumerate(rows):
        label = "virtual SCSI" if m.kind == SCSI else "virtual Fibre Channel"
        adapter = adapter_words(m.kind, m.client_slot)
        if m.client_slot not in client_slots[m.kind]:
            other = FC if m.kind == SCSI else SCSI
            extra = f" (slot {m.client_slot} is its {'virtual Fibre Channel' if other == FC else 'virtual SCSI'} " \
                    "adapter)" if m.client_slot in client_slots[other] else ""
            add(i, m, UNKNOWN_CLIENT_SLOT, f"{partition.name} has no {label} client adapter in slot "
                                           f"{m.client_slot}{extra}")
        if client_count[(m.kind, m.client_slot)] > 1:
            add(i, m, DUPLICATE_CLIENT_SLOT, f"{adapter} is mapped more than once")
        if (m.vios_name and m.vios_name != vios.name) or (m.vios_id is not None and m.vios_id != vios.lpar_id):
            given = m.vios_name or f"ID {m.vios_id}"
            add(i, m, UNKNOWN_VIOS, f"{adapter} is mapped to {given}, which is not the management partition of "
                                    f"{destination.name} ({vios.name}, ID {vios.lpar_id})")
        if m.vios_slot is None:  # IVM picks the slot itself: there must still be one left for it
            if next(unclaimed, None) is None:
                add(i, m, NO_FREE_SLOT, f"no free virtual slot is left on {vios.name} for IVM to choose for {adapter}")
        else:
            problem = slot_problem(vios, m.vios_slot)
            if problem is not None:
                code, clause = problem
                add(i, m, code, f"{clause}: choose another server slot for {adapter}")
            if slot_count[m.vios_slot] > 1:
                add(i, m, DUPLICATE_SLOT, f"virtual slot {m.vios_slot} on {vios.name} is given to more than one "
                                          f"adapter (here to {adapter}): each needs its own")
        if m.kind == FC and m.fc_port:
            port = ports.get(m.fc_port)
            if port is None:
                known = ", ".join(sorted(ports)) or "none"
                add(i, m, FC_PORT_UNKNOWN, f"{destination.name} has no Fibre Channel port {m.fc_port} "
                                           f"(it has: {known}); choose another port for {adapter}")
            elif not port.npiv_capable:
                add(i, m, FC_PORT_NOT_NPIV, f"{m.fc_port} on {destination.name} is not NPIV capable: {adapter} "
                                            "needs an NPIV port")
            else:
                port_use[m.fc_port] += 1
                if port_use[m.fc_port] > port.available_ports:
                    add(i, m, FC_PORT_FULL, f"{m.fc_port} on {destination.name} has only "
                                            f"{port.available_ports} free virtual ports, too few for {adapter} "
                                            "as well")

    for i, eth in enumerate(_ethernet_rows(partition, destination)):
        if eth.unbridged:
            vlans = ", ".join(str(v) for v in eth.unbridged)
            problems.append(MappingProblem(
                "eth", i, eth.client_slot, VLAN_NOT_BRIDGED,
                f"{destination.name} does not bridge VLAN {vlans} of the virtual Ethernet adapter in client slot "
                f"{eth.client_slot}."))
    return tuple(problems)


def edit_mapping(rows: Sequence[AdapterMapping], index: int, text: str) -> tuple[AdapterMapping, ...]:
    """Replace row `index` with the row a person typed (same kind); raises MappingSyntaxError if it does not parse."""
    if not 0 <= index < len(rows):
        raise IndexError(f"there is no mapping row {index}")
    new_rows = list(rows)
    new_rows[index] = parse_mapping(text, rows[index].kind)
    return tuple(new_rows)


def edit_plan(plan: MappingPlan, partition: Partition, destination: ManagedSystem, index: int,
              text: str) -> MappingPlan:
    """The plan with one row edited and every row checked again."""
    rows = edit_mapping(plan.rows, index, text)
    return replace(plan, rows=rows, problems=check_mappings(partition, destination, rows))
