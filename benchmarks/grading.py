"""How long a verdict takes, measured, never asserted: `nox -s bench` (ratios within one run).

For every kata (or those named):
- cold: the wall time of `kata run <kata> --reference --json` (a new process: interpreter, imports,
  collection, then the tests), with 1 job and with the default jobs;
- warm: a re-grade through a warm server, the path `kata watch` takes for every save;
- tests: the sum of the tests' own durations (what parallel jobs spread over the cores);
- the ratios cold(1 job) / cold(jobs) and cold(jobs) / warm;
- the self-timing ratio of `kata compare`'s benchmark (the reference against itself).

Usage: python benchmarks/grading.py [--repeat N] [--json] [--no-compare] [kata ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from kata_runner.attempt import read_attempt
from kata_runner.benchmark import run_benchmark
from kata_runner.catalog import Catalog, Kata
from kata_runner.grading import WarmServer, default_jobs, grade


def cold_seconds(kata: Kata, jobs: int, repeat: int) -> tuple[float, dict[str, Any]]:
    env = {**os.environ, "KATA_JOBS": str(jobs)}
    times, document = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "kata_runner", "run", kata.slug, "--reference", "--json"],
            check=False,
            capture_output=True,
            text=True,
            env=env,
        )
        times.append(time.perf_counter() - started)
        document = json.loads(done.stdout) if done.stdout.strip() else {}
    return statistics.median(times), document


def warm_seconds(kata: Kata, repeat: int) -> float:
    attempt = read_attempt(kata, kata.solution_path)
    server = WarmServer(kata)
    try:
        grade(attempt, server=server)  # the first grading waits for the server to be ready
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            grade(attempt, server=server)
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        server.close()


def measure(kata: Kata, repeat: int, compare: bool) -> dict[str, Any]:
    jobs = default_jobs()
    cold_one, _ = cold_seconds(kata, 1, repeat)
    cold_many, document = cold_seconds(kata, jobs, repeat)
    warm = warm_seconds(kata, repeat)
    tests = sum((t.get("duration_ms") or 0) for t in document.get("tests", [])) / 1000
    row: dict[str, Any] = {
        "kata": kata.slug,
        "jobs": jobs,
        "cold_1_job_s": round(cold_one, 3),
        "cold_s": round(cold_many, 3),
        "warm_s": round(warm, 3),
        "tests_s": round(tests, 3),
        "jobs_speedup": round(cold_one / cold_many, 2) if cold_many else None,
        "warm_speedup": round(cold_many / warm, 2) if warm else None,
        "status": document.get("status"),
    }
    if compare and kata.benchmark is not None:
        itself = run_benchmark(kata, read_attempt(kata, kata.solution_path))
        row["self_timing_ratio"] = round(itself.ratio, 3) if itself.ratio else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    parser.add_argument("--no-compare", action="store_true", help="skip the self-timing ratio")
    parser.add_argument("katas", nargs="*")
    args = parser.parse_args()
    catalog = Catalog()
    katas = [catalog.resolve(k) for k in args.katas] or list(catalog)
    load = os.getloadavg()[0]
    rows = []
    if not args.json:
        print(f"load average at the start: {load:.1f} on {os.cpu_count()} cores")
        print(
            f"{'kata':<20}{'cold 1 job':>11}{'cold':>8}{'warm':>8}{'tests':>8}"
            f"{'jobs x':>8}{'warm x':>8}{'self ratio':>11}"
        )
    for kata in katas:
        row = measure(kata, args.repeat, not args.no_compare)
        rows.append(row)
        if not args.json:
            print(
                f"{row['kata']:<20}{row['cold_1_job_s']:>10.2f}s{row['cold_s']:>7.2f}s"
                f"{row['warm_s']:>7.2f}s{row['tests_s']:>7.2f}s{row['jobs_speedup']:>8}"
                f"{row['warm_speedup']:>8}{row.get('self_timing_ratio', '-')!s:>11}",
                flush=True,
            )
    if args.json:
        print(json.dumps({"load_average": load, "katas": rows}, indent=2))


if __name__ == "__main__":
    main()
