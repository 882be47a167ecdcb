"""The practice loop as a user lives it (issue 15): an honest interview, whole slugs at any width,
pipes that give files, a watch that keeps up, and the small things a day of practice found."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kata_runner.catalog import Catalog
from kata_runner.cli import EXIT_NOT_CLEARED, EXIT_OK, EXIT_USAGE

CATALOG = Catalog()
ROOT = Path(__file__).resolve().parent.parent


def kata_process(
    env: dict[str, str], *argv: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kata_runner", *argv],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def real_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KATA_")}
    env.update(KATA_WORKSPACE=str(tmp_path / "workspace"), NO_COLOR="1")
    return env


def locked_test_names(slug: str, above: int) -> list[str]:
    """Every test name of levels above `above`, as the report would write it."""
    import ast

    suite = CATALOG.get(slug).suite_path.read_text()
    names = []
    for node in ast.parse(suite).body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
            continue
        levels = [
            d.args[0].value
            for d in node.decorator_list
            if isinstance(d, ast.Call)
            and getattr(d.func, "attr", "") == "level"
            and isinstance(d.args[0], ast.Constant)
        ]
        if levels and levels[0] > above:
            names.append(node.name.removeprefix("test_").replace("_", " "))
    return names


def test_an_interview_at_level_1_of_retry_shows_nothing_of_levels_2_to_4(kata, workspace):
    kata_ = CATALOG.get("retry")
    assert kata("start", "retry", "--interview").code == EXIT_OK
    report = kata("run", "retry")
    as_json = kata("run", "retry", "--json")
    statement = (workspace.path / "retry.md").read_text()
    stub = (workspace.path / "retry.py").read_text()
    shown = f"{report.out}\n{report.err}\n{as_json.out}\n{statement}\n{stub}"
    locked = locked_test_names("retry", 1)
    assert len(locked) > 20
    leaked = [name for name in locked if name in shown]
    assert leaked == [], leaked[:5]
    for level in kata_.levels[1:]:
        assert level.title not in shown, level.title
    assert "levels 2, 3 and 4 are locked" in report.out
    assert "Unlocks at level 2" in stub
    compile(stub, "retry.py", "exec")  # the workspace stub keeps every name, so it imports
    for name in kata_.public_names:
        assert re.search(rf"^(def|class|async def) {name}\b|^{name} =", stub, re.MULTILINE), name


@pytest.mark.parametrize("verb", ["list", "stats", "status"])
def test_at_60_columns_every_slug_appears_whole(real_env, verb):
    env = {**real_env, "COLUMNS": "60"}
    if verb == "status":
        for slug in ("cosine_similarity", "kv_store"):
            kata_process(env, "start", slug)
    result = kata_process(env, verb)
    assert result.returncode == EXIT_OK, result.stderr
    slugs = [k.slug for k in CATALOG] if verb != "status" else ["cosine_similarity", "kv_store"]
    for slug in slugs:
        assert re.search(rf"(^|\W){slug}(\W|$)", result.stdout), (slug, result.stdout[:2000])
    assert max(len(line) for line in result.stdout.splitlines()) <= 60


def test_solution_into_a_pipe_is_the_reference_file_itself(real_env):
    kata_process(real_env, "start", "cosine_similarity")
    result = kata_process(real_env, "solution", "cosine_similarity", "--reveal")
    reference = CATALOG.get("cosine_similarity").solution_path.read_text()
    assert result.stdout == reference


def test_an_empty_file_says_what_is_missing_without_claiming_an_import_failure(kata, tmp_path):
    empty = tmp_path / "cosine_similarity.py"
    empty.write_text("")
    result = kata("run", "cosine_similarity", "--file", str(empty))
    assert result.code == EXIT_NOT_CLEARED
    assert "does not define cosine_similarity, cosine_similarity_matrix" in result.out
    assert "could not be imported" not in result.out


def test_run_level_grades_only_up_to_that_level(kata, tmp_path):
    reference = CATALOG.get("cosine_similarity").solution_path
    result = kata("run", "cosine_similarity", "--file", str(reference), "--level", "1", "--json")
    tests = result.doc["tests"]
    assert {t["status"] for t in tests if t["level"] == 1} == {"pass"}
    assert {t["status"] for t in tests if t["level"] > 1} == {"not_run"}
    assert result.doc["cleared_levels"] == 1
    assert (
        kata("run", "cosine_similarity", "--level", "9", "--file", str(reference)).code
        == EXIT_USAGE
    )


def test_jobs_sets_how_many_tests_run_at_once_and_never_the_verdict(kata, monkeypatch, capsys):
    monkeypatch.delenv("KATA_JOBS", raising=False)  # --jobs sets it for the command's gradings
    reference = CATALOG.get("cosine_similarity").solution_path
    one = kata("run", "cosine_similarity", "--file", str(reference), "--jobs", "1", "--json")
    assert os.environ["KATA_JOBS"] == "1"
    two = kata("run", "cosine_similarity", "--file", str(reference), "--jobs", "2", "--json")
    assert one.code == two.code == EXIT_OK
    assert [(t["nodeid"], t["status"]) for t in one.doc["tests"]] == [
        (t["nodeid"], t["status"]) for t in two.doc["tests"]
    ]
    refused = kata("run", "cosine_similarity", "--jobs", "0")
    assert refused.code == EXIT_USAGE and "at least 1" in capsys.readouterr().err


def test_verbose_shows_every_failure_and_the_default_points_at_it(kata, tmp_path):
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "import numpy as np\n\ndef cosine_similarity(a, b):\n    return 0.5\n\n"
        "def cosine_similarity_matrix(A, B):\n    return np.zeros((len(A), len(B)))\n"
    )
    short = kata("run", "cosine_similarity", "--file", str(wrong))
    assert (
        "`kata run cosine_similarity -v`" in short.out
        and "..." not in short.out.split("kata run")[-1][:20]
    )
    full = kata("run", "cosine_similarity", "--file", str(wrong), "-v")
    assert full.out.count("call:") > short.out.count("call:")


def test_the_metadata_keeps_torch_in_an_extra():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("torch") for d in project["dependencies"])
    assert any(d.startswith("torch") for d in project["optional-dependencies"]["torch"])


def test_a_torch_kata_without_torch_says_the_command_that_adds_it(tmp_path, real_env):
    # a Python that cannot find torch: a `torch` module that is not importable shadows the real one
    blocker = tmp_path / "no_torch"
    blocker.mkdir()
    (blocker / "torch").mkdir()
    (blocker / "torch" / "__init__.py").write_text("raise ImportError('not installed')\n")
    script = (
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'torch' else real(name, *a)\n"
        "from kata_runner.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "start", "attention"],
        check=False,
        env=real_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == EXIT_USAGE
    assert "needs torch" in result.stderr and "pip install torch" in result.stderr
    listing = subprocess.run(
        [sys.executable, "-c", script, "list"],
        check=False,
        env=real_env,
        capture_output=True,
        text=True,
    )
    assert "missing: torch" in listing.stdout and "pip install torch" in listing.stderr


def test_kata_next_brings_back_a_given_up_kata_the_same_day_and_speaks_in_minutes(kata_probe):
    kata_probe("start", "probe")
    advice = kata_probe("next").out
    assert "min ago" in advice  # started a moment ago, not "1 h"
    kata_probe("give-up", "probe")
    assert "never cleared" in kata_probe("next").out


def test_run_numbers_count_per_kata(kata, workspace, tmp_path):
    for slug in ("cosine_similarity", "top_k"):
        kata("start", slug)
        kata("run", slug, "--level", "1")
    assert "run 1 " in kata("history", "top_k").out
    assert kata("history", "top_k", "--show", "1").code == EXIT_OK


def test_watch_ticks_the_clock_puts_the_headline_on_top_and_exits_130(tmp_path, real_env):
    """Under a pseudo-terminal: the clock advances without a save; each re-grade starts with the
    headline; Ctrl-C gives 130."""
    import pty
    import select
    import signal

    env = {
        **real_env,
        "KATA_CATALOG": str(ROOT / "tests" / "fixtures" / "probe"),
        "COLUMNS": "100",
        "LINES": "40",
        "TERM": "xterm",
    }
    kata_process(env, "start", "probe")
    pid, fd = pty.fork()
    if pid == 0:  # the child: kata watch on the pseudo-terminal
        os.execve(sys.executable, [sys.executable, "-m", "kata_runner", "watch", "probe"], env)
    seen = b""
    clocks: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
            text = seen.decode(errors="replace")
            clocks = re.findall(r"watching probe · (\d+:\d\d) of 25:00", text)
            if len(set(clocks)) >= 3 and "cleared 0 of 2 levels" in text:
                break
        text = seen.decode(errors="replace")
        assert len(set(clocks)) >= 3, text[-2000:]  # the clock moved with no save
        after_clear = text.rsplit("\x1b[2J", 1)[-1]  # the screen as the last report left it
        lines = [
            line
            for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]", "", after_clear).splitlines()
            if line.strip()
        ]
        assert lines[0].startswith("watching probe") and "cleared 0 of 2 levels" in lines[1], lines[
            :3
        ]
        os.kill(pid, signal.SIGINT)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.close(fd)
