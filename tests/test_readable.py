"""Values as people read them: durations in words, recorded data as key/value pairs."""

from datetime import UTC, datetime, timedelta

import pytest

from mobility import readable


@pytest.mark.parametrize(("value", "text"), [
    (None, "—"), (0.2, "0.2 s"), (9.94, "9.9 s"), (9.96, "10 s"), (timedelta(seconds=18.027242), "18 s"),
    (59.6, "1 min 00 s"), (245, "4 min 05 s"), (timedelta(hours=1, minutes=2, seconds=5), "1 h 02 min"),
    (timedelta(days=1, hours=1), "1 d 1 h"), (-1, "—"),
])
def test_durations_read_as_words(value, text):
    assert readable.duration(value) == text


def test_recorded_data_reads_as_pairs_in_its_own_order():
    data = {"command": "migrlpar -o m", "exit_status": 0, "error": None, "retried": False,
            "expires_at": "2026-12-09 06:28:50.760120+00:00", "mappings": {"virtual_scsi_mappings": "3//1"}}
    assert readable.pairs(data, skip=("command",)) == [
        ("exit_status", "0"), ("error", "—"), ("retried", "no"), ("expires_at", "2026-12-09 06:28:50 UTC"),
        ("mappings", '{"virtual_scsi_mappings": "3//1"}')]
    assert readable.value_text(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05 UTC"
    assert readable.pairs({}) == [] and readable.pairs("text") == [("value", "text")]
