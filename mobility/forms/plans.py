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
from mobility.planning.slots import assignable_range

SLOT_MAX = 65535
FC_PORT = RegexValidator(r"^fcs\d{1,4}$", "A Fibre Channel port is named fcsN (e.g. fcs0).")
# A wished time a little in the past is a slow click, not a mistake.
PAST_TOLERANCE = timedelta(minutes=5)


def slot_field_name(row: planning.AdapterMapping) -> str:
    return f"slot-{row.kind}-{row.client_slot}"


def port_field_name(row: planning.AdapterMapping) -> str:
    return f"port-{row.kind}-{row.client_slot}"


class MappingForm(forms.Form):
    """Server slot (and FC port) per client adapter; `rows()` gives the edited mapping rows once valid.

    Given the destination's management partition (`vios`), a slot must lie within its real slot range (from 0 to
    its max_virtual_slots - 1), with an error that says the range; given the destination's Fibre Channel ports
    (`fc_ports`), the port is chosen from its NPIV-capable ones, each labelled with its free virtual ports. Without
    them (the API's door) the field takes any slot up to SLOT_MAX and any port named fcsN, and the planning rules
    judge the rest."""

    def __init__(self, base_rows, *args, vios: planning.ManagementPartition | None = None,
                 fc_ports: tuple[planning.FcPort, ...] | None = None, destination_name: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.base_rows = tuple(base_rows)
        self.slot_range = assignable_range(vios) if vios is not None else None
        top = vios.max_virtual_slots - 1 if vios is not None else SLOT_MAX
        too_high = (f"{vios.name} has {vios.max_virtual_slots} virtual slots: a server slot runs from "
                    f"{self.slot_range[0]} to {self.slot_range[1]}." if vios is not None
                    else f"A slot number is at most {SLOT_MAX}.")
        npiv = [p for p in (fc_ports or ()) if p.npiv_capable]
        for row in self.base_rows:
            label = f"{row.kind.upper()} client slot {row.client_slot}: server slot"
            self.fields[slot_field_name(row)] = forms.IntegerField(
                required=False, min_value=0, max_value=max(top, 0), initial=row.vios_slot, label=label,
                widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 5, "aria-label": label,
                                              "autocomplete": "off"}),
                error_messages={"invalid": "Enter a whole number for the slot.",
                                "min_value": "A slot number cannot be negative.", "max_value": too_high},
            )
            if row.kind == FC:
                label = f"FC client slot {row.client_slot}: port"
                if fc_ports is None:
                    field = forms.CharField(required=False, max_length=9, validators=[FC_PORT], initial=row.fc_port)
                else:
                    where = f" of {destination_name}" if destination_name else ""
                    field = forms.ChoiceField(
                        required=False, initial=row.fc_port, choices=[("", "none: IVM chooses"), *(
                            (p.name, f"{p.name} — {_free_ports(p.available_ports)}") for p in npiv)],
                        widget=forms.Select(attrs={"aria-label": label}),
                        error_messages={"invalid_choice": f"%(value)s is not an NPIV-capable Fibre Channel port"
                                                          f"{where}: choose one from the list."})
                field.label = label
                self.fields[port_field_name(row)] = field

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


def _free_ports(n: int) -> str:
    return "no free virtual port" if n <= 0 else f"{n} free virtual port{'s' if n != 1 else ''}"


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
    activate_on_destination = forms.BooleanField(
        required=False, label="Activate the partition on the destination once it has moved (step 10)")
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
