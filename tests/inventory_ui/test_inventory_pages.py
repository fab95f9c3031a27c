"""The inventory list (filters, search, htmx partial), server and partition pages, on a synced simulator."""

import re

import pytest
from django.urls import reverse

from mobility.models import ManagedSystem, Partition, Team

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
URL = "/inventory/"


def rows(html: str) -> set[str]:
    return set(re.findall(r'<tr data-partition="([^"]+)"', html))


def test_filters_and_search_return_the_right_rows(client, auditor, estate):
    client.force_login(auditor)
    server1 = ManagedSystem.objects.get(name="Server-8205-E6C-SN0F00001")
    analytics = Team.objects.get(name="Analytics")
    everything = {"viosf1", "pay01", "pay02", "ana01", "phys01", "viosf2", "pay11"}
    assert rows(client.get(URL).content.decode()) == everything
    cases = [
        ({"q": "pay"}, {"pay01", "pay02", "pay11"}),
        ({"q": "PAY0"}, {"pay01", "pay02"}),
        ({"server": server1.pk}, {"viosf1", "pay01", "pay02", "ana01", "phys01"}),
        ({"state": "Not Activated"}, {"pay02"}),
        ({"team": analytics.pk}, {"ana01"}),
        ({"team": "none"}, {"viosf1", "phys01", "viosf2"}),
        ({"q": "pay", "server": server1.pk, "state": "Running"}, {"pay01"}),
        ({"q": "nothing-like-this"}, set()),
    ]
    for params, expected in cases:
        assert rows(client.get(URL, params, **HTMX).content.decode()) == expected, params


def test_a_bad_filter_value_is_reported_and_not_applied(client, auditor, estate):
    client.force_login(auditor)
    html = client.get(URL, {"server": "99999", "q": "pay"}, **HTMX).content.decode()
    assert "Server:" in html and "(not applied)" in html
    assert rows(html) == {"pay01", "pay02", "pay11"}


def test_htmx_gets_the_table_alone_and_a_history_restore_the_whole_page(client, requester, estate):
    client.force_login(requester)
    fragment = client.get(URL, {"q": "pay"}, **HTMX)
    html = fragment.content.decode()
    assert html.lstrip().startswith('<div id="partition-table">') and "<html" not in html
    assert "HX-Request" in fragment["Vary"]
    restored = client.get(URL, {"q": "pay"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX).content.decode()
    assert "<html" in restored and 'value="pay"' in restored
    full = client.get(URL, {"q": "pay"}).content.decode()
    assert 'hx-trigger="keyup changed delay:300ms, search"' in full and 'hx-push-url="true"' in full


def test_a_requester_sees_only_their_team_in_list_search_and_pages(client, requester, estate):
    client.force_login(requester)
    assert rows(client.get(URL).content.decode()) == {"pay01", "pay02", "pay11"}
    assert rows(client.get(URL, {"q": "a"}, **HTMX).content.decode()) == {"pay01", "pay02", "pay11"}
    ana = Partition.objects.get(name="ana01")
    assert client.get(reverse("mobility:partition_detail", args=[ana.pk])).status_code == 404
    server1 = ManagedSystem.objects.get(name="Server-8205-E6C-SN0F00001")
    page = client.get(reverse("mobility:system_detail", args=[server1.pk])).content.decode()
    assert rows(page) == {"pay01", "pay02"} and "ana01" not in page and "phys01" not in page


def test_the_server_page_shows_what_the_ivm_reported(client, admin_user, estate):
    client.force_login(admin_user)
    server1 = ManagedSystem.objects.get(name="Server-8205-E6C-SN0F00001")
    html = client.get(reverse("mobility:system_detail", args=[server1.pk])).content.decode()
    assert '<dd data-testid="lmb">128 MB</dd>' in html
    assert "ent4" in html and "1, 100" in html                      # SEA and its bridged VLANs
    assert "LUN-F0003" in html and "single_path" in html            # hdisk unique_id and reserve policy
    assert "fcs0" in html and "U78A0.001.0F00001-P1-C3" in html     # FC port, physical slot
    slots = re.search(r'data-testid="slots">(\d+) used, (\d+) free of 40<', html)
    assert slots and int(slots.group(1)) + int(slots.group(2)) == 40 and int(slots.group(1)) > 0
    assert "active_lpar_mobility_capable" in html


def test_the_partition_page_pairs_adapters_and_lists_backing_storage(client, requester, estate):
    client.force_login(requester)
    pay01 = Partition.objects.get(name="pay01")
    html = client.get(reverse("mobility:partition_detail", args=[pay01.pk])).content.decode()
    assert '<dd data-testid="state">Running</dd>' in html
    assert "viosf1 slot" in html             # the client SCSI adapter's server end on the VIOS
    assert "PVID 1" in html
    assert "hdisk1" in html and "LUN-F0001" in html
    assert "Never migrated by ivmweb." in html


def test_the_partition_page_shows_wwpns_and_physical_io(client, auditor, estate):
    client.force_login(auditor)
    ana = Partition.objects.get(name="ana01")
    html = client.get(reverse("mobility:partition_detail", args=[ana.pk])).content.decode()
    assert re.search(r"<code>[0-9a-f]{16}</code>", html)
    phys = Partition.objects.get(name="phys01")
    html = client.get(reverse("mobility:partition_detail", args=[phys.pk])).content.decode()
    assert "Physical I/O blocks partition mobility." in html and "U78A0.001.0F00001-P1-C3" in html


def test_the_inventory_shows_servers_bars_and_sync_status(client, admin_user, estate):
    client.force_login(admin_user)
    html = client.get(URL).content.decode()
    assert 'data-system="Server-8205-E6C-SN0F00001"' in html and 'role="meter"' in html
    assert html.count('<span class="ok">ok</span>') == 2
