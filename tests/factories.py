"""Small builders for model rows, shared by tests (the demo estate comes from ivmsim over SSH)."""

import itertools

from mobility.models import IVMConsole, ManagedSystem, Partition

_counter = itertools.count(1)


def make_system(name: str | None = None, **fields) -> ManagedSystem:
    n = next(_counter)
    console = IVMConsole.objects.create(name=f"ivm{n}", host=f"127.0.9.{n % 250 + 1}", port=2200 + n)
    defaults = dict(name=name or f"Server-{n}", type_model="8205-E6C", serial=f"06{n:05d}",
                    mem_region_size_mb=256, memory_configurable_mb=65536, memory_available_mb=32768)
    defaults.update(fields)
    return ManagedSystem.objects.create(console=console, **defaults)


def make_partition(system: ManagedSystem, name: str, lpar_id: int, **fields) -> Partition:
    defaults = dict(env="aixlinux", state="Running", rmc_state="active", memory_mb=4096)
    defaults.update(fields)
    return Partition.objects.create(system=system, name=name, lpar_id=lpar_id, **defaults)
