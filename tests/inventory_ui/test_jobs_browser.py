"""In Chromium, with a real worker process: "Sync all" of a 20-IVM fleet answers at once, each IVM's progress
arrives live, a hung IVM shows as timed out without holding a web thread, and the result is the inventory a
synchronous sync gives."""

import time

import pytest

from tests.conftest import login
from tests.inventory_ui.conftest import register
from tests.simfleet import SimFleet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
IVMS, LPARS = 20, 3
HUNG = "ivm7"


def fleet_toml(ivms: int, lpars: int) -> str:
    """Servers with a VIOS and a few client partitions each (the format of ivmsim/FLEET.md)."""
    out = ['trust = "none"', ""]
    for i in range(1, ivms + 1):
        serial = f"J{i:06d}"
        disks = ", ".join(f'{{ name = "hdisk{n}", unique_id = "3321360050768JOBS{i:04d}{n:04d}IBMfcp", '
                          f'reserve_policy = "no_reserve" }}' for n in range(1, lpars + 1))
        out += ["[[system]]", f'name = "Server-8205-E6C-SN{serial}"', f'ivm = "ivm{i}"', 'type_model = "8205-E6C"',
                f'serial = "{serial}"', "memory_mb = 65536", "proc_units = 16.0", "mem_region_size = 128",
                'compat_modes = ["default", "POWER7"]', f'password = "padmin-ivm{i}"', "",
                "[system.vios]", f'name = "vios{i}"', "max_virtual_slots = 200",
                'sea = [{ name = "ent4", pvid = 1, vlans = [1, 100] }]', 'fc_port = [{ name = "fcs0", fabric = "A" }]',
                f"hdisk = [{disks}]", ""]
        for n in range(1, lpars + 1):
            out += ["[[system.lpar]]", f'name = "j{i:02d}lpar{n}"', f"id = {n + 1}", 'state = "Running"',
                    'rmc_state = "active"', "memory_mb = 1024", "proc_units = 0.1", 'compat_mode = "POWER7"',
                    "eth = [{ slot = 2, vlan = 1 }]", f'scsi = [{{ slot = 3, disks = ["hdisk{n}"] }}]', ""]
    return "\n".join(out)


@pytest.fixture(scope="module")
def fleet20(tmp_path_factory):
    path = tmp_path_factory.mktemp("fleet20") / "fleet.toml"
    path.write_text(fleet_toml(IVMS, LPARS))
    with SimFleet(path, time_scale=50.0, seed=1) as running:
        yield running


# Installed before "Sync all": every status each IVM's sync cell shows, in order, and a mark that a reload would lose.
WATCH = """() => {
  window.__notReloaded = true;
  window.__seen = {};
  const note = (el) => {
    const name = el.dataset.testid.replace("sync-status-", "");
    const list = (window.__seen[name] = window.__seen[name] || []);
    const status = el.dataset.jobStatus || "none";
    if (list[list.length - 1] !== status) list.push(status);
  };
  new MutationObserver(() => document.querySelectorAll("[data-testid^=sync-status-]").forEach(note))
    .observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


def test_sync_all_of_twenty_ivms_answers_at_once_and_shows_each_ivm_live(fleet20, asgi_server, job_worker, page,
                                                                         admin_user):
    from mobility.inventory import sync_console
    from mobility.inventory.connections import close_all_clients
    from mobility.models import IVMConsole, IVMJob, ManagedSystem

    for entry in fleet20.ivms:
        register(entry)
    status, _, err = fleet20.ssh(HUNG, "ivmsim-fault add hang command=lssyscfg seconds=120")
    assert status == 0, err
    try:
        login(page, asgi_server, "adam")
        page.wait_for_url(f"{asgi_server}/inventory/")
        page.goto(f"{asgi_server}/consoles/")
        page.evaluate(WATCH)
        with page.expect_response(f"{asgi_server}/consoles/sync/") as answer:
            page.get_by_test_id("sync-all").click()
        timing = answer.value.request.timing
        assert timing["responseEnd"] - timing["requestStart"] < 500, timing  # 20 jobs stored, no IVM asked

        # Every IVM but the hung one ends synced, each row changing in place as its own job moves.
        page.wait_for_function(
            """(n) => document.querySelectorAll('[data-testid^=sync-status-][data-job-status=done]').length === n""",
            arg=IVMS - 1, timeout=60_000)
        hung = page.get_by_test_id(f"sync-status-{HUNG}")
        hung.get_by_test_id("sync-timed-out").wait_for(timeout=30_000)
        assert "No answer within 5 s" in hung.inner_text()
        # While it hung, the web process went on answering.
        started = time.monotonic()
        assert page.request.get(f"{asgi_server}/consoles/").ok
        assert time.monotonic() - started < 2.0

        seen = page.evaluate("() => window.__seen")
        assert page.evaluate("() => window.__notReloaded") is True
        for i in range(1, IVMS + 1):
            name = f"ivm{i}"
            final = "timed_out" if name == HUNG else "done"
            assert seen[name][-1] == final, (name, seen[name])
            assert {"queued", "running"} & set(seen[name][:-1]), (name, seen[name])  # shown before it ended
        assert page.locator("[data-testid^=sync-status-]", has_text="Synced:").count() == IVMS - 1
    finally:
        fleet20.ssh(HUNG, "ivmsim-fault clear all")
        # The released command lets the timed-out sync finish in the worker (its late result is not the job's):
        # wait for it, so that it writes nothing while the next test empties the database.
        deadline = time.monotonic() + 30
        while IVMConsole.objects.get(name=HUNG).last_sync_at is None and time.monotonic() < deadline:
            time.sleep(0.1)

    jobs = IVMJob.objects.filter(kind="sync")
    assert jobs.count() == IVMS and len({j.group for j in jobs}) == 1
    assert jobs.get(console__name=HUNG).status == "timed_out"
    # The jobs' inventory is the one a synchronous sync reads: a second sync (here, in the test) finds nothing new.
    close_all_clients()
    for console in IVMConsole.objects.exclude(name=HUNG):
        digest = console.inventory_digest
        assert digest and ManagedSystem.objects.get(console=console).partitions.count() == LPARS + 1
        again = sync_console(console)
        assert again.ok and again.rows_written == 0, again.summary()
        assert IVMConsole.objects.get(pk=console.pk).inventory_digest == digest

