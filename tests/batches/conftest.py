"""Batch tests: a generated fleet (``tests/batches/fleet.py``: 12 partitions on ivm1, one of them immovable, three
empty destinations, every IVM limited to 4 active migrations), registered and synced, every partition owned by
Payments (rita asks, alex approves), real worker processes running the member jobs and migrations."""

import re
from datetime import datetime

import pytest

from tests.batches.fleet import write_fleet
from tests.engine.conftest import engine, estate, wait_for, workers  # noqa: F401,F811  (fixtures used by these tests)
from tests.simfleet import SimFleet

TIME_SCALE = 40.0
MEMBERS = 12 - 1  # movable partitions of the 12 on ivm1


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    path = write_fleet(tmp_path_factory.mktemp("fleet") / "evacuate.toml", MEMBERS, limit=4)
    with SimFleet(path, time_scale=TIME_SCALE, seed=3) as sim:
        yield sim


@pytest.fixture
def payments(estate, personas):  # noqa: F811
    from mobility.models import Partition, Team

    team = Team.objects.get(name="Payments")
    Partition.objects.exclude(env="vioserver").update(team=team)
    return team


def server(ivm: str):
    from mobility.models import ManagedSystem

    return ManagedSystem.objects.select_related("console").get(console__name=ivm)


def batch_status(batch_id: int) -> str:
    from mobility.models import Batch

    return Batch.objects.values_list("status", flat=True).get(pk=batch_id)


def wait_batch(batch_id: int, *statuses: str, timeout: float = 120.0):
    from mobility.models import Batch, Migration

    try:
        wait_for(lambda: batch_status(batch_id) in statuses, timeout, 0.3, what=f"batch {batch_id} to be {statuses}")
    except AssertionError as exc:
        members = list(Migration.objects.filter(batch_id=batch_id).values_list("partition__name", "status", "outcome"))
        raise AssertionError(f"{exc}: {Batch.objects.filter(pk=batch_id).values().first()}; members {members}") from None
    return Batch.objects.get(pk=batch_id)


def lpars(fleet, ivm: str) -> set[str]:
    _, out, _ = fleet.ssh(ivm, "lssyscfg -r lpar -F name,lpar_env")
    return {line.split(",")[0] for line in out.split() if line and not line.endswith("vioserver")}


def running_intervals(fleet, ivm: str, names) -> dict[str, tuple[float, float]]:
    """From the source IVM's command log: each partition's ``migrlpar -o m`` and the last command that still asked
    about it there (the engine asks until it sees the move complete): an interval that covers its run."""
    found: dict[str, list[float]] = {}
    for row in fleet.command_log(ivm):
        cmd, at = row["command"], datetime.fromisoformat(row["time"].replace("Z", "+00:00")).timestamp()
        for name in names:
            if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", cmd):
                if re.search(r"migrlpar\s.*-o\s*m\b", cmd):
                    found.setdefault(name, [at, at])[0] = at
                    found[name][1] = max(found[name][1], at)
                elif name in found:
                    found[name][1] = at
    return {k: (v[0], v[1]) for k, v in found.items()}


def most_at_once(intervals) -> int:
    edges = sorted([(a, 1) for a, _ in intervals.values()] + [(b, -1) for _, b in intervals.values()],
                   key=lambda e: (e[0], e[1]))
    now = best = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best
