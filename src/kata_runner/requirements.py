"""Optional requirements: torch is an extra (`pip install '.[torch]'`), so a light install gives
every numpy kata. A kata whose requirements are missing says the one command that adds them."""

from __future__ import annotations

import importlib.util
from functools import cache

from kata_runner.catalog import Catalog, Kata
from kata_runner.errors import UsageError

INSTALL = {
    "torch": "pip install torch --index-url https://download.pytorch.org/whl/cpu",
    "numpy": "pip install numpy",
}


@cache
def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def missing_requirements(kata: Kata) -> list[str]:
    return [name for name in kata.requires if not _installed(name)]


def install_command(missing: list[str]) -> str:
    return " && ".join(INSTALL.get(name, f"pip install {name}") for name in missing)


def require(kata: Kata) -> None:
    """UsageError (exit 2) naming the command that adds what `kata` needs, if anything is missing."""
    missing = missing_requirements(kata)
    if missing:
        raise UsageError(
            f"{kata.slug} needs {', '.join(missing)}, which is not installed; add it with "
            f"`{install_command(missing)}` (the CPU build is enough), or from your kata checkout "
            "`pip install '.[torch]'`"
        )


def install_hint(catalog: Catalog) -> str | None:
    """One line for `kata list` when some katas cannot be practised yet."""
    missing = sorted({name for kata in catalog for name in missing_requirements(kata)})
    if not missing:
        return None
    return f"katas marked missing need {', '.join(missing)}: `{install_command(missing)}`"
