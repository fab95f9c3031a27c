"""``place_batch``: each member, largest memory first, on the best destination with room left once the earlier
members are counted; the immovable ones listed with every reason and its fix. Pure: plain data in, plain data out."""

from dataclasses import replace

from mobility.planning import Mode
from mobility.planning.batch import GIVEN, place_batch
from tests.planning.fleet import partition, shared_hdisks, system, vios


def _estate(parts, *, memory=(40960, 40960), slots=200):
    luns = shared_hdisks(tuple(parts))
    source = system("src", "06A0001", partitions=tuple(parts), memory_available_mb=4096)
    dests = tuple(system(f"dst{i}", f"06B000{i}", memory_available_mb=mem, hdisks=luns,
                         management_partition=vios(f"vios{i}", max_virtual_slots=slots))
                  for i, mem in enumerate(memory, start=1))
    return source, dests


def test_room_is_counted_as_members_are_placed():
    parts = [partition(f"lp{i}", 10 + i, memory_mb=mb) for i, mb in enumerate((16384, 16384, 8192, 8192, 4096))]
    source, dests = _estate(parts, memory=(36864, 20480))
    result = place_batch(parts, source, dests)
    assert [p.partition for p in result.placed] == ["lp0", "lp1", "lp2", "lp3", "lp4"]  # largest memory first
    used = {}
    for p in result.placed:
        used[p.destination] = used.get(p.destination, 0) + next(x.memory_mb for x in parts if x.name == p.partition)
    assert used["dst1"] <= 36864 and used["dst2"] <= 20480  # never more than each server has free
    assert not result.immovable
    # The reasons are the wizard's, plus how loaded the batch already makes the destination.
    keys = {r.key for r in result.placed[1].reasons}
    assert {"memory_headroom", "batch_load", "memory"} <= keys


def test_a_member_that_no_longer_fits_is_listed_with_why_and_the_fix_and_the_rest_go_on():
    parts = [partition("big", 11, memory_mb=32768), partition("bigger", 12, memory_mb=36864),
             partition("small", 13, memory_mb=2048),
             partition("physio", 14, physical_io_slots=("U78A0.001-P1-C3",))]
    source, dests = _estate(parts, memory=(40960,))
    result = place_batch(parts, source, dests)
    assert [p.partition for p in result.placed] == ["bigger", "small"]
    why = {p.partition: p.why_not() for p in result.immovable}
    assert set(why) == {"big", "physio"}
    assert any(r["key"] == "memory" and "short" in r["why"] and r["fix"] for r in why["big"])
    assert any(r["key"] == "physical_io" and r["fix"] for r in why["physio"])


def test_server_slots_given_to_earlier_members_are_not_given_again():
    parts = [partition(f"lp{i}", 10 + i, memory_mb=1024,
                       scsi_adapters=partition(f"lp{i}", 10 + i).scsi_adapters) for i in range(4)]
    source, dests = _estate(parts, memory=(65536,))
    slots = [r.vios_slot for p in place_batch(parts, source, dests, order=GIVEN).placed for r in p.mappings]
    assert len(slots) == 4 and len(set(slots)) == 4


def test_the_batch_spreads_over_destinations_and_waits_for_busy_slots():
    parts = [partition(f"lp{i}", 10 + i, memory_mb=1024) for i in range(6)]
    source, dests = _estate(parts, memory=(65536, 65536, 65536))
    busy = tuple(replace(d, active_migrations_in_progress=8) if d.name == "dst3" else d for d in dests)
    result = place_batch(parts, source, busy)
    assert {p.destination for p in result.placed} == {"dst1", "dst2", "dst3"}  # busy now is not full for a batch
    assert all(p.mode is Mode.ACTIVE for p in result.placed)


def test_a_pinned_destination_and_its_mappings_are_kept():
    parts = [partition("lp0", 10, memory_mb=1024)]
    source, dests = _estate(parts, memory=(65536, 65536))
    first = place_batch(parts, source, dests, pinned={"lp0": ("dst2", None)}).placed[0]
    assert first.destination == "dst2"
    rows = tuple(replace(r, vios_slot=150) for r in first.mappings)
    again = place_batch(parts, source, dests, pinned={"lp0": ("dst2", rows)}).placed[0]
    assert [r.vios_slot for r in again.mappings] == [150]
