"""Every requirement check for one move: the partition's own rules, then (with a destination) the destination's."""

from __future__ import annotations

from .checks import (
    Assessment,
    Mode,
    mode_for_state,
)
from .destination_rules import destination_checks
from .estate import (
    ManagedSystem,
    Partition,
)
from .partition_rules import partition_checks


def check_partition(partition: Partition, source: ManagedSystem, destination: ManagedSystem | None = None,
                    mode: Mode | None = None) -> Assessment:
    """Every requirement check for moving `partition` off `source` (to `destination`, when given)."""
    effective = mode or mode_for_state(partition.state)
    checks = partition_checks(partition, source, mode)
    if destination is not None:
        checks += destination_checks(partition, source, destination, mode)
    return Assessment(
        partition=partition.name,
        source=source.name,
        destination=destination.name if destination else None,
        mode=effective,
        checks=tuple(checks),
    )
