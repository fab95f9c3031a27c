"""Pure planning core: requirement checks, destination ranking and adapter mappings for partition mobility.

Input is the estate (`estate.py`: servers and partitions as frozen dataclasses); output is plain data that
`to_dict()` turns into JSON for a plan version's snapshot. No Django, no database, no SSH: everything here is a function of its arguments.
"""

from .assessment import check_partition
from .checks import (
    Assessment,
    Check,
    Mode,
    PartitionProfile,
    Status,
    mode_for_state,
    profile_partition,
)
from .destination_rules import destination_checks
from .estate import (
    BackingDevice,
    EthernetAdapter,
    FcClientAdapter,
    FcPort,
    Hdisk,
    ManagedSystem,
    ManagementPartition,
    Partition,
    ScsiClientAdapter,
    partition_from_dict,
    system_from_dict,
)
from .mappings import (
    AdapterMapping,
    EthernetMapping,
    MappingNote,
    MappingPlan,
    MappingProblem,
    MappingSyntaxError,
    VtdPlan,
    check_mappings,
    edit_mapping,
    edit_plan,
    format_mapping,
    format_mappings,
    migrlpar_input,
    parse_mapping,
    parse_mappings,
    recommend_mappings,
)
from .partition_rules import partition_checks
from .ranking import (
    Candidate,
    CommonBlocker,
    Effect,
    Reason,
    common_blockers,
    distinct_reasons,
    evaluate_destination,
    rank_destinations,
)
from .serialize import to_jsonable

__all__ = [
    "AdapterMapping", "Assessment", "BackingDevice", "Candidate", "Check", "CommonBlocker", "Effect", "EthernetAdapter",
    "EthernetMapping", "FcClientAdapter", "FcPort", "Hdisk", "ManagedSystem", "ManagementPartition", "MappingNote",
    "MappingPlan", "MappingProblem", "MappingSyntaxError", "Mode", "Partition", "Reason", "ScsiClientAdapter",
    "Status", "VtdPlan", "check_mappings", "check_partition", "common_blockers", "destination_checks",
    "distinct_reasons", "edit_mapping", "edit_plan",
    "evaluate_destination", "format_mapping", "format_mappings", "migrlpar_input", "mode_for_state",
    "parse_mapping", "parse_mappings", "partition_checks", "rank_destinations", "recommend_mappings", "to_jsonable",
    "PartitionProfile", "profile_partition", "partition_from_dict", "system_from_dict",
]
