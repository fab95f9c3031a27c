"""Walking the wizard with Django's test client, as the browser's htmx requests do."""

import re

from django.urls import reverse

from tests.jobs import answer

WIZARD = reverse("mobility:plan_new")
VALIDATE = reverse("mobility:plan_validate")
SUBMIT = reverse("mobility:plan_submit")
HTMX = {"HX-Request": "true", "HX-Target": "wizard"}


def form_fields(html: str, action: str) -> dict[str, str]:
    """Hidden and text inputs, and selects (their chosen option), of the form posting to `action`."""
    form = html[html.index(f'hx-post="{action}"'):]
    form = form[:form.index("</form>")]
    fields = dict(re.findall(r'<input type="(?:hidden|text)"[^>]*? name="([^"]+)"(?: value="([^"]*)")?', form))
    for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        fields[name] = chosen.group(1) if chosen else ""
    return fields


def validated(client, partition, destination, **edits) -> str:
    """Steps 1–4: the wizard for this plan, validated by IVM; returns the answer's HTML (with the submit form)."""
    page = client.get(WIZARD, {"partition": partition.pk, "destination": destination.pk, **edits}, headers=HTMX)
    assert page.status_code == 200
    html = validate(client, page.content.decode())
    assert 'data-ok="true"' in html, html[html.find('data-testid="validation"'):][:2000]
    return html


def validate(client, wizard_html: str) -> str:
    """Step 4: ask for the validation (a job), run it as a worker would, then fetch its answer as the page does."""
    asked = client.post(VALIDATE, form_fields(wizard_html, VALIDATE), headers=HTMX)
    assert asked.status_code == 200 and "Waiting for a worker" in asked.content.decode(), asked.content.decode()[:3000]
    return answer(client, "validate", **{"HX-Target": "wizard"})


def submit(client, partition, destination, reason="Hardware maintenance on the source", **extra):
    """Steps 1–6: validated, reviewed, then submitted from the review; returns the submit response (or the
    review's, when the review refused)."""
    html = validated(client, partition, destination)
    return review_and_confirm(client, {**form_fields(html, SUBMIT), "reason": reason, **extra})


def review_and_confirm(client, data: dict):
    """Post the reason form (step 5) and, when a review comes back, its confirm form (step 6)."""
    reviewed = client.post(SUBMIT, data, headers=HTMX)
    html = reviewed.content.decode()
    if reviewed.status_code != 200 or 'data-testid="review-panel"' not in html:
        return reviewed
    return client.post(SUBMIT, form_fields(html, SUBMIT), headers=HTMX)
