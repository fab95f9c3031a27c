"""Forms for registering an IVM and confirming its SSH host key.

Every value that ends up in an SSH connection is checked with ``mobility.ivm.values`` (the same rules
the IVM layer enforces), so a bad address, port or user name is refused here with a clear message
and nothing is created. Secrets are write-only: their widgets never render a value back.
"""

from django import forms
from django.core.exceptions import ValidationError

from mobility.choices import PartitionState
from mobility.ivm import values
from mobility.ivm.errors import InvalidValue
from mobility.ivm.hostkeys import HostKey, load_private_key
from mobility.models import IVMConsole, ManagedSystem, Team

CONSOLE_NAME_MAX = 47


class SecretTextarea(forms.Textarea):
    """A textarea that never echoes what was typed (a private key must not come back in a re-render)."""

    def format_value(self, value):
        return None


def _check(rule, value, *args, **kwargs):
    """Run one ``values`` rule and turn its ``InvalidValue`` into a form error with the same words."""
    try:
        return rule(value, *args, **kwargs)
    except InvalidValue as exc:
        raise ValidationError(f"{exc.field[:1].upper()}{exc.field[1:]} {exc.rule}.") from None


class ConsoleRegistrationForm(forms.Form):
    """Name, address and credentials of a new IVM. ``save()`` stores the secrets encrypted."""

    name = forms.CharField(max_length=64, help_text="A short label, e.g. ivm1")
    host = forms.CharField(label="Address", max_length=255, help_text="IP address or host name of the IVM")
    port = forms.CharField(initial="22")
    username = forms.CharField(label="User", initial="padmin", max_length=32)
    password = forms.CharField(required=False, strip=False, widget=forms.PasswordInput(render_value=False))
    private_key = forms.CharField(
        label="Private key", required=False, strip=False, widget=SecretTextarea(attrs={"rows": 4}),
        help_text="Unencrypted OpenSSH/PEM private key, instead of a password",
    )

    def clean_name(self):
        name = _check(values.partition_name, self.cleaned_data["name"], "IVM name")
        if IVMConsole.objects.filter(name=name).exists():
            raise ValidationError(f"An IVM named {name!r} is already registered.")
        return name

    def clean_host(self):
        return _check(values.host, self.cleaned_data["host"].strip(), "address")

    def clean_port(self):
        return _check(values.positive_int, self.cleaned_data["port"].strip(), "port", 65535)

    def clean_username(self):
        return _check(values.user_name, self.cleaned_data["username"], "user")

    def clean_private_key(self):
        pem = self.cleaned_data.get("private_key", "")
        if pem.strip():
            _check(load_private_key, pem)  # parsed by mobility.ivm (paramiko stays there), nothing connects
        return pem if pem.strip() else ""

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("password") and not data.get("private_key"):
            raise ValidationError("Give the IVM user's password or a private key.")
        host, port = data.get("host"), data.get("port")
        if host and port and IVMConsole.objects.filter(host=host, port=port).exists():
            raise ValidationError(f"{host}:{port} is already registered.")
        return data

    def build(self) -> IVMConsole:
        """An unsaved console with the secrets encrypted; the caller saves it with its audit event."""
        data = self.cleaned_data
        console = IVMConsole(name=data["name"], host=data["host"], port=data["port"], username=data["username"])
        console.set_password(data["password"])
        console.set_private_key(data["private_key"])
        return console


class HostKeyConfirmForm(forms.Form):
    """The exact key the admin saw; ``replace`` must be ticked when it replaces a pinned key."""

    host_key = forms.CharField(widget=forms.HiddenInput, max_length=16384)
    replace = forms.BooleanField(
        required=False, label="I have verified the new fingerprint out of band and want to replace the pinned key",
    )

    def __init__(self, *args, replacing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.replacing = replacing
        if not replacing:
            del self.fields["replace"]

    def clean_host_key(self) -> HostKey:
        try:
            return HostKey.parse(self.cleaned_data["host_key"])
        except InvalidValue as exc:
            raise ValidationError(f"The confirmed key is not a valid SSH key: {exc.rule}.") from None

    def clean(self):
        data = super().clean()
        if self.replacing and not data.get("replace"):
            raise ValidationError("Tick the box to confirm that you verified the new fingerprint.")
        return data


class PartitionFilterForm(forms.Form):
    """The inventory's filters; every field optional. Invalid values are reported and not applied."""

    NO_TEAM = "none"

    q = forms.CharField(label="Search", required=False, max_length=47)
    server = forms.ModelChoiceField(queryset=None, required=False, empty_label="All servers")
    state = forms.ChoiceField(required=False)
    team = forms.ChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["server"].queryset = ManagedSystem.objects.all()
        self.fields["state"].choices = [("", "All states"), *((s.value, s.label) for s in PartitionState)]
        self.fields["team"].choices = [("", "All teams"), (self.NO_TEAM, "No owner"),
                                       *((str(t.pk), t.name) for t in Team.objects.all())]

    def apply(self, partitions):
        """Narrow a partition queryset by the fields that are valid."""
        data = self.cleaned_data if self.is_bound else {}
        if data.get("q"):
            partitions = partitions.filter(name__icontains=data["q"].strip())
        if data.get("server"):
            partitions = partitions.filter(system=data["server"])
        if data.get("state"):
            partitions = partitions.filter(state=data["state"])
        if data.get("team") == self.NO_TEAM:
            partitions = partitions.filter(team__isnull=True)
        elif data.get("team"):
            partitions = partitions.filter(team_id=int(data["team"]))
        return partitions
