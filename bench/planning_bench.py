"""Benchmark: rank 200 candidate servers for a partition with 32 virtual adapters.

Goal: median ≤ 50 ms. Run from the repository root:  .venv/bin/python bench/planning_bench.py [--runs N]

Every candidate passes every check (the slowest path: no rule stops early), each has 128 hdisks, 24 partitions
and 64 used virtual slots. The baselines, measured in the same run, show the floor: iterating the 200
servers and making a shallow copy of each (`dataclasses.replace`), and a deep copy of each.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mobility.planning import rank_destinations, recommend_mappings  # noqa: E402
from mobility.planning.estate import (  # noqa: E402
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

CANDIDATES = 200
CAPABILITIES = ("active_lpar_mobility_capable", "inactive_lpar_mobility_capable", "virtual_fc_capable")


def lun(n: int) -> str:
    return f"33213600507630081800{n:08d}04214503IBMfcp"


def mobile_partition() -> Partition:
    """32 adapters: 8 virtual Ethernet, 16 virtual SCSI (2 hdisks each), 8 virtual FC."""
    eth = tuple(EthernetAdapter(2 + i, 10 + i, (100 + i, 200 + i)) for i in range(8))
    scsi = tuple(
        ScsiClientAdapter(20 + i, 40 + i, (
            BackingDevice("hdisk", f"hdisk{2 * i}", f"bench_vtd{2 * i}", lun(2 * i), "no_reserve"),
            BackingDevice("hdisk", f"hdisk{2 * i + 1}", f"vtscsi{2 * i + 1}", lun(2 * i + 1), "no_reserve"),
        ))
        for i in range(16)
    )
    fc = tuple(FcClientAdapter(60 + i, 80 + i, (f"c0507609ab00{i:02x}00", f"c0507609ab00{i:02x}01"), f"fcs{i % 2}")
               for i in range(8))
    return Partition(11, "bench01", "aixlinux", "Running", "active", True, True, "Not Migrating", "POWER7", "default",
                     32768, 4.0, 8, (), eth, scsi, fc)


def server(i: int, partition: Partition) -> ManagedSystem:
    vlans = tuple(sorted({v for a in partition.ethernet_adapters for v in a.vlans} | set(range(300, 340))))
    hdisks = tuple(Hdisk(f"hdisk{n}", lun(n), "no_reserve") for n in range(128))
    others = tuple(
        Partition(100 + k, f"s{i}_lp{k}", "aixlinux", "Running", "active", True, True, "Not Migrating", "POWER7",
                  "default", 4096, 0.5, 1)
        for k in range(24)
    )
    return ManagedSystem(
        name=f"server{i:03d}", type_model="8205-E6C", serial=f"06{i:05d}", ivm_address=f"10.0.{i // 250}.{i % 250}",
        capabilities=CAPABILITIES, compat_modes=("default", "POWER6", "POWER6+", "POWER7"), mem_region_size_mb=128,
        memory_installed_mb=262144, memory_available_mb=65536 + 512 * i, proc_units_installed=32.0,
        proc_units_available=8.0 + (i % 17), active_migrations_supported=8, active_migrations_in_progress=i % 4,
        inactive_migrations_supported=64, inactive_migrations_in_progress=0,
        management_partition=ManagementPartition(1, f"vios{i}", 256, tuple(range(11)) + tuple(range(11, 64)),
                                                 tuple(f"vtscsi{n}" for n in range(48))),
        bridged_vlans=vlans, hdisks=hdisks, fc_ports=(FcPort("fcs0", True, 64), FcPort("fcs1", True, 64)),
        partitions=others,
    )


def timed(fn, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each run. CPU time shows our own cost when other work shares the cores."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def summary(label: str, measured: tuple[list[float], list[float]]) -> str:
    wall, cpu = measured
    return (f"{label:<44} median {statistics.median(wall):8.2f} ms   p95 {p95(wall):8.2f} ms   "
            f"cpu median {statistics.median(cpu):8.2f} ms   (n={len(wall)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    partition = mobile_partition()
    source = dataclasses.replace(server(999, partition), name="source", partitions=(partition,))
    candidates = [server(i, partition) for i in range(CANDIDATES)]

    ranked = rank_destinations(partition, source, candidates)  # warm-up and sanity check
    assert len(ranked) == CANDIDATES and all(c.eligible for c in ranked), [c.blocking for c in ranked][:1]
    assert len(partition.ethernet_adapters) + partition.client_slot_count == 32

    baseline = timed(lambda: [dataclasses.replace(s) for s in candidates], args.runs)
    deep = timed(lambda: [copy.deepcopy(s) for s in candidates], max(5, args.runs // 10))
    ranking = timed(lambda: rank_destinations(partition, source, candidates), args.runs)
    best = next(s for s in candidates if s.name == ranked[0].system)
    mapping = timed(lambda: recommend_mappings(partition, best), args.runs)

    print(f"rank {CANDIDATES} candidates for a partition with 32 adapters; goal: median <= 50 ms")
    print(summary("baseline: iterate + shallow copy 200 systems", baseline))
    print(summary("baseline: iterate + deep copy 200 systems", deep))
    print(summary("rank_destinations (200 candidates)", ranking))
    print(summary("recommend_mappings (1 destination)", mapping))
    median = statistics.median(ranking[0])
    print(f"best: {ranked[0].system} score {ranked[0].score}; goal {'met' if median <= 50 else 'NOT met'}")
    return 0 if median <= 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
