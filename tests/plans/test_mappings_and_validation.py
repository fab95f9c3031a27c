"""Step 3 (recommended mappings, edited inline with conflicts found at once) and step 4 (IVM's own
`migrlpar -o v` over SSH, its messages mapped onto the checks)."""

import re

import pytest
from django.urls import reverse

from mobility import plans
from mobility.inventory.estate import load_system
from tests.jobs import answer
from tests.plans.conftest import lpar, server

pytestmark = pytest.mark.django_db

WIZARD = reverse("mobility:plan_new")
VALIDATE = reverse("mobility:plan_validate")


def inputs(html: str) -> dict[str, str]:
    """The mapping fields of the page: {name: value}, the slot inputs and the FC port selects (their chosen port)."""
    found = dict(re.findall(r'<input type="text"[^>]*name="(slot-\w+-\d+)" value="([^"]*)"', html))
    for name, options in re.findall(r'<select name="(port-\w+-\d+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        found[name] = chosen.group(1) if chosen else ""
    return found


def port_options(html: str, name: str) -> list[str]:
    """The labels of one FC port select's options."""
    options = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [label.strip() for label in re.findall(r"<option[^>]*>([^<]*)</option>", options)]


VALIDATE_ON = '<button type="submit" id="validate-button" data-testid="validate">Validate with IVM'
VALIDATE_OFF = '<button type="submit" id="validate-button" disabled data-testid="validate">Validate with IVM'


def hidden(html: str, form_action: str) -> dict[str, str]:
    form = html[html.index(f'hx-post="{form_action}"'):]
    form = form[:form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def wizard(client, partition, destination, **edits):
    params = {"partition": partition.pk, "destination": destination.pk, **edits}
    response = client.get(WIZARD, params, headers={"HX-Request": "true", "HX-Target": "wizard"})
    assert response.status_code == 200
    return response.content.decode()


def row(html: str, key: str) -> str:
    start = html.index(f'data-row="{key}"')
    return html[start:html.index("</tr>", start)]


@pytest.fixture
def rita(client, requester):
    client.force_login(requester)
    return client


def test_recommended_slots_are_free_assignable_slots_on_the_destination(estate, rita):
    dest = server("ivm2")
    html = wizard(rita, lpar("db01"), dest)
    values = inputs(html)
    assert set(values) == {"slot-scsi-3", "slot-fc-4", "port-fc-4"}
    vios = load_system(dest).management_partition
    slots = [int(values["slot-scsi-3"]), int(values["slot-fc-4"])]
    assert len(set(slots)) == 2
    assert all(10 < s < vios.max_virtual_slots and s not in vios.used_slots for s in slots)
    assert values["port-fc-4"] == "fcs0"  # same port name as on the source
    assert 'data-problem' not in html and VALIDATE_ON in html


def test_the_fc_port_is_chosen_from_the_destinations_npiv_ports_with_their_free_virtual_ports(estate, rita):
    dest = server("ivm2")
    ports = load_system(dest).fc_ports
    html = wizard(rita, lpar("db01"), dest)
    expected = ["none: IVM chooses"] + [
        f"{p.name} — {p.available_ports} free virtual port{'s' if p.available_ports != 1 else ''}"
        for p in ports if p.npiv_capable]
    assert port_options(html, "port-fc-4") == expected and len(expected) > 1
    assert all(p.name not in " ".join(expected) for p in ports if not p.npiv_capable)


def test_a_slot_outside_the_vios_real_range_is_refused_with_the_range(estate, rita):
    dest = server("ivm2")
    vios = load_system(dest).management_partition
    top = vios.max_virtual_slots - 1
    html = wizard(rita, lpar("db01"), dest, **{"slot-scsi-3": str(top + 1)})
    assert (f"{vios.name} has {vios.max_virtual_slots} virtual slots: a server slot runs from 11 to {top}."
            in row(html, "scsi-3"))
    assert f"a server slot there runs from 11 to {top}" in html  # the hint above the table
    assert VALIDATE_OFF in html
    html = wizard(rita, lpar("db01"), dest, **{"slot-scsi-3": "65535"})
    assert "a server slot runs from 11 to" in row(html, "scsi-3")


def test_an_edit_to_a_taken_slot_is_flagged_inline_without_a_full_page(estate, rita):
    dest = server("ivm2")
    taken = max(s for s in load_system(dest).management_partition.used_slots if s > 10)
    html = wizard(rita, lpar("db01"), dest, **{"slot-scsi-3": str(taken)})
    assert "<html" not in html and html.lstrip().startswith('<div id="wizard"')
    assert 'data-problem="slot_taken"' in row(html, "scsi-3")
    vios = load_system(dest).management_partition
    sentence = row(html, "scsi-3")
    # In words, with the slot, the VIOS, what holds the slot and the adapter; the migrlpar -i text only as a detail.
    assert re.search(rf"Virtual slot {taken} on {vios.name} is already in use by a virtual \w+ adapter serving "
                     r"\w+: choose another server slot for the virtual SCSI adapter in client slot 3\.", sentence)
    assert f'<summary>As IVM is given it</summary><code>3//{vios.lpar_id}/{taken}</code>' in sentence
    assert 'data-problem' not in row(html, "fc-4")
    assert VALIDATE_OFF in html
    # the recommendation's note stays beside the row it still describes, never beside one the person changed
    assert '<div class="muted">' not in sentence
    assert re.search(r'<div class="muted">(keeps|server slot)', row(html, "fc-4"))


@pytest.mark.parametrize(("value", "expected"), [
    ("500", "virtual slots: a server slot runs from 11 to"),   # above the VIOS's max_virtual_slots
    ("5", 'data-problem="slot_out_of_range"'),     # IVM's own low slots
    ("-3", "A slot number cannot be negative."),
    ("abc", "Enter a whole number for the slot."),
    ("12;reboot", "Enter a whole number for the slot."),
])
def test_bad_slot_values_are_refused_inline(estate, rita, value, expected):
    html = wizard(rita, lpar("db01"), server("ivm2"), **{"slot-scsi-3": value})
    assert expected in row(html, "scsi-3")
    assert VALIDATE_OFF in html


def test_the_same_server_slot_twice_is_a_conflict_on_both_rows(estate, rita):
    html = wizard(rita, lpar("db01"), server("ivm2"), **{"slot-scsi-3": "150", "slot-fc-4": "150"})
    assert 'data-problem="duplicate_slot"' in row(html, "scsi-3")
    assert 'data-problem="duplicate_slot"' in row(html, "fc-4")


@pytest.mark.parametrize(("port", "expected"), [
    ("fcs7", "fcs7 is not an NPIV-capable Fibre Channel port of"),
    ("fcs0;reboot", "fcs0;reboot is not an NPIV-capable Fibre Channel port of"),
    ("$(id)", "$(id) is not an NPIV-capable Fibre Channel port of"),
])
def test_bad_fc_ports_are_refused_inline(estate, rita, port, expected):
    html = wizard(rita, lpar("db01"), server("ivm2"), **{"port-fc-4": port})
    assert expected in row(html, "fc-4")


def test_a_free_slot_of_ones_choice_is_accepted(estate, rita):
    dest = server("ivm2")
    vios = load_system(dest).management_partition
    free = next(s for s in range(150, 199) if s not in vios.used_slots)
    html = wizard(rita, lpar("db01"), dest, **{"slot-scsi-3": str(free)})
    assert 'data-problem' not in html
    assert inputs(html)["slot-scsi-3"] == str(free)


def test_validation_with_ivm_passes_for_a_good_plan_and_offers_submit(estate, rita, fleet):
    dest = server("ivm2")
    vios = load_system(dest).management_partition
    free = next(s for s in range(120, 199) if s not in vios.used_slots)
    html = wizard(rita, lpar("db01"), dest, **{"slot-scsi-3": str(free)})
    response = rita.post(VALIDATE, hidden(html, VALIDATE), headers={"HX-Request": "true"})
    assert response.status_code == 200 and "migrlpar" not in response.content.decode()  # a worker asks IVM
    out = answer(rita, "validate", **{"HX-Target": "wizard"})
    assert 'data-ok="true"' in out and "IVM validated the migration" in out
    assert 'id="step-submit"' in out
    sent = [c["command"] for c in fleet.command_log("ivm1") if c["command"].startswith("migrlpar -o v")]
    assert sent and f"virtual_scsi_mappings=3//1/{free}" in sent[-1] and "-t '8205-E6C*06A2002'" in sent[-1]
    assert "--ip 127.0.1.2" in sent[-1] and "-p db01" in sent[-1]


def test_an_ivm_refusal_is_shown_on_the_check_it_belongs_to(estate, rita, fleet):
    """The inventory says app01's disk is no_reserve; on the IVM it has just been changed. IVM's answer is
    mapped onto the reserve_policy check, with its own code and words."""
    html = wizard(rita, lpar("app01"), server("ivm2"))
    status, _, err = fleet.ssh("ivm1", "chdev -dev hdisk1 -attr reserve_policy=single_path")
    assert status == 0, err
    try:
        rita.post(VALIDATE, hidden(html, VALIDATE), headers={"HX-Request": "true"})
        out = answer(rita, "validate", **{"HX-Target": "wizard"})
    finally:
        fleet.ssh("ivm1", "chdev -dev hdisk1 -attr reserve_policy=no_reserve")
    assert 'data-ok="false"' in out and "IVM refused the migration" in out
    failed = out[out.index('data-check="reserve_policy" class="check-error"'):]
    failed = failed[:failed.index("</tr>")]
    assert "VIOSE0104A005-0002" in failed and "hdisk1" in failed and "reserve_policy=single_path" in failed
    assert 'id="step-submit"' not in out


def test_validate_is_refused_before_ivm_when_the_mappings_conflict(estate, rita, fleet):
    html = wizard(rita, lpar("db01"), server("ivm2"), **{"slot-scsi-3": "150", "slot-fc-4": "150"})
    before = len(fleet.command_log("ivm1"))
    data = hidden(html, VALIDATE)
    response = rita.post(VALIDATE, data)
    assert response.status_code == 400
    assert not [c for c in fleet.command_log("ivm1")[before:] if c["command"].startswith("migrlpar")]


@pytest.mark.parametrize(("name", "dest", "key", "code"), [
    ("bad-nameclash", "ivm2", "name_free", "VIOSE0104A007-0001"),
    ("bad-rmc", "ivm2", "rmc", "VIOSE0104A004-0001"),
    ("bad-vlan", "ivm2", "vlans_bridged", "VIOSE0104A006-0001"),
    ("bad-lun", "ivm2", "lun_visible", "VIOSE0104A005-0003"),
    ("bad-bigmem", "ivm2", "memory", "VIOSE0104A008-0001"),
    ("app01", "ivm4", "lmb_size", "VIOSE0104A003-0003"),
])
def test_ivm_messages_of_the_problem_partitions_map_onto_their_checks(estate, requester, name, dest, key, code):
    from mobility import planning

    partition, destination = lpar(name), server(dest)
    ctx = plans.plan_context(partition, destination)
    rows = planning.recommend_mappings(ctx.partition, ctx.destination).rows
    result = plans.validate_plan(partition, destination, rows, user=requester)
    assert result["ok"] is False and not result["error"]
    assert code in [m["code"] for m in result["checks"][key]]
    assert result["ivm_says"] == []


def test_unknown_ivm_lines_are_kept_as_written_and_shared_codes_are_told_apart():
    plan = {"partition": "app01", "destination": "Server-B"}
    out = ("[VIOSE0104A005-0002] Physical volume hdisk7 on ivm2 backing partition app01 has reserve_policy="
           "single_path; no_reserve is required.\n"
           "[VIOSE0104A00A-0001] The number of active migrations in progress on Server-B (8) has reached the "
           "supported maximum (8).\n"
           "[VIOSE0999ZZZZ-0001] Something new.\n"
           "rksh: odd: not found\n")
    checks, unknown = plans.map_ivm_messages(out, plan)
    assert set(checks) == {"dest_reserve_policy", "dest_migration_limit"}
    assert unknown == [{"code": "VIOSE0999ZZZZ-0001", "text": "Something new."},
                       {"code": "", "text": "rksh: odd: not found"}]


def test_a_second_plan_to_the_same_destination_keeps_off_the_slots_the_first_one_named(estate, requester):
    import dataclasses

    from mobility import planning

    def recommended(name):
        ctx = plans.plan_context(lpar(name), server("ivm2"))
        return ctx, planning.recommend_mappings(ctx.partition, ctx.destination).rows

    _, first_rows = recommended("app01")
    validation = plans.validate_plan(lpar("app01"), server("ivm2"), first_rows, user=requester)
    plans.submit_plan(partition=lpar("app01"), destination=server("ivm2"), user=requester, mode="active",
                      mappings=first_rows, validation=validation, reason="first")
    taken = {r.vios_slot for r in first_rows if r.vios_slot is not None}
    assert taken and taken <= plans.planned_slots(server("ivm2"))

    ctx, rows = recommended("app02")
    assert not taken & {r.vios_slot for r in rows}  # the recommendation leaves them to the first plan
    clash = [dataclasses.replace(rows[0], vios_slot=min(taken)), *rows[1:]]
    assert planning.check_mappings(ctx.partition, ctx.destination, clash)  # naming one is a conflict
    own, own_rows = recommended("app01")
    assert not planning.check_mappings(own.partition, own.destination, first_rows)  # not a clash with itself


def test_the_validate_answer_is_a_job_the_page_follows_and_its_button_waits(estate, rita, fleet):
    """The request stores the job and answers at once: no `migrlpar` has run yet, the button is disabled and the
    page holds the job's place and socket; the submit refuses a plan IVM has not validated."""
    from mobility.models import IVMJob

    html = wizard(rita, lpar("db01"), server("ivm2"))
    before = len(fleet.command_log("ivm1"))
    asked = rita.post(VALIDATE, hidden(html, VALIDATE), headers={"HX-Request": "true"}).content.decode()
    job = IVMJob.objects.get(kind="validate")
    assert job.status == "queued" and len(fleet.command_log("ivm1")) == before
    assert f'id="job-{job.pk}"' in asked and f'ws-connect="/ws/jobs/{job.group}/"' in asked
    assert VALIDATE_OFF in asked
    # asked again before a worker answers (a second click, another tab): the same job is followed, not a second one
    again = rita.post(VALIDATE, hidden(html, VALIDATE), headers={"HX-Request": "true"}).content.decode()
    assert IVMJob.objects.filter(kind="validate").count() == 1 and f'id="job-{job.pk}"' in again
    submit_fields = hidden(html, VALIDATE)
    refused = rita.post(reverse("mobility:plan_submit"), {**submit_fields, "reason": "firmware"},
                        headers={"HX-Request": "true"}).content.decode()
    assert "Validate this plan with IVM first" in refused
    assert "migrlpar -o v" in answer(rita, "validate", **{"HX-Target": "wizard"})
