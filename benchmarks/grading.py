"""Benchmarks of the runner, run by `nox -s bench`: ratios against baselines measured in the same run.

For each kata:
- grading: the wall time of `kata run <kata> --reference --json` (median of --repeat runs), and its ratio
  to the baseline `python -c "import numpy, pytest, hypothesis"` (with torch for torch katas), so the
  grading overhead is visible apart from the interpreter's own start-up;
- timing method: the reference timed against itself on the kata's benchmark by `kata compare`'s
  machinery; the ratio should be close to 1.

Usage: python benchmarks/grading.py [--repeat N] [kata ...]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from kata_runner.benchmark import format_seconds, run_benchmark
from kata_runner.catalog import Catalog
from kata_runner.grading import read_attempt


def wall(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True)
    return time.perf_counter() - started


def median_wall(cmd: list[str], repeat: int) -> float:
    return statistics.median(wall(cmd) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("katas", nargs="*")
    args = parser.parse_args()
    catalog = Catalog()
    katas = [catalog.resolve(k) for k in args.katas] or list(catalog)
    baselines = {
        "numpy": median_wall(
            [sys.executable, "-c", "import numpy, pytest, hypothesis"], args.repeat
        ),
        "torch": median_wall(
            [sys.executable, "-c", "import numpy, pytest, hypothesis, torch"], args.repeat
        ),
    }
    print(
        f"baseline python -c 'import numpy, pytest, hypothesis':        {baselines['numpy']:.2f} s"
    )
    print(
        f"baseline python -c 'import numpy, pytest, hypothesis, torch': {baselines['torch']:.2f} s"
    )
    print(
        f"{'kata':<18} {'grade --reference':>18} {'x baseline':>10} {'self-timing ratio':>18}  benchmark"
    )
    for kata in katas:
        grading = median_wall(
            [sys.executable, "-m", "kata_runner", "run", kata.slug, "--reference", "--json"],
            args.repeat,
        )
        baseline = baselines["torch" if kata.needs_torch else "numpy"]
        bench = run_benchmark(kata, read_attempt(kata, kata.solution_path))
        ratio = f"{bench.ratio:.2f}" if bench.ratio is not None else bench.summary()
        label = (
            f"{kata.benchmark.label}: {format_seconds(bench.median('reference'))}"
            if kata.benchmark
            else "-"
        )
        print(
            f"{kata.slug:<18} {grading:>16.2f} s {grading / baseline:>10.1f} {ratio:>18}  {label}"
        )


if __name__ == "__main__":
    main()
