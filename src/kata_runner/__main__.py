"""`python -m kata_runner` is the `kata` command."""

from __future__ import annotations

import sys

from kata_runner.cli import main

sys.exit(main())
