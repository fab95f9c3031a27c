"""Walking the wizard with Django's test client, as the browser's htmx requests do."""

import re

from django.urls import reverse

WIZARD = reverse("mobility:plan_new")
VALIDATE = reverse("mobility:plan_validate")
SUBMIT = reverse("mobility:plan_submit")
HTMX = {"HX-Request": "true", "HX-Target": "wizard"}


def form_fields(html: str, action: str) -> dict[str, str]:
    """Hidden and text inputs of the form posting to `action`."""
    form = html[html.index(f'hx-post="{action}"'):]
    form = form[:form.index("</form>")]
    return dict(re.findall(r'<input type="(?:hidden|text)"[^>]*? name="([^"]+)"(?: value="([^"]*)")?', form))


def validated(client, partition, destination, **edits) -> str:
    """Steps 1–4: the wizard for this plan, validated by IVM; returns the answer's HTML (with the submit form)."""
    page = client.get(WIZARD, {"partition": partition.pk, "destination": destination.pk, **edits}, headers=HTMX)
    assert page.status_code == 200
    answer = client.post(VALIDATE, form_fields(page.content.decode(), VALIDATE), headers=HTMX)
    html = answer.content.decode()
    assert 'data-ok="true"' in html, html[html.find('data-testid="validation"'):][:2000]
    return html


def submit(client, partition, destination, reason="Hardware maintenance on the source", **extra):
    """Steps 1–5; returns the submit response."""
    html = validated(client, partition, destination)
    data = {**form_fields(html, SUBMIT), "reason": reason, **extra}
    return client.post(SUBMIT, data, headers=HTMX)
