"""The pytest side of a hidden suite: the `impl` fixture, the `level` marker, the Hypothesis profile.

Suites only ever touch `impl.<name>`, the attempt loaded by path. Authors can run a suite directly:

    pytest -p kata_runner.pytest_plugin --kata-impl solutions/top_k.py src/kata_runner/suites/test_top_k.py

`kata run` loads this plugin in its grading child together with `kata_runner.harness`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

IMPL_KEY = pytest.StashKey[Any]()

# Same attempt, same verdict, same minimal example: derandomized, no example database, no deadline
# (a slow attempt is the timeout's business, not a flaky failure), no `explain` phase (slow).
settings.register_profile(
    "kata",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=50,
    print_blob=False,
    report_multiple_bugs=False,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow],
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata", "grading a kata attempt")
    group.addoption(
        "--kata-impl", metavar="PATH", help="the file under test: an attempt, a stub or a reference"
    )


def _no_local_constants() -> None:
    """Hypothesis (6.131+) also generates constants it finds in "local" source files: the attempt's
    own, and ours when kata is installed in editable mode. Then an unrelated constant in the attempt,
    or the way kata was installed, changes the examples. Grading must not depend on either."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - another Hypothesis layout: nothing to turn off
        return
    empty = getattr(providers, "_local_constants", None)
    if empty is not None and hasattr(providers, "_get_local_constants"):
        empty = type(empty)()
        providers._get_local_constants = lambda: empty


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "level(n): the kata level this test belongs to (1 = first gate)"
    )
    if not config.pluginmanager.hasplugin("timeout"):
        config.addinivalue_line("markers", "timeout(seconds): per-test time limit for this test")
    # Loaded before the suites are imported, so `@settings(...)` in a suite inherits from it.
    settings.load_profile("kata")
    _no_local_constants()


def load_attempt(path: Path, name: str | None = None) -> ModuleType:
    """Execute the file at `path` as a module named after its stem (or `name`), registered in
    `sys.modules`. Registering before executing matters: `@dataclass` looks its module up while the
    class is built."""
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def attempt_module(config: pytest.Config) -> Any:
    """The attempt for this session behind the door (`kata_runner.door`), loaded once. In a grading
    child the harness has put it here with the run's limits; run directly, it has none."""
    if IMPL_KEY not in config.stash:
        option = config.getoption("kata_impl")
        if not option:
            raise pytest.UsageError("--kata-impl PATH is required to run a kata suite")
        from kata_runner.door import AttemptModule, Door

        module = load_attempt(Path(option).resolve())
        config.stash[IMPL_KEY] = AttemptModule(module, Door(module))
    return config.stash[IMPL_KEY]


@pytest.fixture(scope="session")
def impl(pytestconfig: pytest.Config) -> Any:
    """The module under test (a candidate file, a stub, or the reference solution) behind the door:
    what it returns reaches the suite as plain values or proxies."""
    return attempt_module(pytestconfig)


def level_of(item: pytest.Item) -> int | None:
    marker = item.get_closest_marker("level")
    if marker is None or len(marker.args) != 1 or not isinstance(marker.args[0], int):
        return None
    return int(marker.args[0])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [item.nodeid for item in items if level_of(item) is None]
    grading = config.getoption("kata_impl") or config.getoption("kata_channel_fd", default=None)
    if unmarked and grading:
        raise pytest.UsageError(
            f"every kata test needs @pytest.mark.level(n); missing on: {', '.join(unmarked)}"
        )
