"""Shared fixtures: an in-process `kata` with captured output, and the probe kata's catalogue."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from kata_runner.catalog import Catalog
from kata_runner.cli import App, main

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


def make_runner(catalog: Catalog) -> Callable[..., CliResult]:
    def run(*argv: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        app = App(
            catalog,
            Console(file=out, width=120, no_color=True),
            Console(file=err, width=120, no_color=True),
        )
        code = main(list(argv), app=app)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def probe_catalog() -> Catalog:
    return Catalog(PROBE / "katas", PROBE / "solutions", PROBE / "suites")


@pytest.fixture
def kata_probe(probe_catalog: Catalog) -> Callable[..., CliResult]:
    """`kata ...` against the probe kata (limits: 1 s per test, 40 s per run)."""
    return make_runner(probe_catalog)


@pytest.fixture
def kata() -> Callable[..., CliResult]:
    """`kata ...` against the real catalogue."""
    return make_runner(Catalog())
