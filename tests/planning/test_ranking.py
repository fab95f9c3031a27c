"""Destination ranking on the fleet of fleet.py, where the right order is known."""

import json
from dataclasses import replace

import pytest

from mobility.planning import Effect, Mode, rank_destinations

from .fleet import build_fleet


@pytest.fixture
def fleet():
    return build_fleet()


def rank(fleet, name, mode=None, candidates=None):
    return rank_destinations(fleet.partition(name), fleet.source, candidates or fleet.destinations, mode)


def test_it_puts_the_roomiest_idle_server_first_and_blocked_servers_last(fleet):
    ranked = rank(fleet, "lp_web")
    assert [(c.system, c.eligible) for c in ranked] == [
        ("dstB", True), ("dstC", True), ("dstD", False), ("dstE", False)]
    assert ranked[0].score > ranked[1].score > 0
    assert ranked[2].score == ranked[3].score == 0


def test_it_lists_blocked_servers_with_their_blocking_reasons(fleet):
    by_name = {c.system: c for c in rank(fleet, "lp_web")}
    assert [c.key for c in by_name["dstD"].blocking] == ["lmb_size"]
    assert [c.key for c in by_name["dstE"].blocking] == ["dest_migration_limit"]
    blocking = [r for r in by_name["dstD"].reasons if r.effect is Effect.BLOCKING]
    assert blocking[0].text.startswith("The memory block size (LMB) of dstD is 256 MB")
    assert blocking[0].figures == {"source_mb": 128, "dest_mb": 256}
    assert by_name["dstD"].reasons[0].effect is Effect.BLOCKING  # blockers come first


def test_it_shows_positive_and_negative_reasons_with_figures(fleet):
    by_name = {c.system: c for c in rank(fleet, "lp_web")}
    c_reasons = {r.key: r for r in by_name["dstC"].reasons}
    migrations = c_reasons["migration_capacity"]
    assert migrations.effect is Effect.NEGATIVE
    assert migrations.figures == {"in_progress": 2, "supported": 8}
    assert "2 of 8 active migrations" in migrations.text
    memory = c_reasons["memory_headroom"]
    assert memory.effect is Effect.POSITIVE and memory.figures["after_mb"] == 40960 - 16384
    assert "24.0 GB of 128.0 GB free after the move (19%)" in memory.text
    assert c_reasons["vlans_bridged"].effect is Effect.POSITIVE and "1, 20, 30" in c_reasons["vlans_bridged"].text


def test_its_score_is_the_sum_of_the_reasons_points(fleet):
    for candidate in rank(fleet, "lp_web"):
        assert candidate.score == pytest.approx(max(0.0, sum(r.points for r in candidate.reasons)), abs=0.01)


def test_it_ranks_a_clashing_name_server_as_blocked(fleet):
    ranked = rank(fleet, "lp_clash")
    assert [c.system for c in ranked if c.eligible] == ["dstC"]
    assert next(c for c in ranked if c.system == "dstB").blocking[0].key == "name_free"


def test_it_lets_a_server_at_its_active_limit_take_an_inactive_move(fleet):
    ranked = rank(fleet, "lp_batch")
    assert [c.system for c in ranked if c.eligible] == ["dstB", "dstE", "dstC"]
    assert rank(fleet, "lp_web", mode=Mode.INACTIVE)[1].system == "dstE"


def test_it_lists_every_server_as_blocked_when_none_has_enough_memory(fleet):
    ranked = rank(fleet, "lp_huge")
    assert not any(c.eligible for c in ranked)
    assert all("memory" in [b.key for b in c.blocking] for c in ranked)
    # fewer blockers first, then by name: dstB and dstC lack only memory; dstD and dstE also have another blocker
    assert [c.system for c in ranked] == ["dstB", "dstC", "dstD", "dstE"]


def test_it_never_offers_the_source_itself(fleet):
    ranked = rank(fleet, "lp_web", candidates=(fleet.source, *fleet.destinations))
    assert "srcA" not in [c.system for c in ranked]


def test_it_breaks_score_ties_by_name(fleet):
    twin = replace(fleet.system("dstB"), name="dstA", serial="06AAAA1")
    ranked = rank(fleet, "lp_web", candidates=(fleet.system("dstB"), twin))
    assert [c.system for c in ranked] == ["dstA", "dstB"]
    assert ranked[0].score == ranked[1].score


def test_it_is_deterministic_whatever_the_order_of_candidates(fleet):
    forward = rank(fleet, "lp_web")
    backward = rank(fleet, "lp_web", candidates=tuple(reversed(fleet.destinations)))
    assert [c.to_dict() for c in forward] == [c.to_dict() for c in backward]


def test_it_prefers_more_free_slots_when_everything_else_is_equal(fleet):
    roomy = fleet.system("dstB")
    crowded = replace(roomy, name="dstZ", management_partition=replace(
        roomy.management_partition, max_virtual_slots=30))
    ranked = rank(fleet, "lp_web", candidates=(crowded, roomy))
    assert [c.system for c in ranked] == ["dstB", "dstZ"]
    slot_reason = next(r for r in ranked[1].reasons if r.key == "slot_headroom")
    assert slot_reason.effect is Effect.NEGATIVE and slot_reason.figures["free_after"] == 30 - 11 - 3 - 4


def test_it_serialises_candidates_to_json(fleet):
    data = [c.to_dict() for c in rank(fleet, "lp_web")]
    assert json.loads(json.dumps(data)) == data
    assert data[0]["reasons"][0]["effect"] in {"positive", "negative", "blocking"}


def test_the_reasons_a_person_reads_say_each_thing_once(fleet):
    from mobility.planning import distinct_reasons
    from mobility.planning.ranking import SCORE_TWIN

    for candidate in rank(fleet, "lp_web"):
        shown = distinct_reasons(candidate)
        texts = [r.text for r in shown]
        assert len(texts) == len(set(texts))
        keys = {r.key for r in shown}
        # a check and the score line about the same thing: one of them (the blocker, else the score line)
        assert not any(check in keys and twin in keys for check, twin in SCORE_TWIN.items()), (candidate.system, keys)
        assert [r for r in candidate.reasons if r.effect is Effect.BLOCKING] == [
            r for r in shown if r.effect is Effect.BLOCKING]
        assert sum(r.points for r in shown) == pytest.approx(sum(r.points for r in candidate.reasons))
    best = distinct_reasons(rank(fleet, "lp_web")[0])
    assert {"memory_headroom", "vlans_bridged", "lun_visible"} <= {r.key for r in best}
    assert "memory" not in {r.key for r in best}


def test_when_no_server_can_take_a_partition_the_common_blockers_come_most_widespread_first(fleet):
    from mobility.planning import common_blockers

    web = fleet.source.partition_named("lp_web")
    huge = replace(web, memory_mb=10**7)
    ranked = rank_destinations(huge, fleet.source, fleet.destinations)
    assert not any(c.eligible for c in ranked)
    blockers = common_blockers(ranked)
    assert blockers[0].key == "memory" and blockers[0].systems == ("dstB", "dstC", "dstD", "dstE")
    assert "memory" in blockers[0].example.lower()
    counts = [len(b.systems) for b in blockers]
    assert counts == sorted(counts, reverse=True)
    assert {b.key for b in blockers} == {b.key for c in ranked for b in c.blocking}
