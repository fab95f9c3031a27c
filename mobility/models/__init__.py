"""ivmweb's entities. The database is the truth for inventory, plans, migrations and the audit trail."""

from mobility.models.approvals import Approval
from mobility.models.audit import AuditEvent, AuditVerification
from mobility.models.batches import Batch, BatchApproval, BatchEvent, BatchStatus
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
from mobility.models.jobs import IVMJob
from mobility.models.migrations import AdapterMapping, Migration, MigrationEvent, MigrationStep, PlanVersion
from mobility.models.rehearsals import BatchRehearsal, Rehearsal
from mobility.models.teams import Team
from mobility.models.tokens import ApiToken
from mobility.models.workers import WorkerHeartbeat

__all__ = [
    "AdapterMapping",
    "ApiToken",
    "Approval",
    "AuditEvent",
    "AuditVerification",
    "Batch",
    "BatchApproval",
    "BatchEvent",
    "BatchRehearsal",
    "BatchStatus",
    "FCPort",
    "IOSlot",
    "IVMConsole",
    "IVMJob",
    "ManagedSystem",
    "Migration",
    "MigrationEvent",
    "MigrationStep",
    "Partition",
    "PlanVersion",
    "Rehearsal",
    "SharedEthernetAdapter",
    "StorageDevice",
    "Team",
    "VirtualAdapter",
    "WorkerHeartbeat",
]
