"""kata: coding katas for AI-engineering interviews, graded by hidden pytest + Hypothesis suites."""

from __future__ import annotations

__version__ = "0.1.0"
