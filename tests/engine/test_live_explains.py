"""The live page in words: steps a mode skips with why, figures frozen after a stop, an ETA in words, readable event
lines, a "No results" answer as what it means, and a chart with axes and the suspend window."""

from datetime import datetime

import pytest

from mobility.live import chart, wording
from mobility.live.presenters import event_rows, figures_html, state_html
from mobility.models import Migration, MigrationEvent, Team
from tests.factories import make_partition, make_system


@pytest.mark.parametrize(("eta", "words"), [
    ([1, 1], "a few seconds left"), ([0.4, 3.9], "a few seconds left"), ([10, 11], "10–11 seconds left"),
    ([20.2, 19.8], "about 20 seconds left"), ([50, 130], "1–2 minutes left"), ([120, 130], "about 2 minutes left"),
    ([3600 * 2, 3600 * 3], "2–3 hours left"), (None, ""), ("soon", ""),
])
def test_the_eta_reads_as_words_never_as_a_range_of_one(eta, words):
    assert wording.eta_words(eta) == words


def test_a_no_results_answer_reads_as_what_it_means_and_other_answers_as_they_are():
    answer = wording.command_answer({"command": "lsnports", "exit": 0,
                                     "output": "[VIOSI01040010-0003] No results were found.\n"})
    assert answer == {"no_results": "no NPIV-capable Fibre Channel ports", "error": "", "output": ""}
    fc = wording.command_answer({"command": "lshwres -r virtualio --rsubtype fc --level lpar", "exit": 0,
                                 "output": "[VIOSI01040010-0003] No results were found."})
    assert fc["no_results"] == "no Fibre Channel adapters"
    error = wording.command_answer({"command": "migrlpar -o m -p app01", "exit": 1, "output": "",
                                    "error": "[VIOSE03000001-0001] something broke"})
    assert error["no_results"] is None and "VIOSE" in error["error"]
    listing = wording.command_answer({"command": "lsnports", "exit": 0, "output": "name physloc fabric\nfcs0 U1 1"})
    assert listing["no_results"] is None and listing["output"].startswith("name")


def test_every_event_kind_reads_as_a_sentence_without_python_dicts():
    lines = [wording.event_line(kind, payload) for kind, payload in [
        ("step", {"number": 6, "status": "running", "detail": "copying"}),
        ("status", {"status": "stopped", "outcome": "Stopped by rita"}),
        ("progress", {"percent": 42.0, "sent": 4.2e9, "remaining": 5.8e9, "state": "Migration In Progress"}),
        ("suspend", {"window_s": 1.2}), ("suspend", {"window_s": 2.5, "bound": True}),
        ("request", {"action": "stop", "by": "rita", "at": "2026-01-01T00:00:00+00:00"}),
        ("stuck", {"since": "2026-01-01T00:00:00+00:00"}), ("something_new", {"a_b": 1, "c": None}),
    ]]
    lines = [line.replace("\xa0", " ") for line in lines]  # filesizeformat's non-breaking spaces
    assert lines[0] == "Step 6 (Move the partition state): running — copying"
    assert lines[1] == "Stopped — Stopped by rita"
    assert lines[2] == "42.0 % sent (3.9 GB, 5.4 GB remaining); the IVM reports “Migration In Progress”"
    assert lines[3] == "Suspend window about 1.2 s" and lines[4].startswith("Suspend window at most 2.5 s")
    assert lines[5] == "rita asked to stop" and lines[7] == "Something new — a b: 1"
    assert not any("{" in line or "'" in line for line in lines), lines


def test_the_chart_has_round_ticks_on_both_axes_and_marks_the_suspend_window():
    points = [{"sent": i * 4e8, "remaining": 8e9 - i * 4e8, "at": f"2026-01-01T00:00:{i:02d}+00:00"}
              for i in range(15)]
    window = (datetime.fromisoformat("2026-01-01T00:00:12+00:00"), datetime.fromisoformat("2026-01-01T00:00:13.5+00:00"))
    drawn = chart.build(points, window, suspend_bound=True)
    assert [t.label for t in drawn.x_ticks] == ["0", "5", "10", "15"] and drawn.x_ticks[-1].at == drawn.right
    assert [t.label for t in drawn.y_ticks] == ["0", "2", "4", "6", "8"] and drawn.y_ticks[-1].at == drawn.top
    assert len(drawn.sent.split()) == len(drawn.remaining.split()) == 15
    assert drawn.suspend[0] == pytest.approx(drawn.left + (drawn.right - drawn.left) * 12 / 15)
    assert drawn.suspend_label == "suspended at most 1.5 s"
    assert chart.build([]) is None and chart.build([{"sent": 1}]) is None  # nothing timed: no chart


@pytest.mark.django_db
def test_after_a_stop_the_figures_are_frozen_and_labelled_and_inactive_steps_say_why(requester):
    src, dst = make_system(), make_system()
    part = make_partition(src, "app77", 7, team=Team.objects.get(name="Payments"))
    m = Migration.objects.create(partition=part, source=src, destination=dst, mode="inactive", requester=requester,
                                 status="running", percent=42.0, bytes_transmitted=4 * 10**9,
                                 bytes_remaining=6 * 10**9)
    m.create_steps()
    MigrationEvent.objects.create(migration=m, seq=1, kind="progress", payload={
        "sent": 4 * 10**9, "remaining": 6 * 10**9, "percent": 42.0, "rate": 1.5e9, "eta": [4, 5], "converging": True,
        "state": "Migration In Progress", "at": "2026-01-01T00:00:00+00:00"})
    running = figures_html(m).replace("\xa0", " ")
    assert "rate 1.4 GB/s" in running and "4–5 seconds left" in running and "converging" in running
    assert 'aria-live="polite"' in running and 'data-testid="chart"' in running and "seconds since" in running

    Migration.objects.filter(pk=m.pk).update(status="stopped")
    m.refresh_from_db()
    stopped = figures_html(m)
    assert "Stopped: the figures as they stood at the stop" in stopped and "42.0 %" in stopped
    assert "rate" not in stopped and "left" not in stopped and "converging" not in stopped
    panel = state_html(m)
    assert 'data-step="7" data-status="not-applicable"' in panel and "nothing to suspend" in panel
    assert 'data-step="8" data-status="not-applicable"' in panel and 'data-step="10" data-status="pending"' in panel
    assert '<p aria-live="polite" aria-atomic="true">Status:' in panel
    assert event_rows(MigrationEvent.objects.filter(migration=m))[0]["line"].startswith("42.0 % sent")


@pytest.mark.django_db
@pytest.mark.parametrize(("bound", "data", "label"), [
    (False, {"suspended_seen_at": "2026-01-01T00:00:08+00:00"}, "suspended 1.5 s"),
    (True, {"completed_seen_at": "2026-01-01T00:00:09.5+00:00"}, "suspended at most 1.5 s"),
])
def test_the_chart_marks_a_measured_suspend_window_and_a_bound_where_they_lie(requester, bound, data, label):
    from mobility.live.presenters import figures_context

    src, dst = make_system(), make_system()
    part = make_partition(src, "app66", 6, team=Team.objects.get(name="Payments"))
    m = Migration.objects.create(partition=part, source=src, destination=dst, mode="active", requester=requester,
                                 status="completed", suspend_window_s=1.5, suspend_window_bound=bound)
    m.create_steps()
    m.steps.filter(number=7).update(data=data)
    MigrationEvent.objects.bulk_create(MigrationEvent(migration=m, seq=i + 1, kind="progress", payload={
        "sent": i * 10**9, "remaining": 10**10 - i * 10**9, "at": f"2026-01-01T00:00:{i:02d}+00:00"}) for i in range(10))
    drawn = figures_context(m)["chart"]
    assert drawn.suspend_label == label
    assert drawn.suspend[0] == pytest.approx(drawn.left + (drawn.right - drawn.left) * 8 / 10)
