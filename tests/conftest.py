"""Shared fixtures: an in-process `kata` with captured output, the probe kata, temporary workspaces."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from kata_runner.catalog import Catalog
from kata_runner.cli import App, main
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
