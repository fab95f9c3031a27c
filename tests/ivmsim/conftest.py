"""Shared fixtures for the simulator's tests: one simulator per module, reached over real SSH."""

from __future__ import annotations

import pytest

from tests.simfleet import DEMO_FLEET, SimFleet

SYS1, SYS2, SYS3, SYS4 = ("Server-8205-E6C-SN06A1001", "Server-8205-E6C-SN06A2002", "Server-8286-42A-SN21C3003",
                          "Server-8231-E2B-SN10D4004")
IP = {"ivm1": "127.0.1.1", "ivm2": "127.0.1.2", "ivm3": "127.0.1.3", "ivm4": "127.0.1.4"}
NAME = {"ivm1": SYS1, "ivm2": SYS2, "ivm3": SYS3, "ivm4": SYS4}


@pytest.fixture(scope="module")
def demo():
    """The demo fleet at a high time scale, fresh for each test module."""
    with SimFleet(DEMO_FLEET, time_scale=200.0, seed=1) as fleet:
        yield fleet


def migrlpar(op: str, lpar: str, dest: str, extra: str = "") -> str:
    """A migrlpar command line towards IVM ``dest`` (as ivmweb would build it)."""
    return f'migrlpar -o {op} -t "{NAME[dest]}" --ip {IP[dest]} -u padmin -p {lpar} {extra}'.strip()
