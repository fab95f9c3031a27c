"""Forms of the approvals and auditors' history pages.

The history filter turns names typed in the URL (user, team, partition, server) into rows and
refuses anything unknown with a message naming it, so a bad link shows an error instead of an
empty table that looks like "nothing happened".
"""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from mobility.choices import MigrationMode, MigrationStatus
from mobility.governance.history import SORTS
from mobility.models import ManagedSystem, Partition, Team


class VoteForm(forms.Form):
    """One approver's vote: approve (with an optional window) or reject, always with a comment."""

    decision = forms.ChoiceField(choices=[("approved", "Approve"), ("rejected", "Reject")])
    # The plan the approver was shown: a vote binds to it, and is refused if the plan changed since.
    plan_hash = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput,
                                 error_messages={"required": "The vote does not say which plan it is for; reload "
                                                             "the page.",
                                                 "invalid": "The vote names no plan of ivmweb's; reload the page."})
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, strip=True,
                              error_messages={"required": "A comment is required."})
    not_before = forms.DateTimeField(required=False, label="Not before (UTC)",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    not_after = forms.DateTimeField(required=False, label="Not after (UTC)",
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def clean(self):
        data = super().clean()
        if data.get("decision") == "rejected" and (data.get("not_before") or data.get("not_after")):
            raise ValidationError("A rejection has no window; leave the window empty.")
        return data


def _lookup(model_label: str, queryset, value: str):
    if not value:
        return None
    found = queryset.first()
    if found is None:
        raise ValidationError(f"There is no {model_label} named “{value}”.")
    return found


class HistoryFilterForm(forms.Form):
    """Filters of the migration history (GET parameters); cleaned values are rows, not strings."""

    date_from = forms.DateField(required=False, label="From (date requested)",
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    requester = forms.CharField(required=False, max_length=150)
    approver = forms.CharField(required=False, max_length=150)
    team = forms.CharField(required=False, max_length=80)
    partition = forms.CharField(required=False, max_length=47)
    source = forms.CharField(required=False, max_length=64)
    destination = forms.CharField(required=False, max_length=64)
    mode = forms.ChoiceField(required=False, choices=[("", "any"), *MigrationMode.choices])
    status = forms.ChoiceField(required=False, label="Outcome", choices=[("", "any"), *MigrationStatus.choices])
    sort = forms.ChoiceField(required=False, choices=[(key, label) for key, (label, _) in SORTS.items()])
    page = forms.IntegerField(required=False, min_value=1)

    def clean_requester(self):
        value = self.cleaned_data["requester"]
        return _lookup("user", get_user_model().objects.filter(username=value), value)

    def clean_approver(self):
        value = self.cleaned_data["approver"]
        return _lookup("user", get_user_model().objects.filter(username=value), value)

    def clean_team(self):
        value = self.cleaned_data["team"]
        return _lookup("team", Team.objects.filter(name=value), value)

    def clean_partition(self):
        # A name may exist on several servers (or have vanished): keep the name, check it is known.
        value = self.cleaned_data["partition"]
        _lookup("partition", Partition.objects.filter(name=value), value)
        return value

    def clean_source(self):
        value = self.cleaned_data["source"]
        return _lookup("server", ManagedSystem.objects.filter(name=value), value)

    def clean_destination(self):
        value = self.cleaned_data["destination"]
        return _lookup("server", ManagedSystem.objects.filter(name=value), value)

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise ValidationError("The start date is after the end date.")
        return data


class AuditLogFilterForm(forms.Form):
    """Filters of the raw audit trail: action (prefix, e.g. `approval.`), actor name, older than an id."""

    action = forms.CharField(required=False, max_length=60,
                             help_text="Action or its beginning, e.g. approval. or auth.login_failed")
    actor = forms.CharField(required=False, max_length=150)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
