"""The form that makes a personal API token: a name, a scope and how many days it lasts."""

from django import forms
from django.conf import settings

from mobility.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What it is for, e.g. “change pipeline”.")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ,
                              help_text="Read only, or read and write (plan, vote, stop…).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The longest life is a setting, read when the form is made.
        self.fields["days"] = forms.IntegerField(min_value=1, max_value=settings.IVMWEB_API_TOKEN_MAX_DAYS,
                                                 initial=90, label="Valid for (days)")
