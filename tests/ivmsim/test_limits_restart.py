"""The concurrency limit, and a simulator restart in the middle of a migration (small two-server fleet)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivmsim import reference as ref
from tests.simfleet import SimFleet

PAIR = Path(__file__).parent / "fleets" / "pair.toml"
TO_B = 'migrlpar -o m --async -t "8205-E6C*0BBBBBB" --ip 127.0.1.2 -u padmin -p {}'
MIGR = "lslparmigr -r lpar --filter lpar_names={} -F migration_state"


@pytest.fixture(scope="module")
def pair():
    with SimFleet(PAIR, time_scale=200.0) as fleet:
        yield fleet


def test_active_migrations_are_limited_as_configured(pair):
    pair.ssh("ivma", "ivmsim-fault add stall-link")
    try:
        assert pair.ssh("ivma", TO_B.format("p1"))[0] == 0
        assert pair.ssh("ivma", TO_B.format("p2"))[0] == 0
        assert pair.ssh("ivma", "lslparmigr -r sys -F num_active_migrations_supported,"
                                "num_active_migrations_in_progress")[1] == "2,2\n"
        status, _, err = pair.ssh("ivma", TO_B.format("p3"))
        assert status != 0 and err.startswith(f"[{ref.MIGRATION_CODES['active_limit'][0]}]")
        assert pair.ssh("ivmb", "lslparmigr -r sys -F num_active_migrations_in_progress")[1] == "2\n"
        for name in ("p1", "p2"):
            assert pair.ssh("ivma", f"migrlpar -o s -p {name}")[0] == 0
        assert pair.ssh("ivma", "lslparmigr -r sys -F num_active_migrations_in_progress")[1] == "0\n"
    finally:
        pair.ssh("ivma", "ivmsim-fault clear all")


def test_a_restart_mid_migration_leaves_it_failed_until_recovered(pair):
    pair.ssh("ivma", "ivmsim-fault add stall-link")
    assert pair.ssh("ivma", TO_B.format("p1"))[0] == 0
    pair.wait_for("ivma", MIGR.format("p1"), lambda out: out == "Migration In Progress\n")
    assert pair.stop(cleanup=False) == 0  # SIGTERM: state flushed, exit 0
    pair.start()  # run-time faults are gone with the process; the state survives
    assert pair.ssh("ivma", MIGR.format("p1"))[1] == "Migration Failed\n"
    assert pair.ssh("ivmb", MIGR.format("p1"))[1] == "Migration Failed\n"
    assert pair.ssh("ivma", "lssyscfg -r lpar --filter lpar_names=p1 -F state")[1] == "Migrating - Running\n"
    assert pair.ssh("ivma", "lssyscfg -r lpar -F name")[1] == "viosa\np1\np2\np3\n"
    assert pair.ssh("ivma", "migrlpar -o r --force -p p1") == (0, "", "")
    assert pair.ssh("ivma", "lssyscfg -r lpar --filter lpar_names=p1 -F state")[1] == "Running\n"
    assert "No results" in pair.ssh("ivmb", "lssyscfg -r lpar --filter lpar_names=p1")[1]
    # a completed move survives a restart too
    assert pair.ssh("ivma", TO_B.replace(" --async", "").format("p1")) == (0, "", "")
    pair.restart()
    assert pair.ssh("ivmb", "lssyscfg -r lpar --filter lpar_names=p1 -F state")[1] == "Running\n"
