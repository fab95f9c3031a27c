"""What the IVMs told us about the estate: consoles, servers, partitions, adapters, storage, networks.

Rows here are written only by inventory sync (and by the engine when a partition moves); people edit
just the IVM console registration and partition ownership.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from mobility import secrets
from mobility.choices import AdapterKind, AdapterRole, PartitionEnv


class IVMConsole(models.Model):
    """One IVM (the management partition of exactly one managed system), reached over SSH."""

    name = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255, help_text="Address or host name of the IVM")
    port = models.PositiveIntegerField(default=22, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    username = models.CharField(max_length=32, default="padmin")
    # The OpenSSH "type base64" key an admin accepted at first contact; empty until then.
    host_key = models.TextField(blank=True)
    host_key_fingerprint = models.CharField(max_length=100, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    private_key_encrypted = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_ok_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.TextField(blank=True)
    last_sync_duration_s = models.FloatField(null=True, blank=True)
    # sha256 of what the last applied sync parsed: a sync that parses the same skips the comparison with the
    # stored rows. Cleared by anything else that writes this IVM's inventory rows (the engine's rehome).
    inventory_digest = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "IVM console"
        constraints = [models.UniqueConstraint(fields=["host", "port"], name="ivm_console_unique_address")]

    def __str__(self) -> str:
        return f"{self.name} ({self.host})"

    # Secrets are write-only from the outside: set them, never show them.
    def set_password(self, password: str) -> None:
        self.password_encrypted = secrets.encrypt(password) if password else ""

    def get_password(self) -> str | None:
        return secrets.decrypt(self.password_encrypted) if self.password_encrypted else None

    def set_private_key(self, pem: str) -> None:
        self.private_key_encrypted = secrets.encrypt(pem) if pem else ""

    def get_private_key(self) -> str | None:
        return secrets.decrypt(self.private_key_encrypted) if self.private_key_encrypted else None

    @property
    def has_credentials(self) -> bool:
        return bool(self.password_encrypted or self.private_key_encrypted)


class ManagedSystem(models.Model):
    """A Power server as `lssyscfg -r sys`, `lshwres -r mem|proc --level sys` and `lslparmigr -r sys` show it."""

    console = models.OneToOneField(IVMConsole, on_delete=models.PROTECT, related_name="system")
    name = models.CharField(max_length=64)
    type_model = models.CharField(max_length=16)
    serial = models.CharField(max_length=16)
    state = models.CharField(max_length=32, blank=True)
    capabilities = models.JSONField(default=list, blank=True)
    compat_modes = models.JSONField(default=list, blank=True)
    mem_region_size_mb = models.PositiveIntegerField(default=0, help_text="Logical memory block size (MB)")
    memory_installed_mb = models.PositiveIntegerField(default=0)
    memory_configurable_mb = models.PositiveIntegerField(default=0)
    memory_available_mb = models.PositiveIntegerField(default=0)
    proc_units_installed = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    proc_units_configurable = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    proc_units_available = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    active_migrations_supported = models.PositiveIntegerField(default=0)
    active_migrations_in_progress = models.PositiveIntegerField(default=0)
    inactive_migrations_supported = models.PositiveIntegerField(default=0)
    inactive_migrations_in_progress = models.PositiveIntegerField(default=0)
    # Every virtual slot of the management partition in use (serial, reserved, adapters), from
    # ``lshwres -r virtualio --rsubtype slot --level slot``; its free slots are the rest up to max_virtual_slots.
    vios_used_slots = models.JSONField(default=list, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["type_model", "serial"], name="system_unique_mtms")]

    def __str__(self) -> str:
        return self.name

    @property
    def mtms(self) -> str:
        """The `tttt-mmm*ssssssss` form `migrlpar -t` accepts."""
        return f"{self.type_model}*{self.serial}"

    @property
    def management_partition(self) -> "Partition | None":
        return self.partitions.filter(env=PartitionEnv.VIOSERVER, vanished_at__isnull=True).first()


class Partition(models.Model):
    """A logical partition on a managed system; `lpar_id` 1 is the management partition (the IVM's VIOS)."""

    system = models.ForeignKey(ManagedSystem, on_delete=models.PROTECT, related_name="partitions")
    lpar_id = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(254)])
    # Wider than IVM's 47: a name that breaks the rules is still stored exactly as the IVM printed it.
    name = models.CharField(max_length=255)
    env = models.CharField(max_length=16, choices=PartitionEnv.choices)
    state = models.CharField(max_length=32)
    rmc_state = models.CharField(max_length=16, blank=True)
    os_version = models.CharField(max_length=80, blank=True)
    dlpar_mem_capable = models.BooleanField(default=False)
    dlpar_proc_capable = models.BooleanField(default=False)
    curr_compat_mode = models.CharField(max_length=16, blank=True)
    desired_compat_mode = models.CharField(max_length=16, blank=True)
    memory_mb = models.PositiveIntegerField(default=0, help_text="Current (or, if not activated, desired) memory")
    proc_mode = models.CharField(max_length=8, blank=True)
    proc_units = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    procs = models.PositiveSmallIntegerField(default=0)
    max_virtual_slots = models.PositiveIntegerField(default=0)
    migration_state = models.CharField(max_length=32, blank=True)
    mac_base = models.CharField(max_length=16, blank=True)
    team = models.ForeignKey("mobility.Team", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="partitions")
    synced_at = models.DateTimeField(null=True, blank=True)
    # A partition the IVM no longer lists is marked, never silently deleted: history points at it.
    vanished_at = models.DateTimeField(null=True, blank=True)
    # Why the values the IVM printed for it (its name, or one of its adapters) break IVM's rules; empty when
    # they do not. A quarantined partition is shown with the reason, never planned, never put into a command.
    quarantine_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["system__name", "lpar_id"]
        constraints = [
            models.UniqueConstraint(fields=["system", "name"], condition=Q(vanished_at__isnull=True),
                                    name="partition_unique_name_per_system"),
            models.UniqueConstraint(fields=["system", "lpar_id"], condition=Q(vanished_at__isnull=True),
                                    name="partition_unique_id_per_system"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (id {self.lpar_id} on {self.system.name})"

    @property
    def is_management(self) -> bool:
        return self.env == PartitionEnv.VIOSERVER

    @property
    def is_quarantined(self) -> bool:
        return bool(self.quarantine_reason)


class VirtualAdapter(models.Model):
    """A virtual Ethernet, SCSI or Fibre Channel adapter in a partition's slot."""

    partition = models.ForeignKey(Partition, on_delete=models.CASCADE, related_name="adapters")
    kind = models.CharField(max_length=4, choices=AdapterKind.choices)
    slot = models.PositiveIntegerField()
    role = models.CharField(max_length=8, choices=AdapterRole.choices, blank=True)
    is_required = models.BooleanField(default=False)
    remote_lpar_id = models.PositiveSmallIntegerField(null=True, blank=True)
    remote_lpar_name = models.CharField(max_length=255, blank=True)
    remote_slot = models.PositiveIntegerField(null=True, blank=True)
    # Ethernet
    port_vlan_id = models.PositiveSmallIntegerField(null=True, blank=True)
    addl_vlan_ids = models.JSONField(default=list, blank=True)
    is_trunk = models.BooleanField(default=False)
    mac_addr = models.CharField(max_length=12, blank=True)
    # Fibre Channel (client adapters carry the WWPN pair; the second logs in on the destination)
    wwpns = models.JSONField(default=list, blank=True)
    # Server side on the management partition: the VIOS device (vhostN, vfchostN) and its FC port
    device_name = models.CharField(max_length=32, blank=True)
    fc_port = models.CharField(max_length=32, blank=True)
    # Why a value the IVM printed for this adapter breaks IVM's rules (the value is then stored empty).
    quarantine_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["partition", "slot"]
        constraints = [models.UniqueConstraint(fields=["partition", "slot"], name="adapter_unique_slot")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} slot {self.slot} of {self.partition.name}"


class StorageDevice(models.Model):
    """A device on the management partition (hdisk, logical volume, file, optical) and what it backs."""

    class Kind(models.TextChoices):
        HDISK = "hdisk", "Physical volume (hdisk)"
        LV = "lv", "Logical volume"
        FILE = "file", "File"
        VOPT = "vopt", "Virtual optical"

    system = models.ForeignKey(ManagedSystem, on_delete=models.CASCADE, related_name="storage")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    unique_id = models.CharField(max_length=128, blank=True)
    reserve_policy = models.CharField(max_length=32, blank=True)
    # What it backs: the virtual target device and the server adapter (vhostN) it is mapped through.
    vtd_name = models.CharField(max_length=64, blank=True)
    server_adapter = models.ForeignKey(VirtualAdapter, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="backing_devices")
    client_partition = models.ForeignKey(Partition, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="backing_devices")

    class Meta:
        ordering = ["system", "name"]
        constraints = [models.UniqueConstraint(fields=["system", "name"], name="storage_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} on {self.system.name}"


class SharedEthernetAdapter(models.Model):
    """An SEA on the management partition and the VLANs it bridges."""

    system = models.ForeignKey(ManagedSystem, on_delete=models.CASCADE, related_name="seas")
    name = models.CharField(max_length=32)
    pvid = models.PositiveSmallIntegerField(null=True, blank=True)
    vlans = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["system", "name"]
        constraints = [models.UniqueConstraint(fields=["system", "name"], name="sea_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} on {self.system.name}"


class FCPort(models.Model):
    """A physical Fibre Channel port on the management partition, for NPIV."""

    system = models.ForeignKey(ManagedSystem, on_delete=models.CASCADE, related_name="fc_ports")
    name = models.CharField(max_length=32)
    npiv_capable = models.BooleanField(default=False)
    available_ports = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["system", "name"]
        constraints = [models.UniqueConstraint(fields=["system", "name"], name="fcport_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} on {self.system.name}"


class IOSlot(models.Model):
    """A physical I/O slot; assigned to a partition, it blocks that partition's mobility."""

    system = models.ForeignKey(ManagedSystem, on_delete=models.CASCADE, related_name="io_slots")
    drc_name = models.CharField(max_length=80)
    description = models.CharField(max_length=120, blank=True)
    partition = models.ForeignKey(Partition, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="io_slots")

    class Meta:
        ordering = ["system", "drc_name"]
        constraints = [models.UniqueConstraint(fields=["system", "drc_name"], name="ioslot_unique_drc")]

    def __str__(self) -> str:
        return f"{self.drc_name} on {self.system.name}"
