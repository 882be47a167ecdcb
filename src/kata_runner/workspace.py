"""Where the user's attempts live, and copying stubs in without ever losing a line.

The workspace is `$KATA_WORKSPACE` if set, else `practice/` at the root of the kata checkout the
command runs in (or the one kata was installed from in editable mode), else `kata-practice/` in the
current directory. The history database lives in `<workspace>/.kata/`. Before a stub overwrites an
attempt, the attempt is archived twice: as a file under `.kata/archive/` and in the history.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from kata_runner.catalog import PACKAGE_DIR, Kata
from kata_runner.errors import StorageError
from kata_runner.history import History


def _is_checkout(path: Path) -> bool:
    return (
        (path / "katas" / "ORDER").is_file()
        and (path / "pyproject.toml").is_file()
        and (path / "src" / "kata_runner").is_dir()
    )


def find_checkout(start: Path) -> Path | None:
    """The kata checkout containing `start`, else the one this package runs from (editable install)."""
    for candidate in (start, *start.parents):
        if _is_checkout(candidate):
            return candidate
    installed_from = PACKAGE_DIR.parent.parent
    return installed_from if _is_checkout(installed_from) else None


@dataclass(frozen=True)
class Workspace:
    path: Path
    why: str  # how it was chosen, printed to the user

    @classmethod
    def resolve(cls, cwd: Path | None = None, environ: dict[str, str] | None = None) -> Workspace:
        environ = dict(os.environ) if environ is None else environ
        cwd = cwd or Path.cwd()
        if environ.get("KATA_WORKSPACE"):
            return cls(
                Path(environ["KATA_WORKSPACE"]).expanduser().resolve(), "from $KATA_WORKSPACE"
            )
        checkout = find_checkout(cwd.resolve())
        if checkout is not None:
            return cls(checkout / "practice", "practice/ in the kata checkout")
        return cls((cwd / "kata-practice").resolve(), "kata-practice/ in the current directory")

    def attempt_path(self, kata: Kata) -> Path:
        return self.path / f"{kata.slug}.py"

    @property
    def state_dir(self) -> Path:
        return self.path / ".kata"

    def history(self) -> History:
        return History(self.state_dir)

    def ensure(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the workspace {self.path}: {exc.strerror}") from None

    def archive(self, kata: Kata, history: History, reason: str, now: float) -> Path | None:
        """Copy the current attempt aside (file + history) unless it is missing or still the stub."""
        attempt = self.attempt_path(kata)
        if not attempt.exists():
            return None
        source = attempt.read_text(encoding="utf-8", errors="surrogateescape")
        if source == kata.stub_path.read_text(encoding="utf-8"):
            return None
        folder = self.state_dir / "archive"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        target = folder / f"{kata.slug}-{stamp}.py"
        counter = 1
        while target.exists():
            counter += 1
            target = folder / f"{kata.slug}-{stamp}-{counter}.py"
        target.write_text(source, encoding="utf-8", errors="surrogateescape")
        history.archive(kata.slug, target, source, reason, now)
        return target

    def restore_stub(self, kata: Kata) -> Path:
        attempt = self.attempt_path(kata)
        self.ensure()
        tmp = attempt.with_suffix(".py.tmp")
        tmp.write_text(kata.stub_path.read_text(encoding="utf-8"), encoding="utf-8")
        tmp.replace(attempt)
        return attempt
