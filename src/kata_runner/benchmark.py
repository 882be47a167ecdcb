"""Time an attempt against the reference on the kata's benchmark, in a child with the grading limits.

The child (`kata_runner.bench_child`) interleaves the two implementations after a warm-up and
streams each sample; this side watches it like a grading child (per-call backstop, run cap,
Ctrl-C), then reports the medians and their ratio.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kata_runner import sandbox
from kata_runner.attempt import Attempt
from kata_runner.catalog import Kata, Limits
from kata_runner.grading import POLL_SECONDS, forget_child, spawn

KILL_GRACE_SECONDS = 2.5


class JsonLines:
    """Reads the complete JSON lines appended to a file since the last call."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.partial = path, 0, b""

    def read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "type" in record:
                records.append(record)
        return records


BenchProgress = Callable[[int, int], None]


@dataclass
class BenchResult:
    label: str
    repeat: int
    warmup: int
    samples: dict[str, list[float]] = field(
        default_factory=lambda: {"attempt": [], "reference": []}
    )
    warmup_samples: dict[str, list[float]] = field(
        default_factory=lambda: {"attempt": [], "reference": []}
    )
    timed_out: str | None = (
        None  # "attempt" or "reference" when that one ran past the per-call limit
    )
    error: str | None = None

    def median(self, which: str) -> float | None:
        values = self.samples[which]
        return statistics.median(values) if values else None

    @property
    def ratio(self) -> float | None:
        """Attempt time over reference time (2.0 = twice as slow): the ratio of the two medians
        shown beside it. The rounds alternate which one goes first (ABBA), so drift in the
        machine's speed falls on both alike."""
        attempt, reference = self.median("attempt"), self.median("reference")
        if attempt is None or not reference:
            return None
        return attempt / reference

    def summary(self) -> str:
        if self.error:
            return f"not timed: {self.error}"
        if self.timed_out == "attempt":
            reference = self.median("reference") or min(
                self.warmup_samples["reference"], default=None
            )
            ref_text = f" (the reference takes {format_seconds(reference)})" if reference else ""
            return f"yours: did not finish one call within the time limit at {self.label}{ref_text}"
        if self.timed_out == "reference":
            return "not timed: the reference did not finish within the time limit (a bug in kata; please report it)"
        ratio = self.ratio
        if ratio is None:
            return "not timed"
        if 0.9 <= ratio <= 1.1:
            return f"yours: about as fast as the reference ({ratio:.2f}x its time) at {self.label}"
        if ratio > 1:
            return f"yours: {ratio:.1f}x slower than reference at {self.label}"
        return f"yours: {1 / ratio:.1f}x faster than reference at {self.label}"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            median_s={w: self.median(w) for w in ("attempt", "reference")},
            ratio=self.ratio,
            summary=self.summary(),
        )
        return data


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def run_benchmark(
    kata: Kata,
    attempt: Attempt,
    *,
    limits: Limits | None = None,
    progress: BenchProgress | None = None,
) -> BenchResult:
    """Time `attempt` and the reference on `kata.benchmark`, interleaved; never raises for the attempt's faults."""
    if kata.benchmark is None:
        return BenchResult(label="", repeat=0, warmup=0, error="this kata declares no benchmark")
    bench, limits = kata.benchmark, limits or kata.limits
    result = BenchResult(label=bench.label, repeat=bench.repeat, warmup=bench.warmup)
    run = sandbox.RunDirectory.create(f"bench-{kata.slug}")
    run_dir = run.path
    try:
        attempt_copy = run_dir / f"attempt_{kata.slug}.py"
        attempt_copy.write_text(attempt.source, encoding="utf-8")
        spec = {
            "slug": kata.slug,
            "attempt": str(attempt_copy),
            "reference": str(kata.solution_path),
            "setup": bench.setup,
            "call": bench.call,
            "repeat": bench.repeat,
            "warmup": bench.warmup,
            "per_call_seconds": limits.per_test_seconds,
            "memory_bytes": limits.memory_bytes,
            "deny": [
                str(p)
                for p in sandbox.catalogue_paths_to_deny(
                    kata.directory.parent, kata.solution_path.parent, kata.suite_path.parent
                )
            ],
            "parent": os.getpid(),
        }
        (run_dir / "spec.json").write_text(json.dumps(spec))
        records_path = run_dir / "records.jsonl"
        proc = spawn(
            [
                sys.executable,
                "-P",
                "-B",
                "-m",
                "kata_runner.bench_child",
                "--spec",
                str(run_dir / "spec.json"),
                "--records",
                str(records_path),
            ],
            cwd=run_dir / "work",
            env=sandbox.child_env(run_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        run.record_owner(proc.pid)
        _watch(proc, JsonLines(records_path), result, limits, progress)
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if result.error is None and result.timed_out is None and not _finished(result):
            tail = "\n".join(stderr.strip().splitlines()[-6:]).replace(
                str(attempt_copy), attempt.display_path
            )
            code = proc.returncode
            result.error = f"the benchmark process stopped (exit {code})" + (
                f":\n{tail}" if tail else ""
            )
    finally:
        run.remove()
    return result


def _finished(result: BenchResult) -> bool:
    return (
        len(result.samples["attempt"]) >= result.repeat
        and len(result.samples["reference"]) >= result.repeat
    )


def _watch(
    proc: subprocess.Popen[bytes],
    tail: JsonLines,
    result: BenchResult,
    limits: Limits,
    progress: BenchProgress | None,
) -> None:
    total = 2 * (result.repeat + result.warmup)
    done = 0
    started = last_record = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            for record in tail.read():
                last_record = now
                if record["type"] == "sample":
                    done += 1
                    kept = result.warmup_samples if record["warmup"] else result.samples
                    kept[record["impl"]].append(record["seconds"])
                    if progress:
                        progress(done, total)
                elif record["type"] == "timeout":
                    result.timed_out = record["impl"]
            if proc.poll() is not None:
                for record in tail.read():
                    if record["type"] == "sample":
                        kept = result.warmup_samples if record["warmup"] else result.samples
                        kept[record["impl"]].append(record["seconds"])
                    elif record["type"] == "timeout":
                        result.timed_out = record["impl"]
                return
            if now - last_record > limits.per_test_seconds + KILL_GRACE_SECONDS + 5:
                result.timed_out = result.timed_out or "attempt"
                return
            if now - started > limits.run_seconds:
                result.error = f"the benchmark passed the {limits.run_seconds:g} s limit of a run"
                return
            time.sleep(POLL_SECONDS * 5)
    finally:
        sandbox.kill_tree(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        forget_child(proc.pid)
