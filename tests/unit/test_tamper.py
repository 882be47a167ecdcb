"""The tamper snapshot: what a forged pass must replace shows up, whether the check reads dict
versions (CPython 3.11-3.12) or compares every watched object."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from kata_runner import tamper
from kata_runner.tamper import Snapshot


class Judge:
    """A class of a judging module stands in for `TestReport` and the like."""

    def passed(self) -> bool:
        return False


Judge.__module__ = "kata_runner.tests_judge"


@pytest.fixture(params=["versions", "identities"])
def snapshot(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Snapshot:
    judge = type(sys)("kata_runner.tests_judge")
    judge.Judge = Judge  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kata_runner.tests_judge", judge)
    snap = Snapshot.take()
    if request.param == "identities":
        snap.backing, snap.modules_version = None, None
    elif snap.backing is None:
        pytest.skip("this Python's dict versions are not readable: only the identity check runs")
    return snap


def test_nothing_changed_means_no_changes(snapshot: Snapshot) -> None:
    assert snapshot.changes() == []


def test_a_replaced_function_of_a_judging_module_is_reported(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json, "dumps", lambda *a, **k: "{}")
    assert snapshot.changes() == ["json.dumps was replaced"]


def test_a_replaced_numpy_function_is_reported(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    assert snapshot.changes() == ["numpy.allclose was replaced"]


def test_a_replaced_method_of_a_judging_class_is_reported(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Judge, "passed", lambda self: True)
    assert snapshot.changes() == ["kata_runner.tests_judge.Judge.passed was replaced"]


def test_a_dunder_added_to_a_judging_class_is_reported(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Judge, "__eq__", lambda self, other: True, raising=False)
    assert snapshot.changes() == ["kata_runner.tests_judge.Judge.__eq__ was added"]


def test_a_replaced_module_in_sys_modules_is_reported(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "json", type(sys)("json"))
    assert snapshot.changes() == ["sys.modules['json'] was replaced"]


@pytest.mark.skipif(
    sys.implementation.name != "cpython" or sys.version_info[:2] not in ((3, 11), (3, 12)),
    reason="dict versions are read on CPython 3.11 and 3.12 only",
)
def test_dict_versions_are_read_where_the_layout_is_known() -> None:
    where = tamper.version_address()
    assert where is not None
    probe = {"a": 1}
    before = tamper._read_version(where(probe))
    assert tamper._read_version(where(probe)) == before  # reading moves nothing
    probe["a"] = 2
    assert tamper._read_version(where(probe)) != before
