"""The README's quick start on a fresh machine: `pip install .` brings every numpy kata without
torch (the torch katas say the one command that adds it)."""

from __future__ import annotations

import os
import subprocess
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_light_install_practises_numpy_katas_and_names_the_torch_command(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    started = time.monotonic()
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            str(ROOT / "constraints.txt"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - started
    print(
        f"pip install . took {seconds:.0f} s"
    )  # reported, not asserted: it depends on the network
    freeze = subprocess.run(
        [str(python), "-m", "pip", "freeze"], check=True, capture_output=True, text=True
    ).stdout
    assert "torch" not in freeze.lower()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KATA_", "VIRTUAL_ENV"))}
    env["KATA_WORKSPACE"] = str(tmp_path / "workspace")
    kata = env_dir / "bin" / "kata"
    numpy_kata = subprocess.run(
        [str(kata), "start", "cosine_similarity"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert numpy_kata.returncode == 0, numpy_kata.stderr
    torch_kata = subprocess.run(
        [str(kata), "start", "attention"], env=env, capture_output=True, text=True, check=False
    )
    assert torch_kata.returncode == 2
    assert "pip install torch" in torch_kata.stderr and "Traceback" not in torch_kata.stderr
