"""The same verdict on any run and any load (issue 11): limits count the attempt's own CPU time, the
suite's own time never decides a verdict, and every random generator is seeded.

Three CPU-bound processes run beside the gradings, each in a session of its own so that the
scheduler gives each a full share (processes of one session share one).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kata_runner.attempt import Attempt
from kata_runner.catalog import Catalog
from kata_runner.grading import grade

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from test_contract import CATALOG, bug_cases

HOGS = 3


@pytest.fixture(scope="module")
def cpu_hogs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Three busy loops, each in its own session (so each is its own scheduling group)."""
    hogs = [
        subprocess.Popen(
            [sys.executable, "-c", "while True: pass"],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(HOGS)
    ]
    yield hogs
    for hog in hogs:
        hog.kill()
        hog.wait()


def signature(doc: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """What must not change between gradings: every status and every minimal example."""
    return [
        (t["nodeid"], t["status"], (t.get("hypothesis") or {}).get("falsifying_example"))
        for t in doc["tests"]
    ]


UNNORMALISED = textwrap.dedent(
    """
    import numpy as np


    def cosine_similarity(a, b):
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if a.ndim != 1 or a.size == 0 or a.shape != b.shape:
            raise ValueError("need two non-empty vectors of equal length")
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        return 0.0 if na == 0 or nb == 0 else float(np.clip(a @ b / (na * nb), -1, 1))


    def cosine_similarity_matrix(A, B):
        A = np.asarray(A, dtype=np.float64)
        B = np.asarray(B, dtype=np.float64)
        return A @ B.T  # forgot to normalise
    """
)

SLIPS = {
    "unnormalised-matrix": UNNORMALISED,
    "zeros": "import numpy as np\n\ndef cosine_similarity(a, b):\n    return 0.0\n\n"
    "def cosine_similarity_matrix(A, B):\n    return np.zeros((len(A), len(B)))\n",
    "constant": "import numpy as np\n\ndef cosine_similarity(a, b):\n    return 0.5\n\n"
    "def cosine_similarity_matrix(A, B):\n    return np.full((len(A), len(B)), 0.5)\n",
}


def _grade(source: str, name: str, slug: str = "cosine_similarity") -> dict[str, Any]:
    return grade(Attempt(Catalog().get(slug), source, name), jobs=1).to_json()


def test_the_unnormalised_matrix_gets_one_verdict_20_times_quiet_and_loaded(request):
    quiet = [signature(_grade(UNNORMALISED, "unnormalised.py")) for _ in range(10)]
    hogs = request.getfixturevalue("cpu_hogs")
    assert all(h.poll() is None for h in hogs)
    loaded = [signature(_grade(UNNORMALISED, "unnormalised.py")) for _ in range(10)]
    assert all(s == quiet[0] for s in quiet + loaded)
    matrix_tests = [(status, example) for nodeid, status, example in quiet[0] if "matrix" in nodeid]
    assert "fail" in {status for status, _ in matrix_tests}
    assert {status for status, _ in matrix_tests} <= {"pass", "fail", "not_run"}
    assert any(example for status, example in matrix_tests if status == "fail")


@pytest.mark.parametrize("slip", sorted(SLIPS))
def test_ordinary_slips_get_the_same_verdict_quiet_and_loaded(slip, cpu_hogs):
    docs = [_grade(SLIPS[slip], f"{slip}.py") for _ in range(3)]
    assert len({json.dumps(signature(d)) for d in docs}) == 1
    cleared = 1 if slip == "unnormalised-matrix" else 0  # it breaks only the matrix of level 2
    assert docs[0]["cleared_levels"] == cleared and docs[0]["reason"] is None


def _jobs() -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """Every reference, and every bug whose verdict is a time limit: the verdicts load could move
    (the contract grades every bug on a quiet machine)."""
    jobs = []
    for kata in CATALOG:
        jobs.append((kata.slug, "reference", kata.solution_path.read_text(), None))
        for case in bug_cases(kata.slug):
            if case.get("status") == "timeout":
                source = case.get("source") or Path(case["path"]).read_text()
                jobs.append((kata.slug, case["name"], source, case))
    return jobs


def test_every_reference_and_every_timed_bug_keep_their_verdicts_beside_three_cpu_hogs(cpu_hogs):
    jobs = _jobs()
    with ThreadPoolExecutor(max_workers=2) as pool:
        docs = list(pool.map(lambda job: _grade(job[2], job[1], job[0]), jobs))
    problems = []
    for (slug, name, _, case), doc in zip(jobs, docs, strict=True):
        if case is None:
            if doc["status"] != "pass":
                problems.append(
                    f"{slug} reference: {doc['status']} {doc['reason']} {doc['message']}"
                )
            continue
        level = case["level"]
        failing = [t for t in doc["tests"] if t["level"] == level and t["status"] != "pass"]
        pointed = [t for t in failing if case["message"] in (t["message"] or "")]
        if not pointed or (
            "status" in case and case["status"] not in {t["status"] for t in pointed}
        ):
            problems.append(f"{slug} {name}: lost its verdict under load ({doc['reason']})")
    assert not problems, "\n".join(problems)


def test_a_warm_grading_gives_the_same_documents_as_a_cold_one():
    """`kata watch` grades through a warm server: the verdicts, messages and examples are those of a
    cold `kata run`, for the reference and for slips."""
    from kata_runner.grading import WarmServer

    kata = Catalog().get("cosine_similarity")
    server = WarmServer(kata)
    try:
        for name, source in [("reference", kata.solution_path.read_text()), *SLIPS.items()]:
            cold = grade(Attempt(kata, source, name), jobs=1).to_json()
            warm = grade(Attempt(kata, source, name), jobs=2, server=server).to_json()
            assert signature(warm) == signature(cold), name
            assert [t["message"] for t in warm["tests"]] == [t["message"] for t in cold["tests"]]
    finally:
        server.close()


def test_the_start_order_of_several_jobs_never_changes_a_verdict_or_a_message():
    """With several jobs a run starts each level's longest tests first (`start_order`): every
    known-wrong version of bm25 gets the same statuses, minimal examples and messages with 1 job
    (suite order) as with 2 (another order)."""
    from kata_runner.outcome import TestState as State
    from kata_runner.start_order import start_order

    kata = Catalog().get("bm25")
    reference = grade(Attempt(kata, kata.solution_path.read_text(), "reference.py"), jobs=1)
    tests = [
        State(
            index=i,
            nodeid=t["nodeid"],
            name=t["name"],
            level=t["level"],
            limit=10.0,
            uses=frozenset(),
        )
        for i, t in enumerate(reference.to_json()["tests"])
    ]
    assert start_order("bm25", tests, jobs=2) != start_order("bm25", tests, jobs=1)
    checked = 0
    for case in bug_cases("bm25"):
        if case.get("status") == "timeout":  # a time limit each way: slow, and checked elsewhere
            continue
        source = case["source"] if "source" in case else Path(case["path"]).read_text()
        docs = [
            grade(
                Attempt(kata, source, f"{case['name']}.py"), jobs=jobs, only_level=case["level"]
            ).to_json()
            for jobs in (1, 2)
        ]
        assert signature(docs[1]) == signature(docs[0]), case["name"]
        messages = [[t["message"] for t in doc["tests"]] for doc in docs]
        assert messages[1] == messages[0], case["name"]
        checked += 1
    assert checked >= 8
