"""The order a run starts its tests in: suite order with one job; with several, level by level and
the longest expected first, unknown tests after the known long ones in suite order."""

from __future__ import annotations

import json

import pytest

from kata_runner import start_order as order
from kata_runner.outcome import TestState as State  # not collected as a test class


def make(index: int, name: str, level: int) -> State:
    return State(
        index=index,
        nodeid=f"suites/test_x.py::{name}",
        name=name,
        level=level,
        limit=10.0,
        uses=frozenset(),
    )


TESTS = [
    make(0, "test_a", 1),
    make(1, "test_b", 1),
    make(2, "test_c[0]", 1),
    make(3, "test_d", 2),
    make(4, "test_e", 2),
    make(5, "test_f", 2),
]


@pytest.fixture(autouse=True)
def durations(monkeypatch: pytest.MonkeyPatch, tmp_path):
    table = {"x": {"test_b": 80, "test_c[0]": 400, "test_f": 1200, "test_d": 60}}
    path = tmp_path / "durations.json"
    path.write_text(json.dumps(table))
    monkeypatch.setattr(order, "DURATIONS_FILE", path)
    order.expected_durations.cache_clear()
    yield
    order.expected_durations.cache_clear()


def test_one_job_starts_the_tests_in_suite_order():
    assert order.start_order("x", TESTS, jobs=1) == [0, 1, 2, 3, 4, 5]


def test_several_jobs_start_each_level_longest_first_and_never_a_later_level_first():
    assert order.start_order("x", TESTS, jobs=2) == [2, 1, 0, 5, 3, 4]


def test_a_kata_without_durations_keeps_suite_order():
    assert order.start_order("unknown", TESTS, jobs=4) == [0, 1, 2, 3, 4, 5]


def test_a_missing_or_broken_durations_file_costs_nothing_but_order(monkeypatch, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setattr(order, "DURATIONS_FILE", broken)
    order.expected_durations.cache_clear()
    assert order.start_order("x", TESTS, jobs=2) == [0, 1, 2, 3, 4, 5]


def test_the_shipped_table_names_only_katas_of_the_catalogue(monkeypatch):
    from kata_runner.catalog import Catalog

    shipped_file = order.Path(order.__file__).parent / "suites" / "durations.json"
    monkeypatch.setattr(order, "DURATIONS_FILE", shipped_file)
    order.expected_durations.cache_clear()
    shipped = order.expected_durations()
    assert shipped, "suites/durations.json is missing or empty"
    assert set(shipped) <= set(Catalog().slugs())
    assert all(ms > 0 for tests in shipped.values() for ms in tests.values())
