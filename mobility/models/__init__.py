"""ivmweb's entities. The database is the truth for inventory, plans, migrations and the audit trail."""

from mobility.models.approvals import Approval
from mobility.models.audit import AuditEvent, AuditVerification
from mobility.models.inventory import (
    FCPort,
    IOSlot,
    IVMConsole,
    ManagedSystem,
    Partition,
    SharedEthernetAdapter,
    StorageDevice,
    VirtualAdapter,
)
from mobility.models.migrations import AdapterMapping, Migration, MigrationEvent, MigrationStep, PlanVersion
from mobility.models.teams import Team
from mobility.models.workers import WorkerHeartbeat

__all__ = [
    "AdapterMapping",
    "Approval",
    "AuditEvent",
    "AuditVerification",
    "FCPort",
    "IOSlot",
    "IVMConsole",
    "ManagedSystem",
    "Migration",
    "MigrationEvent",
    "MigrationStep",
    "Partition",
    "PlanVersion",
    "SharedEthernetAdapter",
    "StorageDevice",
    "Team",
    "VirtualAdapter",
    "WorkerHeartbeat",
]
