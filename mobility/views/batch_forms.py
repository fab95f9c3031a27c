"""The batch pages' forms: what a person types, checked before anything changes (bad input: a clear error)."""

from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.utils import timezone

from mobility import planning

ZONES = sorted(available_timezones())


class EvacuateForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    only_running = forms.BooleanField(required=False, label="Only the running partitions")
    stop_at_first_failure = forms.BooleanField(required=False, label="Stop at the first failure")


class PickForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    partitions = forms.TypedMultipleChoiceField(coerce=int, choices=())
    stop_at_first_failure = forms.BooleanField(required=False, label="Stop at the first failure")

    def __init__(self, *args, partitions=(), **kw):
        super().__init__(*args, **kw)
        self.fields["partitions"].choices = [(p.pk, f"{p.name} ({p.system.name}, {p.state})") for p in partitions]


class VoteForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approved", "Approve"), ("rejected", "Reject")])
    comment = forms.CharField(max_length=2000)
    batch_hash = forms.CharField(max_length=64, min_length=64)
    time_zone = forms.ChoiceField(choices=[(z, z) for z in ZONES], initial="UTC")
    not_before = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    not_after = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                    input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    parallelism = forms.IntegerField(required=False, min_value=1, max_value=64)

    def window(self):
        """The window's ends as aware datetimes, read in the approver's time zone."""

        zone = ZoneInfo(self.cleaned_data["time_zone"])
        ends = []
        for key in ("not_before", "not_after"):
            value = self.cleaned_data.get(key)
            if value is not None:
                value = timezone.make_aware(value.replace(tzinfo=None), zone)
            ends.append(value)
        return ends


class StopForm(forms.Form):
    stop_running = forms.BooleanField(required=False, label="Stop the running members too")


class WithdrawForm(forms.Form):
    reason = forms.CharField(max_length=500)


class MemberForm(forms.Form):
    destination = forms.TypedChoiceField(coerce=int, choices=())
    mappings = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                               help_text="As migrlpar -i takes them, one attribute a line (virtual_scsi_mappings=…, "
                                         "virtual_fc_mappings=…); empty: the recommended mappings")

    def __init__(self, *args, destinations=(), **kw):
        super().__init__(*args, **kw)
        self.fields["destination"].choices = [(d.pk, d.name) for d in destinations]

    def clean_mappings(self):
        text = self.cleaned_data["mappings"].strip()
        if not text:
            return None
        try:
            return tuple(row for line in text.splitlines() if line.strip() for row in planning.parse_mappings(line))
        except planning.MappingSyntaxError as exc:
            raise forms.ValidationError(str(exc)) from exc
