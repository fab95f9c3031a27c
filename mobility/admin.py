"""Django admin for every model. Secrets are write-only; the audit trail is read-only; the inventory is what
the IVMs printed (only a partition's owning team, ivmweb's own data, can be changed here)."""

from django import forms
from django.contrib import admin

from mobility import models


class IVMConsoleForm(forms.ModelForm):
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                               help_text="Stored encrypted; leave empty to keep the current one.")
    private_key = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                  help_text="PEM private key; stored encrypted, never shown again.")

    class Meta:
        model = models.IVMConsole
        fields = ["name", "host", "port", "username", "enabled"]

    def save(self, commit=True):
        console = super().save(commit=False)
        if self.cleaned_data.get("password"):
            console.set_password(self.cleaned_data["password"])
        if self.cleaned_data.get("private_key"):
            console.set_private_key(self.cleaned_data["private_key"])
        if commit:
            console.save()
        return console


@admin.register(models.IVMConsole)
class IVMConsoleAdmin(admin.ModelAdmin):
    form = IVMConsoleForm
    list_display = ["name", "host", "port", "username", "host_key_fingerprint", "last_sync_at", "last_sync_error"]
    readonly_fields = ["host_key", "host_key_fingerprint", "last_sync_at", "last_sync_ok_at", "last_sync_error",
                       "last_sync_duration_s"]


class SyncedReadOnly:
    """Rows the inventory sync writes from IVM output: shown, never edited here (the next sync would undo it,
    and the sync's digest would not see the edit)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PartitionInline(SyncedReadOnly, admin.TabularInline):
    model = models.Partition
    fields = ["lpar_id", "name", "env", "state", "team"]
    extra = 0


@admin.register(models.ManagedSystem)
class ManagedSystemAdmin(SyncedReadOnly, admin.ModelAdmin):
    list_display = ["name", "type_model", "serial", "memory_available_mb", "proc_units_available", "synced_at"]
    inlines = [PartitionInline]


class AdapterInline(SyncedReadOnly, admin.TabularInline):
    model = models.VirtualAdapter
    extra = 0


@admin.register(models.Partition)
class PartitionAdmin(admin.ModelAdmin):
    list_display = ["name", "lpar_id", "system", "env", "state", "rmc_state", "memory_mb", "team", "vanished_at"]
    list_filter = ["system", "env", "state", "team"]
    search_fields = ["name"]
    inlines = [AdapterInline]
    fields = ["name", "lpar_id", "system", "state", "team"]
    readonly_fields = ["name", "lpar_id", "system", "state"]  # team is the one field ivmweb owns

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name"]
    filter_horizontal = ["members"]


class StepInline(admin.TabularInline):
    model = models.MigrationStep
    extra = 0


@admin.register(models.Migration)
class MigrationAdmin(admin.ModelAdmin):
    list_display = ["id", "partition", "source", "destination", "mode", "status", "requester", "created_at"]
    list_filter = ["status", "mode"]
    inlines = [StepInline]


for model in (models.VirtualAdapter, models.StorageDevice, models.SharedEthernetAdapter, models.FCPort,
              models.IOSlot):
    admin.site.register(model, type(f"{model.__name__}Admin", (SyncedReadOnly, admin.ModelAdmin), {}))
for model in (models.PlanVersion, models.AdapterMapping, models.MigrationStep, models.MigrationEvent):
    admin.site.register(model)


@admin.register(models.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["id", "at", "actor_name", "action", "object_type", "object_id"]
    list_filter = ["action"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
admin.site.register(models.Approval)
