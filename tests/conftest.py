"""Shared fixtures: an in-process `kata` with captured output, the probe kata, temporary workspaces."""

from __future__ import annotations

import io
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from kata_runner.attempt import Attempt, read_attempt
from kata_runner.catalog import Catalog
from kata_runner.cli import App, main
from kata_runner.grading import WarmServer, grade
from kata_runner.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"
PROBE = FIXTURES / "probe"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.out)

    def test(self, name: str) -> dict[str, Any]:
        """The results entry of the test whose node id contains `name`."""
        matches = [t for t in self.doc["tests"] if name in t["nodeid"]]
        assert len(matches) == 1, f"{name!r} matches {[t['nodeid'] for t in self.doc['tests']]}"
        return matches[0]


def make_runner(
    catalog: Catalog, workspace: Workspace | None = None, width: int = 120
) -> Callable[..., CliResult]:
    """`kata argv...` in this process, with stdout and stderr captured, on a terminal `width` columns wide."""

    def run(*argv: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        app = App(
            catalog,
            Console(file=out, width=width, no_color=True),
            Console(file=err, width=width, no_color=True),
            workspace=workspace,
        )
        code = main(list(argv), app=app)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def probe_catalog() -> Catalog:
    return Catalog(PROBE / "katas", PROBE / "solutions", PROBE / "suites")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "workspace", "a test workspace")


@pytest.fixture
def kata_probe(probe_catalog: Catalog, workspace: Workspace) -> Callable[..., CliResult]:
    """`kata ...` against the probe kata (limits: 1 s per test, 40 s per run), in a temporary workspace."""
    return make_runner(probe_catalog, workspace)


@pytest.fixture
def kata(workspace: Workspace) -> Callable[..., CliResult]:
    """`kata ...` against the real catalogue, in a temporary workspace."""
    return make_runner(Catalog(), workspace)


@pytest.fixture
def probe_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a `python -m kata_runner` subprocess on the probe kata and a temporary workspace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KATA_")}
    env.update(
        KATA_CATALOG=str(PROBE),
        KATA_WORKSPACE=str(tmp_path / "workspace"),
        NO_COLOR="1",
        COLUMNS="120",
    )
    return env


class Gradings:
    """Gradings of the catalogue contract, started together on a small pool; call one to wait for it.

    The gradings of one kata share a warm server (the suite collected once, a fresh confined root
    forked per grading: the path `kata watch` takes, with every check of a cold run). A bug is
    graded at its own level: the contract asks nothing of the others."""

    def __init__(self, jobs: list[tuple[str, str, Path | str, int | None]], workers: int) -> None:
        self.catalog = Catalog()
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.futures: dict[tuple[str, str], Future[dict[str, Any]]] = {}
        self.servers: dict[str, WarmServer] = {}
        self.remaining = Counter(slug for slug, *_ in jobs)
        self.lock = threading.Lock()
        # tests per grading: `KATA_CONTRACT_JOBS=2 nox -s golden` proves verdicts do not depend on it
        self.jobs = int(os.environ.get("KATA_CONTRACT_JOBS", "1"))
        # a bug is graded at its own level only (all the contract asks of it); the golden documents
        # were recorded with every level up to the bug's: `nox -s golden` sets "up_to"
        self.bug_levels = os.environ.get("KATA_CONTRACT_BUG_LEVELS", "own")
        for slug, name, what, up_to_level in jobs:
            kata = self.catalog.get(slug)
            attempt = (
                read_attempt(kata, what)
                if isinstance(what, Path)
                else Attempt(kata, what, f"{slug} {name}")
            )
            self.futures[(slug, name)] = self.pool.submit(self._grade, attempt, up_to_level)

    def _grade(self, attempt: Attempt, level: int | None) -> dict[str, Any]:
        slug = attempt.kata.slug
        with self.lock:
            if slug not in self.servers:
                self.servers[slug] = WarmServer(attempt.kata)
            server = self.servers[slug]
        try:
            levels = (
                ({"up_to_level": level} if self.bug_levels == "up_to" else {"only_level": level})
                if level is not None
                else {}
            )
            return grade(attempt, jobs=self.jobs, server=server, **levels).to_json()
        finally:
            with self.lock:
                self.remaining[slug] -= 1
                if not self.remaining[slug]:
                    self.servers.pop(slug).close()

    def __call__(self, slug: str, name: str) -> dict[str, Any]:
        return self.futures[(slug, name)].result()

    def wait_all(self) -> None:
        """Block until no grading is running (timing must not share the machine with them)."""
        for future in self.futures.values():
            future.exception()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)
        with self.lock:
            for server in self.servers.values():
                server.close()
            self.servers.clear()


@pytest.fixture(scope="session")
def graded(request: pytest.FixtureRequest) -> Iterator[Gradings]:
    """The contract's gradings for the katas the selected tests need (`tests/test_contract.py` lists them)."""
    from test_contract import JOBS

    wanted = {
        item.callspec.params.get("slug")
        for item in request.session.items
        if hasattr(item, "callspec")
    }
    gradings = Gradings(
        [job for job in JOBS if job[0] in wanted],
        int(os.environ.get("KATA_CONTRACT_WORKERS", os.cpu_count() or 2)),
    )
    yield gradings
    gradings.close()
