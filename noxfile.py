"""Developer sessions for kata; `nox -l` lists them, `nox` runs the default ones (what CI runs)."""

from __future__ import annotations

import nox

nox.needs_version = ">=2024.3.2"
nox.options.sessions = ["lint", "tests", "katas", "reliability"]
nox.options.default_venv_backend = "venv"

# CI and local runs take torch's CPU build from constraints.txt; the package metadata keeps a range.
INSTALL = ("-c", "constraints.txt")
TEST_DEPS = ("pytest-timeout",)


def install_kata(session: nox.Session, *extra: str) -> None:
    """Install kata as a user would (a real wheel, not editable) with the torch extra, so every
    kata is tested, plus extra packages."""
    session.install(*INSTALL, ".[torch]", *extra)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (check and format check) and mypy --strict on the runner and the reference solutions."""
    install_kata(session, "ruff", "mypy")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "src/kata_runner", "solutions", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The runner's own tests: catalogue, grading verdicts, CLI, workspace and history."""
    install_kata(session, *TEST_DEPS)
    session.run(
        "pytest",
        "tests",
        "--ignore=tests/test_contract.py",
        "--ignore=tests/test_benchmarks.py",
        "--ignore=tests/reliability",
        *session.posargs,
    )


@nox.session
def katas(session: nox.Session) -> None:
    """The catalogue's contract: stubs fail, references pass, known-wrong versions fail where they should."""
    install_kata(session, *TEST_DEPS)
    session.run("pytest", "tests/test_contract.py", "tests/test_benchmarks.py", *session.posargs)


@nox.session
def reliability(session: nox.Session) -> None:
    """Attempts written to break the grader: tampering, escapes, faults, load; verdicts never move."""
    install_kata(session, *TEST_DEPS)
    session.run("pytest", "tests/reliability", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Grading time of each reference against an import baseline, and the timing method against itself."""
    install_kata(session)
    session.run("python", "benchmarks/grading.py", *session.posargs)


@nox.session(default=False)
def golden(session: nox.Session) -> None:
    """Every results document of the contract against the recorded ones (a refactoring keeps them
    all); `nox -s golden -- record` records them after a deliberate change."""
    install_kata(session, *TEST_DEPS)
    mode = "record" if "record" in session.posargs else "check"
    args = [a for a in session.posargs if a != "record"]
    session.run(
        "pytest",
        "tests/test_contract.py",
        "-k",
        "recorded_ones",
        *args,
        env={"KATA_GOLDEN": mode, "KATA_CONTRACT_BUG_LEVELS": "up_to"},
    )


@nox.session(default=False, venv_backend="none")
def new(session: nox.Session) -> None:
    """Scaffold a kata: `nox -s new -- <slug>` writes its files, valid from the start, to fill in."""
    if len(session.posargs) != 1:
        session.error("usage: nox -s new -- <slug>")
    session.run("python", "-m", "kata_runner.scaffold", session.posargs[0], "--root", ".")
