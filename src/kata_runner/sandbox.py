"""The one sandbox for every child that runs an attempt (grading and benchmark alike).

What it provides, each a small function:
- `child_env`: the environment a child gets: nothing it does not need (no `KATA_WORKSPACE`, no HOME of
  the user), one thread for BLAS and torch, Hypothesis and temporary files inside the run directory;
- `limit`: resource limits (address space, CPU, file size, no core dumps);
- `become_subreaper`, `die_with_parent`: prctl, so orphans of a run stay in the tree we sweep, and a
  child dies when `kata` does;
- `descendants`, `kill_tree`: freeze (SIGSTOP) a process and every descendant, then SIGKILL them all,
  so a daemon that double-forked or called `setsid` cannot outlive its run;
- `RunDirectory`: the run's temporary directory with an owner record, and `sweep_stale_runs`, which
  removes the directories (and kills the processes) of runs whose `kata` died;
- `confinement_roots`: what a confined child may read and write (see `landlock.py`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
RUN_PREFIX = "kata-run-"
OWNER_FILE = "owner.json"
THREAD_CAPS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


# ---------------------------------------------------------------------------------------------
# Environment and limits


def child_env(run_dir: Path) -> dict[str, str]:
    """The whole environment of a child: only what Python, pytest and the libraries need."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(run_dir / "home"),
        "TMPDIR": str(run_dir / "tmp"),
        "PYTHONPATH": package_parent,
        "PYTHONHASHSEED": "0",
        "PYTHONBREAKPOINT": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "HYPOTHESIS_STORAGE_DIRECTORY": str(run_dir / "hypothesis"),
        "NO_COLOR": "1",
    }
    env.update(dict.fromkeys(THREAD_CAPS, "1"))
    return env


def limit(which: int, value: int) -> None:
    """Set the soft and hard limit `which` to `value` (never above an existing hard limit)."""
    import resource

    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


# ---------------------------------------------------------------------------------------------
# prctl


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    return int(libc.prctl(option, value, 0, 0, 0)) == 0


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process instead of init (Linux)."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(expected_parent: int) -> None:
    """SIGKILL this process when its parent dies; exit at once if it already has."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != expected_parent:
        os._exit(1)


# ---------------------------------------------------------------------------------------------
# Process trees


def stat_fields(pid: int | str) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None if it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # the command name is in parentheses and may itself contain spaces and parentheses
    return data[data.rfind(b")") + 2 :].split()


def parent_of(pid: int) -> int | None:
    fields = stat_fields(pid)
    return int(fields[1]) if fields else None


def _children_map() -> dict[int, list[int]]:
    """ppid -> child pids, from /proc (Linux). Empty elsewhere."""
    tree: dict[int, list[int]] = {}
    try:
        entries = [p.name for p in Path("/proc").iterdir()]
    except OSError:
        return tree
    for entry in entries:
        if entry.isdigit() and (fields := stat_fields(entry)) and len(fields) > 1:
            tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """Every living descendant of `pid` (children first), from /proc."""
    tree = _children_map()
    found: list[int] = []
    frontier = [pid]
    while frontier:
        nxt = []
        for parent in frontier:
            for child in tree.get(parent, []):
                if child not in found:
                    found.append(child)
                    nxt.append(child)
        frontier = nxt
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a living process (Linux), or None."""
    fields = stat_fields(pid)
    if not fields:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int, live: list[int]) -> float:
    """CPU time of `root`, of its children it has reaped, and of the `live` processes given."""
    fields = stat_fields(root)
    total = 0.0
    if fields:
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    for pid in live:
        total += cpu_seconds(pid) or 0.0
    return total


def start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot): with the pid, a unique identity."""
    fields = stat_fields(pid)
    return int(fields[19]) if fields else None


def is_stopped(pid: int) -> bool:
    """Stopped by a signal (SIGSTOP, SIGTSTP) or by a tracer."""
    fields = stat_fields(pid)
    return bool(fields) and fields[0] in (b"T", b"t")  # type: ignore[index]


def is_zombie(pid: int) -> bool:
    fields = stat_fields(pid)
    return bool(fields) and fields[0] == b"Z"  # type: ignore[index]


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, number)


def kill_tree(root: int, *, include_root: bool = True, rounds: int = 20) -> list[int]:
    """Stop `root` and all its descendants, then SIGKILL them all; returns the descendants killed.

    Freezing first means nothing can fork past the sweep. A process in its own session or group
    is found through /proc all the same; one that escaped to init is out of reach (the subreaper
    prevents that while `root` lives).
    """
    frozen: list[int] = []
    if include_root:
        _signal(root, signal.SIGSTOP)
    for _ in range(rounds):
        found = [p for p in descendants(root) if p not in frozen]
        if not found:
            break
        for pid in found:
            _signal(pid, signal.SIGSTOP)
        frozen.extend(found)
    for pid in frozen:
        _signal(pid, signal.SIGKILL)
    if include_root:
        _signal(root, signal.SIGKILL)
    return frozen


def reap(pids: Iterable[int]) -> None:
    """Collect the exit status of any of `pids` that are our children (orphans re-parented to us)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


# ---------------------------------------------------------------------------------------------
# Run directories


@dataclass
class RunDirectory:
    """A fresh temporary directory for one run, with an owner record naming the `kata` process."""

    path: Path

    @classmethod
    def create(cls, slug: str) -> RunDirectory:
        path = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{slug}-"))
        for sub in ("work", "attempt", "home", "tmp", "hypothesis"):
            (path / sub).mkdir()
        run = cls(path)
        run.record_owner(None)
        return run

    def record_owner(self, child: int | None) -> None:
        me = os.getpid()
        owner = {
            "kata_pid": me,
            "kata_start": start_time(me),
            "child_pid": child,
            "child_start": start_time(child) if child else None,
        }
        target = self.path / OWNER_FILE
        target.with_suffix(".tmp").write_text(json.dumps(owner))
        target.with_suffix(".tmp").replace(target)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _alive(pid: int | None, started: int | None) -> bool:
    return bool(pid) and started is not None and start_time(pid or 0) == started


def sweep_stale_runs(temp_dir: Path | None = None, *, older_than: float = 2.0) -> int:
    """Remove the run directories of dead `kata` processes, killing what their children left alive.

    Returns how many were removed. Directories of living runs, and ones younger than `older_than`
    seconds (being created), are left alone.
    """
    root = temp_dir or Path(tempfile.gettempdir())
    removed = 0
    try:
        entries = list(root.glob(f"{RUN_PREFIX}*"))
    except OSError:
        return 0
    for entry in entries:
        try:
            owner = json.loads((entry / OWNER_FILE).read_text())
        except (OSError, ValueError):
            try:
                if time.time() - entry.stat().st_mtime < max(older_than, 60.0):
                    continue
            except OSError:
                continue
            owner = {}
        if _alive(owner.get("kata_pid"), owner.get("kata_start")):
            continue
        child, child_start = owner.get("child_pid"), owner.get("child_start")
        if _alive(child, child_start):
            kill_tree(int(child))
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
    return removed


# ---------------------------------------------------------------------------------------------
# Confinement


SYSTEM_READ_ROOTS = (
    "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt", "/sys",
    "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/shm",
    "/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/sys",
)  # fmt: skip


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _minimal(paths: Iterable[Path]) -> list[Path]:
    """Drop paths beneath another path of the list."""
    unique = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(_inside(path, k) for k in kept):
            kept.append(path)
    return kept


def _split_around(root: Path, deny: list[Path]) -> tuple[list[Path], list[Path]]:
    """Cover `root` minus the `deny` paths inside it: (paths readable in full, dirs listable only).

    Children are taken by their real path: a symlink (`lib64 -> lib`) grants what its target holds,
    so a target that holds a denied path is split like any directory."""
    inner = [d for d in deny if _inside(d, root)]
    if not inner:
        return [root], []
    if root in inner:
        return [], []
    full: list[Path] = []
    listed = [root]
    try:
        children = sorted(root.iterdir())
    except OSError:
        return [], []
    for child in children:
        real = Path(os.path.realpath(child))
        if real in deny:
            continue
        sub_full, sub_listed = _split_around(real, [d for d in deny if _inside(d, real)])
        full.extend(sub_full)
        listed.extend(sub_listed)
    return full, listed


@dataclass(frozen=True)
class Roots:
    """What a confined child may read in full, only list, and write."""

    read: list[Path]
    list_only: list[Path]
    write: list[Path]


def confinement_roots(deny: Iterable[Path], write: Iterable[Path]) -> Roots:
    """The roots for a grading child: the interpreter, its libraries and the system, minus `deny`
    (the suites, the solutions, the statements and bug sets), plus `write` (the run directory). The
    workspace and the history are never beneath any of them."""
    denied = [Path(os.path.realpath(d)) for d in deny]
    candidates = [Path(p) for p in SYSTEM_READ_ROOTS]
    candidates += [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)]
    candidates += [Path(p) for p in sys.path if p]
    candidates.append(Path(sys.executable).parent)
    candidates.append(Path(f"/proc/{os.getpid()}"))
    existing = [Path(os.path.realpath(p)) for p in candidates if p.exists()]
    read: list[Path] = []
    list_only: list[Path] = []
    for root in _minimal(existing):
        full, listed = _split_around(root, denied)
        read.extend(full)
        list_only.extend(listed)
    return Roots(read, list_only, [Path(os.path.realpath(w)) for w in write])


def catalogue_paths_to_deny(*extra: Path) -> list[Path]:
    """Every copy of the catalogue and the suites an attempt could find on the import path."""
    found = list(extra)
    for entry in sys.path:
        package = Path(entry or ".") / "kata_runner"
        found += [package / "suites", package / "_catalog"]
    return [p for p in found if p.exists()]
