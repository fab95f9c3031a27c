"""Steps 1 and 2 of the wizard over the synced demo fleet: who sees which partitions, every requirement check
of the problem partitions, and the ranked destinations with their reasons."""

import re

import pytest
from django.urls import reverse

from tests.plans.conftest import lpar, server

pytestmark = pytest.mark.django_db

WIZARD = reverse("mobility:plan_new")


def page(client, **params):
    response = client.get(WIZARD, params)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def check_rows(html: str) -> dict[str, str]:
    """{check key: status} of the check tables in the page."""
    return {key: status for status, key in re.findall(r'<tr class="check-(\w+)" data-check="(\w+)"', html)}


def candidate_block(html: str, system_name: str) -> str:
    """The HTML of one destination in the ranked list."""
    start = html.index(f'data-system="{system_name}"')
    ends = [i for i in (html.find('<li class="candidate', start), html.find("</ol>", start)) if i != -1]
    return html[start:min(ends)]


def test_a_requester_sees_only_her_teams_partitions_with_their_mode(estate, client, requester):
    client.force_login(requester)
    html = page(client)
    listed = set(re.findall(r'data-partition="([^"]+)"', html))
    assert {"app01", "db01", "web01", "app11", "db11", "bad-rmc", "bad-compat"} <= listed
    assert not listed & {"app21", "web21", "db21", "app31", "web31", "vios1"}
    row = html[html.index('data-partition="web01"'):]
    assert "<td>inactive</td>" in row[:400]
    row = html[html.index('data-partition="app01"'):]
    assert "<td>active</td>" in row[:400]


def test_the_partition_list_names_what_blocks_a_problem_partition(estate, client, requester):
    client.force_login(requester)
    html = page(client)
    row = html[html.index('data-partition="bad-physio"'):]
    row = row[:row.index("</tr>")]
    assert "physical I/O adapters: U78A0.001.06A1001-P1-C3" in row


@pytest.mark.parametrize(("name", "failing"), [
    ("bad-physio", {"physical_io"}),
    ("bad-lvdisk", {"disk_backing"}),
    ("bad-reserve", {"reserve_policy"}),
    # without RMC, IVM reports the partition as not DLPAR capable either: both rules name it
    ("bad-rmc", {"rmc", "dlpar"}),
])
def test_each_problem_partition_fails_exactly_its_own_partition_check(estate, client, requester, name, failing):
    client.force_login(requester)
    html = page(client, partition=lpar(name).pk)
    statuses = check_rows(html)
    assert {k for k, s in statuses.items() if s == "error"} == failing
    assert 'id="step-destination"' not in html  # blocked: no destination step
    assert "cannot move until the errors above are fixed" in html


@pytest.mark.parametrize(("name", "ivm", "dest", "failing"), [
    ("bad-vlan", "ivm1", "ivm2", "vlans_bridged"),
    ("bad-lun", "ivm1", "ivm2", "lun_visible"),
    ("bad-nameclash", "ivm1", "ivm2", "name_free"),
    ("bad-compat", "ivm3", "ivm1", "compat_mode"),
    ("bad-bigmem", "ivm1", "ivm2", "memory"),
    ("app01", "ivm1", "ivm4", "lmb_size"),
])
def test_each_destination_rule_blocks_with_its_reason(estate, client, requester, name, ivm, dest, failing):
    client.force_login(requester)
    partition = lpar(name, ivm)
    html = page(client, partition=partition.pk)
    assert all(s != "error" for s in check_rows(html).values())  # the partition itself is fine
    system = server(dest)
    item = candidate_block(html, system.name)
    assert "not eligible" in item
    assert f'data-reason="{failing}"' in item
    assert f'href="{WIZARD}?partition={partition.pk}&amp;destination={system.pk}"' not in html  # not selectable
    # crafting the URL anyway shows the blocking check and offers no mappings
    crafted = page(client, partition=partition.pk, destination=system.pk)
    assert check_rows(crafted)[failing] == "error"
    assert "cannot take" in crafted and 'id="mapping-form"' not in crafted


@pytest.mark.parametrize(("name", "ivm", "mode"), [
    ("app01", "ivm1", "active"), ("app02", "ivm1", "active"), ("db01", "ivm1", "active"),
    ("web01", "ivm1", "inactive"), ("app11", "ivm2", "active"), ("db11", "ivm2", "inactive"),
])
def test_good_partitions_pass_every_check_and_have_eligible_destinations(estate, client, requester, name, ivm, mode):
    client.force_login(requester)
    html = page(client, partition=lpar(name, ivm).pk)
    assert set(check_rows(html).values()) <= {"ok", "warning"}
    assert f'data-testid="mode">{mode}<' in html
    assert 'class="candidate eligible"' in html


def test_destinations_are_ranked_best_first_with_figures_and_the_lmb_server_last(estate, client, requester):
    client.force_login(requester)
    html = page(client, partition=lpar("app01").pk)
    order = re.findall(r'<li class="candidate (eligible|ineligible)" data-system="([^"]+)"', html)
    names = [n for _, n in order]
    assert server("ivm1").name not in names  # never its own server
    assert [e for e, _ in order] == ["eligible", "eligible", "ineligible"]
    assert names[-1] == server("ivm4").name
    scores = [float(s) for s in re.findall(r'<span class="score"[^>]*>([\d.]+)</span>', html)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 2
    best = candidate_block(html, names[0])
    assert 'class="reason reason-positive" data-reason="memory_headroom"' in best
    assert re.search(r"memory: [\d.]+ GB of [\d.]+ GB free after the move", best)
    last = candidate_block(html, names[-1])
    assert 'reason-blocking" data-reason="lmb_size"' in last
    assert "256 MB" in last and "128 MB" in last


def test_an_auditor_cannot_open_the_wizard(estate, client, auditor):
    client.force_login(auditor)
    assert client.get(WIZARD).status_code == 403


def test_a_partition_no_server_can_take_reads_as_such_with_the_main_reasons(estate, client, requester):
    client.force_login(requester)
    html = page(client, partition=lpar("bad-vlan").pk)
    assert 'class="candidate eligible"' not in html
    summary = html[html.index('data-testid="no-destination"'):]
    summary = summary[:summary.index("</div>")]
    assert "No server can take bad-vlan (active move)." in summary and "The main reasons:" in summary
    blockers = re.findall(r'data-blocker="(\w+)"', summary)
    assert "vlans_bridged" in blockers and len(blockers) == len(set(blockers))  # each reason once
    assert "does not bridge" in summary or "VLAN 999" in summary
    assert "best first" not in html and "ranked" not in html.lower()
    # each server's own blockers stay one click away
    assert "<summary>Each server and what stops it</summary>" in html
    assert html.count('class="candidate ineligible"') == 3
    # an unbridged VLAN stops a shut-down move as well: no offer of one
    assert "other requirements" not in summary and 'data-testid="inactive-instead"' not in html


def test_the_servers_a_shut_down_move_could_reach_are_named_only_when_there_are_some(estate):
    from mobility.inventory.estate import load_estate
    from mobility.wizard import inactive_destinations

    systems = load_estate()
    assert inactive_destinations(lpar("bad-vlan"), systems) == []
    reachable = inactive_destinations(lpar("app01"), systems)
    assert reachable and server("ivm1").name not in reachable


def test_each_destination_lists_its_reasons_once(estate, client, requester):
    client.force_login(requester)
    html = page(client, partition=lpar("app01").pk)
    for block in re.findall(r'<li class="candidate eligible".*?</ul>', html, re.S):
        lines = re.findall(r'<li class="reason[^"]*" data-reason="(\w+)">([^<]*)', block)
        texts = [text.strip() for _, text in lines]
        assert len(texts) == len(set(texts)), texts
        keys = {key for key, _ in lines}
        assert "memory_headroom" in keys and "memory" not in keys and "processors" not in keys


def test_the_partition_page_offers_migrate_only_to_who_may_plan(estate, client, requester, auditor, approver):
    partition = lpar("db01")
    url = reverse("mobility:partition_detail", args=[partition.pk])
    client.force_login(requester)
    html = client.get(url).content.decode()
    assert f'<a class="button" href="{WIZARD}?partition={partition.pk}" data-testid="migrate">Migrate…</a>' in html
    for other in (auditor, approver):
        client.force_login(other)
        response = client.get(url)
        assert response.status_code in (200, 404)
        assert 'data-testid="migrate"' not in response.content.decode()
    client.force_login(requester)
    vios = lpar("vios1")
    response = client.get(reverse("mobility:partition_detail", args=[vios.pk]))
    assert 'data-testid="migrate"' not in response.content.decode()
