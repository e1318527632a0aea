"""connectors.base.RetrySchedule: the one schedule on which connectors fetch quarantined items again (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import RetrySchedule

HOUR = 3600
SCHEDULE = RetrySchedule(first_wait=HOUR, max_tries=3, max_kept=4, per_run=2)


def test_each_failure_doubles_the_wait_and_the_last_one_lets_the_item_go() -> None:
    entries: dict[str, dict[str, int]] = {}
    waits = []
    now = 1_000_000
    for _ in range(SCHEDULE.max_tries):
        entries = SCHEDULE.failed(entries, "a", now)
        waits.append(entries["a"]["next"] - now)
        now = entries["a"]["next"]
    assert waits == [HOUR, 2 * HOUR, 4 * HOUR]
    assert entries["a"]["tries"] == SCHEDULE.max_tries
    assert SCHEDULE.failed(entries, "a", now) == {}  # max_tries retries failed: given up


def test_due_is_what_has_come_longest_due_first_at_most_per_run() -> None:
    entries = {"late": {"tries": 1, "next": 50}, "early": {"tries": 2, "next": 10}, "mid": {"tries": 1, "next": 30},
               "future": {"tries": 1, "next": 999}}
    assert SCHEDULE.due(entries, 100) == ["early", "mid"]
    assert RetrySchedule(first_wait=1, max_tries=3, max_kept=9).due(entries, 100) == ["early", "mid", "late"]
    assert SCHEDULE.due(entries, 5) == []


def test_the_entries_failed_longest_ago_make_way() -> None:
    entries: dict[str, dict[str, int]] = {}
    for second, item_id in enumerate("abcde"):
        entries = SCHEDULE.failed(entries, item_id, 1000 + second)
    assert list(entries) == ["b", "c", "d", "e"]
    entries = SCHEDULE.failed(entries, "b", 2000)  # failed again: now the latest
    entries = SCHEDULE.failed(entries, "f", 2001)
    assert list(entries) == ["d", "e", "b", "f"]


def test_nothing_given_is_changed() -> None:
    entries = {"a": {"tries": 1, "next": 10}}
    SCHEDULE.failed(entries, "a", 20)
    SCHEDULE.failed(entries, "b", 20)
    SCHEDULE.forget(entries, "a")
    assert entries == {"a": {"tries": 1, "next": 10}}


def test_load_orders_by_the_last_failure() -> None:
    # b failed at 0 (next 0 + 1 h), a at 100 (its second failure: next 100 + 2 h).
    stored = {"a": {"tries": 2, "next": 100 + 2 * HOUR}, "b": {"tries": 1, "next": HOUR}}
    assert list(SCHEDULE.load(stored)) == ["b", "a"]


@pytest.mark.parametrize("value", [
    None, "retry", [], 7,
    {"x": None}, {"x": "soon"}, {"x": {}}, {"x": {"tries": 1}}, {"x": {"next": 5}},
    {"x": {"tries": "one", "next": 5}}, {"x": {"tries": 1, "next": "tomorrow"}},
    {"x": {"tries": 1, "next": float("nan")}}, {"x": {"tries": 1, "next": float("inf")}},
    {"x": {"tries": 0, "next": 5}}, {"x": {"tries": -3, "next": 5}}, {"x": {"tries": 99, "next": 5}},
    {"": {"tries": 1, "next": 5}}, {"x": {"tries": [1], "next": 5}},
])
def test_a_hand_edited_entry_is_dropped_not_an_error(value: Any) -> None:
    assert SCHEDULE.load(value) == {}
    assert SCHEDULE.due(SCHEDULE.load(value), 10**12) == []


def test_load_keeps_good_entries_beside_bad_ones_as_integers() -> None:
    stored = {"bad": {"tries": "x"}, "good": {"tries": "2", "next": 1.7e9}}
    assert SCHEDULE.load(stored) == {"good": {"tries": 2, "next": 1_700_000_000}}
