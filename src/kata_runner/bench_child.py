"""Entry point of the timing child: `python -m kata_runner.bench_child --spec FILE --records FILE`.

Loads the attempt and the reference as two modules, runs the benchmark's setup once for each (the
same fixed-seed code, so the inputs are equal), then times the call: one warm-up round, then
`repeat` rounds that alternate which implementation goes first (ABBA), so drift in machine speed
falls on both alike. Calls shorter than ~150 ms are repeated in a loop (the same count for both) to be
measurable. Each sample is appended to the records file as it is taken, so the parent keeps what was
measured if it has to kill this process. A call past the time limit is stopped by SIGALRM and
recorded as a timeout for that implementation.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import signal
import time
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from kata_runner import landlock, sandbox
from kata_runner.pytest_plugin import load_attempt

MIN_SAMPLE_SECONDS = 0.15
MAX_LOOPS = 10_000


class BenchTimeout(BaseException):
    pass


def _load(name: str, path: str) -> ModuleType:
    """The module at `path`, registered as `name` (the attempt and the reference side by side)."""
    return load_attempt(Path(path), name=name)


def main() -> None:
    parser = argparse.ArgumentParser(prog="kata_runner.bench_child")
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--records", type=Path, required=True)
    args = parser.parse_args()
    spec: dict[str, Any] = json.loads(args.spec.read_text())
    sandbox.die_with_parent(int(spec["parent"]))
    if spec.get("memory_bytes"):
        sandbox.limit(resource.RLIMIT_AS, int(spec["memory_bytes"]))
    sandbox.limit(resource.RLIMIT_CORE, 0)
    records = os.open(args.records, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(record: dict[str, Any]) -> None:
        os.write(records, (json.dumps(record) + "\n").encode())

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise BenchTimeout

    signal.signal(signal.SIGALRM, on_alarm)
    limit = float(spec["per_call_seconds"])
    code = compile(spec["call"], "<benchmark call>", "eval")
    namespaces = {}
    run_dir = args.records.parent
    for which in ("reference", "attempt"):
        if (
            which == "attempt"
        ):  # the reference is loaded; from here on the catalogue is out of reach
            roots = sandbox.confinement_roots([Path(p) for p in spec["deny"]], [run_dir])
            landlock.restrict_self(roots.read, roots.write, roots.list_only)
        module = _load(f"{which}_{spec['slug']}", spec[which])
        namespace: dict[str, Any] = {"impl": module}
        exec(compile(spec["setup"], "<benchmark setup>", "exec"), namespace)  # noqa: S102 - kata.toml code we ship
        namespaces[which] = namespace

    def timed(which: str, loops: int) -> float | None:
        """Seconds per call over `loops` calls, or None past the time limit."""
        namespace = namespaces[which]
        gc.collect()
        gc.disable()
        signal.setitimer(signal.ITIMER_REAL, limit, 0.5)
        try:
            start = time.perf_counter()
            for _ in range(loops):
                eval(code, namespace)
            return (time.perf_counter() - start) / loops
        except BenchTimeout:
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            gc.enable()

    # The first call of each is the calibration and the first warm-up; the reference goes first, so its
    # time is known even when the attempt never finishes.
    loops: dict[str, int] = {}
    for which in ("reference", "attempt"):
        seconds = timed(which, 1)
        if seconds is None:
            write({"type": "timeout", "impl": which})
            os._exit(0)
        write({"type": "sample", "impl": which, "warmup": True, "seconds": seconds})
        loops[which] = max(1, min(MAX_LOOPS, int(MIN_SAMPLE_SECONDS / max(seconds, 1e-9))))
    for round_index in range(max(0, spec["warmup"] - 1) + spec["repeat"]):
        order = ("attempt", "reference") if round_index % 2 else ("reference", "attempt")
        for which in order:
            seconds = timed(which, loops[which])
            if seconds is None:
                write({"type": "timeout", "impl": which})
                os._exit(0)
            write(
                {
                    "type": "sample",
                    "impl": which,
                    "warmup": round_index < spec["warmup"] - 1,
                    "seconds": seconds,
                }
            )
    write({"type": "end"})
    os._exit(0)


if __name__ == "__main__":
    main()
