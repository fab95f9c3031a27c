"""How the API shapes its data. Serializers only shape: every answer about who may see or do what, and every rule
of a plan, a vote or a move, comes from the services the views call. Times are ISO 8601 (UTC), byte counts integers,
memory in MB as the IVM reports it.

Input serializers only type the fields (numbers are numbers, enums are enums) for the schema; the rules on the values
are the pages' forms' and services' (``MappingForm``, ``SubmitForm``, ``VoteForm``, ``HistoryFilterForm``)."""

from zoneinfo import available_timezones

from rest_framework import serializers

from mobility import plans
from mobility.choices import MigrationMode, MigrationStatus
from mobility.models import (
    ApiToken,
    Approval,
    AuditEvent,
    Batch,
    BatchApproval,
    BatchStatus,
    IVMConsole,
    IVMJob,
    ManagedSystem,
    Migration,
    MigrationEvent,
    MigrationStep,
    Partition,
    PlanVersion,
    StorageDevice,
    VirtualAdapter,
)


class Ref(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class UserRef(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


# --- who am I ----------------------------------------------------------------------------------------------------

class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scope", "created_at", "expires_at", "last_used_at", "last_address",
                  "revoked_at", "is_active"]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    teams = serializers.ListField(child=serializers.CharField())
    token = TokenSerializer(allow_null=True)


# --- inventory ---------------------------------------------------------------------------------------------------

class ConsoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = IVMConsole
        fields = ["id", "name", "host", "port", "username", "enabled", "host_key_fingerprint", "last_sync_at",
                  "last_sync_ok_at", "last_sync_error", "last_sync_duration_s", "created_at"]


class ServerSerializer(serializers.ModelSerializer):
    console = serializers.CharField(source="console.name")
    mtms = serializers.CharField()

    class Meta:
        model = ManagedSystem
        fields = ["id", "name", "mtms", "type_model", "serial", "state", "console", "capabilities", "compat_modes",
                  "mem_region_size_mb", "memory_installed_mb", "memory_configurable_mb", "memory_available_mb",
                  "proc_units_installed", "proc_units_configurable", "proc_units_available",
                  "active_migrations_supported", "active_migrations_in_progress", "inactive_migrations_supported",
                  "inactive_migrations_in_progress", "synced_at"]


class PartitionSerializer(serializers.ModelSerializer):
    server = Ref(source="system")
    team = serializers.CharField(source="team.name", allow_null=True, default=None)
    mode = serializers.SerializerMethodField(help_text="The move IVM would make now (null: it cannot move now)")

    class Meta:
        model = Partition
        fields = ["id", "name", "lpar_id", "server", "team", "env", "state", "rmc_state", "os_version", "memory_mb",
                  "proc_mode", "proc_units", "procs", "migration_state", "quarantine_reason", "mode", "synced_at",
                  "vanished_at"]

    def get_mode(self, partition) -> str | None:
        return plans.mode_of(partition)


class AdapterSerializer(serializers.ModelSerializer):
    class Meta:
        model = VirtualAdapter
        fields = ["kind", "slot", "role", "is_required", "remote_lpar_id", "remote_lpar_name", "remote_slot",
                  "port_vlan_id", "addl_vlan_ids", "is_trunk", "mac_addr", "wwpns", "device_name", "fc_port"]


class DiskSerializer(serializers.ModelSerializer):
    class Meta:
        model = StorageDevice
        fields = ["name", "kind", "unique_id", "reserve_policy", "vtd_name"]


class PartitionDetailSerializer(PartitionSerializer):
    adapters = AdapterSerializer(many=True)
    disks = DiskSerializer(many=True, source="backing_devices")

    class Meta(PartitionSerializer.Meta):
        fields = [*PartitionSerializer.Meta.fields, "dlpar_mem_capable", "dlpar_proc_capable", "curr_compat_mode",
                  "max_virtual_slots", "adapters", "disks"]


# --- planning ----------------------------------------------------------------------------------------------------

class CheckSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=["ok", "warning", "error"])
    message = serializers.CharField()
    remedy = serializers.CharField(allow_blank=True)
    is_error = serializers.BooleanField()


class ReasonSerializer(serializers.Serializer):
    key = serializers.CharField()
    effect = serializers.ChoiceField(choices=["positive", "negative", "blocking"])
    text = serializers.CharField()
    points = serializers.FloatField()
    figures = serializers.DictField()


class DestinationSerializer(serializers.Serializer):
    server = Ref()
    eligible = serializers.BooleanField()
    score = serializers.FloatField()
    reasons = ReasonSerializer(many=True)
    blocking = CheckSerializer(many=True)


class DestinationsSerializer(serializers.Serializer):
    partition = Ref()
    mode = serializers.CharField(allow_null=True)
    partition_checks = CheckSerializer(many=True)
    partition_blocked = serializers.BooleanField()
    destinations = DestinationSerializer(many=True, help_text="Eligible first, by score; then the excluded ones")


class MappingSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["scsi", "fc"])
    client_slot = serializers.IntegerField(min_value=0)
    vios_name = serializers.CharField(required=False, allow_blank=True)
    vios_id = serializers.IntegerField(required=False, allow_null=True)
    vios_slot = serializers.IntegerField(allow_null=True, required=False,
                                         help_text="The destination server slot; null lets IVM choose")
    fc_port = serializers.CharField(required=False, allow_blank=True, help_text="vFC only: fcsN, or empty")


class PlanInput(serializers.Serializer):
    partition = serializers.IntegerField(min_value=1)
    destination = serializers.IntegerField(min_value=1, help_text="The destination server's id")
    mode = serializers.ChoiceField(choices=MigrationMode.choices, required=False, allow_null=True,
                                   help_text="Omit to follow the partition's state; 'inactive' for a Running "
                                             "partition shuts it down first")
    mappings = MappingSerializer(many=True, required=False,
                                 help_text="Changes to the recommended mappings, by kind and client slot")


class ValidateInput(PlanInput):
    digest = serializers.CharField(max_length=64, required=False,
                                   help_text="The digest of the draft the caller read: refused (409) if it changed")


class SubmitInput(PlanInput):
    reason = serializers.CharField(max_length=2000)
    wished_start = serializers.DateTimeField(required=False, allow_null=True)
    activate_on_destination = serializers.BooleanField(required=False, default=False)
    digest = serializers.CharField(max_length=64, help_text="The digest of the draft the caller read")


class ProblemSerializer(serializers.Serializer):
    kind = serializers.CharField()
    client_slot = serializers.IntegerField()
    message = serializers.CharField()


class IvmMessageSerializer(serializers.Serializer):
    code = serializers.CharField(allow_blank=True)
    text = serializers.CharField(allow_blank=True)


class ValidationResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    command = serializers.CharField(allow_blank=True)
    checks = serializers.DictField(child=IvmMessageSerializer(many=True),
                                   help_text="IVM's messages per check key")
    ivm_says = IvmMessageSerializer(many=True)
    error = serializers.CharField(allow_blank=True)
    ran_at = serializers.DateTimeField()


class DraftSerializer(serializers.Serializer):
    partition = Ref()
    destination = Ref()
    mode = serializers.CharField(allow_null=True)
    digest = serializers.CharField(help_text="Send it back with submit: a plan made on an older inventory is refused")
    checks = CheckSerializer(many=True)
    mappings = MappingSerializer(many=True)
    recommended = MappingSerializer(many=True)
    problems = ProblemSerializer(many=True)
    ready = serializers.BooleanField(help_text="No check and no mapping blocks the plan")
    validation = ValidationResultSerializer(allow_null=True, help_text=(
        "Null in a draft: IVM's answer is the result of a validation job (plans/validate/)"))


class PlanVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username")
    mappings = serializers.SerializerMethodField()
    mode = serializers.SerializerMethodField()
    options = serializers.SerializerMethodField()
    checks = serializers.SerializerMethodField()
    validation = serializers.SerializerMethodField()

    class Meta:
        model = PlanVersion
        fields = ["version", "content_hash", "created_by", "created_at", "mode", "mappings", "options", "checks",
                  "validation"]

    def get_mappings(self, plan) -> list[dict]:
        return plan.snapshot.get("mappings", [])

    def get_mode(self, plan) -> str:
        return plan.snapshot.get("mode", "")

    def get_options(self, plan) -> dict:
        return plan.snapshot.get("options", {})

    def get_checks(self, plan) -> list[dict]:
        return plan.snapshot.get("checks", [])

    def get_validation(self, plan) -> dict | None:
        return plan.snapshot.get("validation")


class DriftSerializer(serializers.Serializer):
    check = serializers.CharField()
    title = serializers.CharField()
    field = serializers.CharField()
    before = serializers.JSONField(help_text="Any JSON value, null included")
    after = serializers.JSONField(help_text="Any JSON value, null included")


class PlanSerializer(serializers.Serializer):
    migration = serializers.IntegerField()
    revisable = serializers.BooleanField()
    latest = PlanVersionSerializer()
    versions = serializers.ListField(child=serializers.DictField())
    drift = DriftSerializer(many=True)
    digest = serializers.CharField(allow_null=True, help_text="The inventory digest now (send it with a revision)")


class ReviseInput(serializers.Serializer):
    mappings = MappingSerializer(many=True)
    digest = serializers.CharField(max_length=64, required=False)


# --- IVM jobs ----------------------------------------------------------------------------------------------------

class JobSerializer(serializers.ModelSerializer):
    """What the API asked of an IVM, run by the engine's workers (never inside the request)."""

    url = serializers.SerializerMethodField(help_text="This job's address: poll it until ``finished``")
    finished = serializers.BooleanField(read_only=True, help_text="done, failed or timed_out: the job will not change again")
    migration = serializers.IntegerField(source="migration_id", allow_null=True,
                                         help_text="The migration whose plan it validates or revises, if any")
    result = serializers.JSONField(help_text=(
        "Once done: a validation's IVM answer (as ``ValidationResult``: ok, command, checks, ivm_says, error, "
        "ran_at); a revision's ``{validation, version}`` when the new plan version was stored, or "
        "``{validation, refused}`` when nothing was saved. Empty ({}) before the end."))
    error = serializers.CharField(help_text="Why a failed or timed-out job did not finish (empty otherwise)")

    class Meta:
        model = IVMJob
        fields = ["id", "url", "kind", "status", "finished", "progress", "result", "error", "migration",
                  "created_at", "started_at", "finished_at"]

    def get_url(self, job) -> str:
        return f"/api/v1/jobs/{job.pk}/"


# --- approvals and migrations ------------------------------------------------------------------------------------

class MigrationSerializer(serializers.ModelSerializer):
    partition = Ref()
    source = Ref()
    destination = Ref()
    requester = UserRef()
    team = serializers.CharField(source="partition.team.name", allow_null=True, default=None)

    class Meta:
        model = Migration
        fields = ["id", "partition", "team", "source", "destination", "mode", "status", "requester", "reason",
                  "wished_start", "created_at", "started_at", "finished_at", "outcome", "percent",
                  "bytes_transmitted", "bytes_remaining", "suspend_window_s", "suspend_window_bound", "last_seq",
                  "stuck", "recover_needed"]


# The list's hot path: the same shape as MigrationSerializer, built from plain rows (``.values(*LIST_VALUES)``) for
# a page of 50 without model instances or per-field serializers (tests/api/test_hot_paths.py keeps them equal).
LIST_VALUES = ("id", "partition_id", "partition__name", "partition__team__name", "source_id", "source__name",
               "destination_id", "destination__name", "mode", "status", "requester_id", "requester__username",
               "reason", "wished_start", "created_at", "started_at", "finished_at", "outcome", "percent",
               "bytes_transmitted", "bytes_remaining", "suspend_window_s", "suspend_window_bound", "last_seq", "stuck",
               "recover_needed")


def _time_or_none(value):
    return None if value is None else iso_time(value)


def migration_row(v: dict) -> dict:
    """One migration of the list, as MigrationSerializer shapes it, from its ``LIST_VALUES``."""
    return {
        "id": v["id"], "partition": {"id": v["partition_id"], "name": v["partition__name"]},
        "team": v["partition__team__name"], "source": {"id": v["source_id"], "name": v["source__name"]},
        "destination": {"id": v["destination_id"], "name": v["destination__name"]}, "mode": v["mode"],
        "status": v["status"], "requester": {"id": v["requester_id"], "username": v["requester__username"]},
        "reason": v["reason"], "wished_start": _time_or_none(v["wished_start"]),
        "created_at": _time_or_none(v["created_at"]), "started_at": _time_or_none(v["started_at"]),
        "finished_at": _time_or_none(v["finished_at"]), "outcome": v["outcome"], "percent": float(v["percent"]),
        "bytes_transmitted": v["bytes_transmitted"], "bytes_remaining": v["bytes_remaining"],
        "suspend_window_s": None if v["suspend_window_s"] is None else float(v["suspend_window_s"]),
        "suspend_window_bound": v["suspend_window_bound"],
        "last_seq": v["last_seq"], "stuck": v["stuck"], "recover_needed": v["recover_needed"],
    }


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = MigrationStep
        fields = ["number", "key", "title", "status", "started_at", "finished_at", "detail", "data"]


class MigrationDetailSerializer(MigrationSerializer):
    steps = StepSerializer(many=True)
    queue_position = serializers.IntegerField(allow_null=True)
    actions = serializers.ListField(child=serializers.CharField(),
                                    help_text="What the caller may do now (the status allows it, and the policy)")
    plan_version = serializers.IntegerField(allow_null=True)
    plan_hash = serializers.CharField(allow_null=True)
    last_progress_at = serializers.DateTimeField(allow_null=True)

    class Meta(MigrationSerializer.Meta):
        fields = [*MigrationSerializer.Meta.fields, "last_progress_at", "queue_position", "plan_version",
                  "plan_hash", "actions", "steps"]


_TIME = serializers.DateTimeField()


def iso_time(value) -> str:
    """A time as ``serializers.DateTimeField`` writes it (ISO 8601, UTC as Z), for the hot paths that build dicts."""
    return _TIME.to_representation(value)


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = MigrationEvent
        fields = ["seq", "at", "kind", "payload"]


class VoteSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username")
    plan_version = serializers.IntegerField(source="plan.version")

    class Meta:
        model = Approval
        fields = ["id", "approver", "decision", "comment", "plan_version", "content_hash", "not_before", "not_after",
                  "created_at", "expires_at", "voided_at", "void_reason"]


class ApprovalSerializer(serializers.Serializer):
    migration = MigrationSerializer()
    plan = PlanVersionSerializer(allow_null=True)
    votes = VoteSerializer(many=True)
    waiting = serializers.BooleanField()
    can_vote = serializers.BooleanField()
    why_not = serializers.CharField(allow_null=True, help_text="Why the caller may not vote on it, if they may not")
    expires_at = serializers.DateTimeField(allow_null=True)
    runnable = serializers.BooleanField()
    runnable_why = serializers.CharField()


# Named once for the schema's enums (``SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]``): a migration's and a batch's
# votes share them.
VOTE_CHOICES = [("approved", "Approve"), ("rejected", "Reject")]
DECISIONS = Approval.Decision
BATCH_KINDS = Batch.Kind


class VoteInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=VOTE_CHOICES)
    plan_hash = serializers.CharField(max_length=64, help_text="The content hash of the plan version you read")
    comment = serializers.CharField(max_length=2000)
    not_before = serializers.DateTimeField(required=False, allow_null=True)
    not_after = serializers.DateTimeField(required=False, allow_null=True)


class WithdrawInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class RecoverInput(serializers.Serializer):
    force = serializers.BooleanField(required=False, default=False, help_text="Administrators only")


class TaskInput(serializers.Serializer):
    done = serializers.BooleanField()


class MigrationFilter(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=MigrationStatus.choices, required=False)
    mode = serializers.ChoiceField(choices=MigrationMode.choices, required=False)
    partition = serializers.CharField(required=False, max_length=255, help_text="Partition name")
    source = serializers.IntegerField(required=False, min_value=1, help_text="Source server id")
    destination = serializers.IntegerField(required=False, min_value=1, help_text="Destination server id")
    requester = serializers.CharField(required=False, max_length=150)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    ordering = serializers.ChoiceField(choices=["created_at", "-created_at", "id", "-id", "status", "-status"],
                                       required=False)


class PartitionFilter(serializers.Serializer):
    server = serializers.IntegerField(required=False, min_value=1)
    env = serializers.CharField(required=False, max_length=16)
    state = serializers.CharField(required=False, max_length=32)
    team = serializers.CharField(required=False, max_length=80)
    q = serializers.CharField(required=False, max_length=255, help_text="Part of the name")
    ordering = serializers.ChoiceField(choices=["name", "-name", "id", "-id", "state"], required=False)


# --- history and the audit trail ---------------------------------------------------------------------------------

class HistoryRowSerializer(serializers.ModelSerializer):
    partition = serializers.CharField(source="partition.name")
    team = serializers.CharField(source="partition.team.name", allow_null=True, default=None)
    source = serializers.CharField(source="source.name")
    destination = serializers.CharField(source="destination.name")
    requester = serializers.CharField(source="requester.username")
    approvers = serializers.CharField(source="votes_text", allow_null=True, default=None)
    duration_s = serializers.SerializerMethodField()

    class Meta:
        model = Migration
        fields = ["id", "created_at", "requester", "team", "partition", "source", "destination", "mode", "status",
                  "approvers", "started_at", "finished_at", "duration_s", "suspend_window_s", "outcome"]

    def get_duration_s(self, m) -> float | None:
        return round(m.duration.total_seconds(), 3) if getattr(m, "duration", None) is not None else None


class PairStatsSerializer(serializers.Serializer):
    source = serializers.CharField()
    destination = serializers.CharField()
    count = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    duration_p50 = serializers.FloatField(allow_null=True)
    duration_p95 = serializers.FloatField(allow_null=True)
    suspend_p50 = serializers.FloatField(allow_null=True)
    suspend_p95 = serializers.FloatField(allow_null=True)


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField(allow_null=True)
    kind = serializers.CharField()
    title = serializers.CharField()
    detail = serializers.CharField(allow_blank=True)
    actor = serializers.CharField(allow_blank=True)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "action", "object_type", "object_id", "data", "position", "prev_hash", "hash"]


class VerificationSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    ok = serializers.BooleanField()
    checked = serializers.IntegerField()
    head = serializers.CharField()
    problem = serializers.CharField(allow_blank=True)


class CheckpointSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    written = serializers.CharField()
    length = serializers.IntegerField()
    position = serializers.IntegerField()
    head = serializers.CharField()


class AuditStatusSerializer(serializers.Serializer):
    verification = VerificationSerializer(allow_null=True)
    checkpoint = CheckpointSerializer(allow_null=True)
    checkpoint_ok = serializers.BooleanField()
    checkpoint_problem = serializers.CharField(allow_blank=True)


# --- batches -----------------------------------------------------------------------------------------------------

class BatchTotalsSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    moved = serializers.IntegerField()
    running = serializers.IntegerField()
    waiting = serializers.IntegerField()
    failed = serializers.IntegerField()
    not_started = serializers.IntegerField()
    stayed = serializers.IntegerField(help_text="Partitions left out of the batch (listed in ``immovable``)")


class BatchSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.name")
    source = Ref(allow_null=True)
    requester = UserRef()
    origin = serializers.IntegerField(source="origin_id", allow_null=True, help_text="The evacuation moved back")
    totals = BatchTotalsSerializer()

    class Meta:
        model = Batch
        fields = ["id", "kind", "status", "team", "source", "requester", "reason", "only_running",
                  "stop_at_first_failure", "origin", "content_hash", "parallelism", "not_before", "not_after",
                  "created_at", "started_at", "finished_at", "outcome", "totals"]


class BatchMemberSerializer(serializers.ModelSerializer):
    partition = Ref()
    source = Ref()
    destination = Ref()

    class Meta:
        model = Migration
        fields = ["id", "batch_position", "partition", "source", "destination", "mode", "status", "started_at",
                  "finished_at", "percent", "outcome"]


class StayedReasonSerializer(serializers.Serializer):
    why = serializers.CharField()
    fix = serializers.CharField(allow_blank=True)


class StayedSerializer(serializers.Serializer):
    partition = serializers.CharField()
    partition_id = serializers.IntegerField(allow_null=True)
    reasons = StayedReasonSerializer(many=True)


class RemainingSerializer(serializers.Serializer):
    partition = serializers.CharField()
    state = serializers.CharField()
    member = serializers.IntegerField(allow_null=True, help_text="The member migration, if it is one")
    status = serializers.CharField()
    reasons = StayedReasonSerializer(many=True)


class BatchVoteSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username")

    class Meta:
        model = BatchApproval
        fields = ["approver", "decision", "comment", "content_hash", "not_before", "not_after", "time_zone",
                  "parallelism", "created_at"]


class BatchDetailSerializer(BatchSerializer):
    members = BatchMemberSerializer(many=True, help_text="In start order")
    immovable = StayedSerializer(many=True, help_text="Partitions that cannot move with this batch, why and the fix")
    remaining = RemainingSerializer(many=True, help_text="An evacuation: the source's client partitions still on it")
    eta = serializers.DateTimeField(allow_null=True, help_text="When the batch should end, at its pace so far")
    parallelism_cap = serializers.IntegerField(help_text="The most members the IVMs' own limits let run at once")
    last_vote = BatchVoteSerializer(allow_null=True)
    actions = serializers.ListField(child=serializers.CharField(),
                                    help_text="What the caller may do now (the status allows it, and the policy)")

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "parallelism_cap", "eta", "last_vote", "actions", "members",
                  "immovable", "remaining"]


class BatchFilter(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=BatchStatus.choices, required=False)
    kind = serializers.ChoiceField(choices=Batch.Kind.choices, required=False)


class EvacuateInput(serializers.Serializer):
    server = serializers.IntegerField(min_value=1, help_text="The server to empty")
    reason = serializers.CharField(max_length=500)
    only_running = serializers.BooleanField(required=False, default=False)
    stop_at_first_failure = serializers.BooleanField(required=False, default=False)


class PickInput(serializers.Serializer):
    partitions = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=500)
    reason = serializers.CharField(max_length=500)
    stop_at_first_failure = serializers.BooleanField(required=False, default=False)


ZONES = frozenset(available_timezones())


class BatchVoteInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=VOTE_CHOICES)
    batch_hash = serializers.CharField(min_length=64, max_length=64, help_text="The batch's hash as you read it")
    comment = serializers.CharField(max_length=2000)
    not_before = serializers.DateTimeField(required=False, allow_null=True)
    not_after = serializers.DateTimeField(required=False, allow_null=True)
    time_zone = serializers.CharField(required=False, default="UTC", max_length=64,
                                      help_text="The approver's time zone (IANA name), kept with the vote")
    parallelism = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=64)

    def validate_time_zone(self, value):
        if value not in ZONES:
            raise serializers.ValidationError(f"Unknown time zone {value!r}: an IANA name such as Europe/Paris.")
        return value


class BatchStopInput(serializers.Serializer):
    stop_running = serializers.BooleanField(required=False, default=False)
