"""Forms of the planning wizard and the plan page.

The mapping form is built from the rows being edited (the recommendation, or a stored plan version): one server
slot field per vSCSI/vFC client adapter and one FC port field per vFC adapter. Its values come from the URL
(the wizard's state is shareable), so every value is checked here before it reaches the planning rules or a
remote command: whole numbers only, no negative slots, FC ports named `fcsN` and nothing else.
"""

from datetime import timedelta

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone

from mobility import planning
from mobility.planning.mapping_syntax import FC

SLOT_MAX = 65535
FC_PORT = RegexValidator(r"^fcs\d{1,4}$", "A Fibre Channel port is named fcsN (e.g. fcs0).")
# A wished time a little in the past is a slow click, not a mistake.
PAST_TOLERANCE = timedelta(minutes=5)


def slot_field_name(row: planning.AdapterMapping) -> str:
    return f"slot-{row.kind}-{row.client_slot}"


def port_field_name(row: planning.AdapterMapping) -> str:
    return f"port-{row.kind}-{row.client_slot}"


class MappingForm(forms.Form):
    """Server slot (and FC port) per client adapter; `rows()` gives the edited mapping rows once valid."""

    def __init__(self, base_rows, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.base_rows = tuple(base_rows)
        for row in self.base_rows:
            self.fields[slot_field_name(row)] = forms.IntegerField(
                required=False, min_value=0, max_value=SLOT_MAX, initial=row.vios_slot,
                label=f"{row.kind.upper()} client slot {row.client_slot}: server slot",
                error_messages={"invalid": "Enter a whole number for the slot.",
                                "min_value": "A slot number cannot be negative."},
            )
            if row.kind == FC:
                self.fields[port_field_name(row)] = forms.CharField(
                    required=False, max_length=9, validators=[FC_PORT], initial=row.fc_port,
                    label=f"FC client slot {row.client_slot}: port",
                )

    def rows(self) -> tuple[planning.AdapterMapping, ...]:
        """The rows with the edited values (call after is_valid()); an empty slot lets IVM choose."""
        edited = []
        for row in self.base_rows:
            slot = self.cleaned_data.get(slot_field_name(row))
            port = self.cleaned_data.get(port_field_name(row), "") if row.kind == FC else ""
            edited.append(planning.AdapterMapping(row.kind, row.client_slot, row.vios_name, row.vios_id,
                                                  slot, port or ""))
        return tuple(edited)

    def row_fields(self):
        """(row, slot bound field, port bound field or None) for the template."""
        for row in self.base_rows:
            port = self[port_field_name(row)] if row.kind == FC else None
            yield row, self[slot_field_name(row)], port


def query_for_rows(rows) -> dict[str, str]:
    """The URL parameters that describe `rows` (the inverse of MappingForm)."""
    params = {}
    for row in rows:
        params[slot_field_name(row)] = "" if row.vios_slot is None else str(row.vios_slot)
        if row.kind == FC:
            params[port_field_name(row)] = row.fc_port
    return params


class SubmitForm(forms.Form):
    """Step 5: why, when, and for an inactive move whether to start the partition on the destination."""

    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                             label="Reason for the migration",
                             error_messages={"required": "Say why the partition should move."})
    wished_start = forms.DateTimeField(required=False, label="Wished start",
                                       input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    activate_on_destination = forms.BooleanField(required=False, label="Activate on the destination afterwards")
    digest = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the partition should move.")
        return reason

    def clean_wished_start(self):
        when = self.cleaned_data.get("wished_start")
        if when is not None and when < timezone.now() - PAST_TOLERANCE:
            raise forms.ValidationError("The wished start is in the past.")
        return when


class DigestForm(forms.Form):
    """Validate and revise posts carry the digest of the facts the page was built on."""

    digest = forms.CharField(widget=forms.HiddenInput, max_length=64)
