"""Status vocabularies and the 11-step table, in one place.

The IVM strings (partition states, migration states) are IVM's own spellings (ivm-cli.md §4.2–§4.3);
ivmweb's own statuses are lower-case slugs.
"""

from dataclasses import dataclass

from django.db import models


class Role(models.TextChoices):
    """Roles are Django groups with these names (created by a data migration)."""

    REQUESTER = "requester", "Requester"
    APPROVER = "approver", "Approver"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Admin"


class PartitionEnv(models.TextChoices):
    AIXLINUX = "aixlinux", "AIX or Linux"
    VIOSERVER = "vioserver", "Virtual I/O Server"
    OS400 = "os400", "IBM i"


class PartitionState(models.TextChoices):
    """`state` as IVM prints it in `lssyscfg -r lpar`."""

    RUNNING = "Running"
    NOT_ACTIVATED = "Not Activated"
    STARTING = "Starting"
    SHUTTING_DOWN = "Shutting Down"
    OPEN_FIRMWARE = "Open Firmware"
    ERROR = "Error"
    NOT_AVAILABLE = "Not Available"
    MIGRATING_RUNNING = "Migrating - Running"
    MIGRATING_NOT_ACTIVATED = "Migrating - Not Activated"
    SUSPENDED = "Suspended"
    SUSPENDING = "Suspending"
    RESUMING = "Resuming"
    HARDWARE_DISCOVERY = "Hardware Discovery"


class MigrationMode(models.TextChoices):
    ACTIVE = "active", "Active (running partition)"
    INACTIVE = "inactive", "Inactive (shut-down partition)"


class AdapterKind(models.TextChoices):
    ETHERNET = "eth", "Virtual Ethernet"
    SCSI = "scsi", "Virtual SCSI"
    FC = "fc", "Virtual Fibre Channel"


class AdapterRole(models.TextChoices):
    CLIENT = "client", "Client"
    SERVER = "server", "Server"


class MigrationStatus(models.TextChoices):
    """ivmweb's life cycle of a migration request."""

    PENDING_APPROVAL = "pending_approval", "Waiting for approval"
    APPROVED = "approved", "Approved"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    STOPPING = "stopping", "Stopping"
    RECOVERING = "recovering", "Recovering"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def terminal(cls) -> frozenset["MigrationStatus"]:
        """Finished for good: no worker will touch it again."""
        return frozenset({cls.COMPLETED, cls.FAILED, cls.STOPPED, cls.REJECTED, cls.EXPIRED, cls.CANCELLED})

    @classmethod
    def active(cls) -> frozenset["MigrationStatus"]:
        """A worker is driving it (or must resume driving it after a crash)."""
        return frozenset({cls.RUNNING, cls.STOPPING, cls.RECOVERING})

    @classmethod
    def unfinished(cls) -> frozenset["MigrationStatus"]:
        return frozenset(set(cls) - cls.terminal())


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"

    @classmethod
    def terminal(cls) -> frozenset["StepStatus"]:
        return frozenset({cls.DONE, cls.FAILED, cls.SKIPPED})


@dataclass(frozen=True)
class StepDefinition:
    number: int
    key: str
    title: str
    active: bool
    inactive: bool

    def applies_to(self, mode: str) -> bool:
        return self.active if mode == MigrationMode.ACTIVE else self.inactive


# The corrected table of ivm-cli.md §1.2 (the scraped seed puts step 2 under Active; it is inactive-only).
STEPS: tuple[StepDefinition, ...] = (
    StepDefinition(1, "requirements", "Confirm every requirement is met", True, True),
    StepDefinition(2, "shutdown", "Shut down the mobile partition", False, True),
    StepDefinition(3, "start", "Start the migration (migrlpar -o m)", True, True),
    StepDefinition(4, "mappings", "Work out the virtual adapter mappings", True, True),
    StepDefinition(5, "prepare", "Prepare both environments", True, True),
    StepDefinition(6, "transfer", "Move the partition state", True, True),
    StepDefinition(7, "suspend", "Suspend on the source", True, False),
    StepDefinition(8, "resume", "Resume on the destination", True, False),
    StepDefinition(9, "complete", "Complete and reclaim source resources", True, True),
    StepDefinition(10, "activate", "Activate on the destination", False, True),
    StepDefinition(11, "postrequisites", "Follow-up tasks", True, True),
)
STEP_BY_NUMBER = {step.number: step for step in STEPS}


def steps_for(mode: str) -> tuple[StepDefinition, ...]:
    """The steps of the seed that apply to an active or inactive migration."""
    if mode not in MigrationMode.values:
        raise ValueError(f"unknown migration mode {mode!r}")
    return tuple(step for step in STEPS if step.applies_to(mode))
