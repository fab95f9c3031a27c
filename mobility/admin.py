"""Django admin for every model. Secrets are write-only; the inventory is what the IVMs printed (only a
partition's owning team, ivmweb's own data, can be changed here); migrations and everything that governs them
(steps, events, plan versions, mappings, approvals, the audit trail) are read-only for everyone, superusers
included. Users, groups (roles) and teams stay administrable, and every change to who may do what is audited
(``governance.grant_audit``), naming the admin who made it."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction

from mobility import models
from mobility.choices import Role
from mobility.governance import audit
from mobility.governance.grant_audit import changed_by


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


class NoWrites:
    """No add, change or delete, for superusers too (Django grants them every permission otherwise)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnly(NoWrites):
    """A list and detail pages to read. The list takes no POST at all: without a delete permission Django only
    hides the delete action, and a posted one would be answered with the list; refusing is plainer."""

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().changelist_view(request, extra_context)


class SyncedReadOnly(ReadOnly):
    """Rows the inventory sync writes from IVM output: shown, never edited here (the next sync would undo it,
    and the sync's digest would not see the edit)."""


class Governed(ReadOnly):
    """Rows only ivmweb's own workflow writes, each change with its migration event and its audit record: an edit
    here would bypass the approval, the lifecycle and the hash-chained trail."""


class PartitionInline(NoWrites, admin.TabularInline):
    model = models.Partition
    fields = ["lpar_id", "name", "env", "state", "team"]
    extra = 0


@admin.register(models.ManagedSystem)
class ManagedSystemAdmin(SyncedReadOnly, admin.ModelAdmin):
    list_display = ["name", "type_model", "serial", "memory_available_mb", "proc_units_available", "synced_at"]
    inlines = [PartitionInline]


class AdapterInline(NoWrites, admin.TabularInline):
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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "team" in form.changed_data:  # the owning team's members may request its moves: an ownership grant
            before = models.Team.objects.filter(pk=form.initial.get("team")).values_list("name", flat=True).first()
            audit.record("partition.team_changed", actor=request.user, obj=obj, data={
                "partition": obj.name, "from": before, "to": obj.team.name if obj.team else None})

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedAccess:
    """Admin of who may do what: the object saved or deleted carries the admin's name into its audit events."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, changed_by(obj, request.user), form, change)

    def delete_model(self, request, obj):
        super().delete_model(request, changed_by(obj, request.user))

    def delete_queryset(self, request, queryset):
        with transaction.atomic():  # one by one, so each deletion names its admin; all or nothing
            for obj in queryset:
                self.delete_model(request, obj)


admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class UserAdmin(AuditedAccess, DjangoUserAdmin):
    pass


@admin.register(Group)
class GroupAdmin(AuditedAccess, DjangoGroupAdmin):
    """Groups are roles by name (``mobility.roles``): the role groups keep their names and cannot be deleted."""

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return (*readonly, "name") if obj is not None and obj.name in Role.values else readonly

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.name in Role.values)


@admin.register(models.Team)
class TeamAdmin(AuditedAccess, admin.ModelAdmin):
    list_display = ["name"]
    filter_horizontal = ["members"]


class StepInline(NoWrites, admin.TabularInline):
    model = models.MigrationStep
    extra = 0


@admin.register(models.Migration)
class MigrationAdmin(Governed, admin.ModelAdmin):
    list_display = ["id", "partition", "source", "destination", "mode", "status", "requester", "created_at"]
    list_filter = ["status", "mode"]
    inlines = [StepInline]


for model in (models.VirtualAdapter, models.StorageDevice, models.SharedEthernetAdapter, models.FCPort,
              models.IOSlot):
    admin.site.register(model, type(f"{model.__name__}Admin", (SyncedReadOnly, admin.ModelAdmin), {}))
for model in (models.PlanVersion, models.AdapterMapping, models.MigrationStep, models.MigrationEvent,
              models.Approval):
    admin.site.register(model, type(f"{model.__name__}Admin", (Governed, admin.ModelAdmin), {}))


@admin.register(models.AuditEvent)
class AuditEventAdmin(Governed, admin.ModelAdmin):
    list_display = ["id", "at", "actor_name", "action", "object_type", "object_id"]
    list_filter = ["action"]
