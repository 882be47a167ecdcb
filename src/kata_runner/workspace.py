"""Where the user's attempts live, and copying stubs in without ever losing a line.

The workspace is `$KATA_WORKSPACE` if set, else the nearest enclosing directory that holds `.kata/`
(found the way git finds `.git/`), else one per-user default, `~/kata-practice`. So every command
finds the same workspace from any directory. Only a command that writes (`kata start`) creates it;
the others read what is there, or an empty history. The history lives in `<workspace>/.kata/`.
Before a stub overwrites an attempt, the attempt is archived twice: as a file under
`.kata/archive/` and in the history.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from kata_runner.catalog import Kata
from kata_runner.errors import StorageError, UsageError
from kata_runner.history import History

STATE_DIR = ".kata"
DEFAULT_NAME = "kata-practice"


def find_enclosing(start: Path) -> Path | None:
    """The nearest directory at or above `start` that holds a `.kata/` folder."""
    for candidate in (start, *start.parents):
        if (candidate / STATE_DIR).is_dir():
            return candidate
    return None


def default_location(environ: dict[str, str]) -> Path:
    home = environ.get("HOME") or str(Path("~").expanduser())
    if not home or home == "~":
        raise UsageError(
            "cannot find your home directory; set KATA_WORKSPACE to a folder for your attempts"
        )
    return Path(home) / DEFAULT_NAME


@dataclass(frozen=True)
class Workspace:
    path: Path
    why: str  # how it was chosen, printed to the user

    @classmethod
    def resolve(cls, cwd: Path | None = None, environ: dict[str, str] | None = None) -> Workspace:
        environ = dict(os.environ) if environ is None else environ
        if environ.get("KATA_WORKSPACE"):
            path = Path(environ["KATA_WORKSPACE"]).expanduser()
            workspace = cls(path.resolve(), "from $KATA_WORKSPACE")
        else:
            try:
                here = (cwd or Path.cwd()).resolve()
            except OSError:
                here = None
            enclosing = find_enclosing(here) if here is not None else None
            if enclosing is not None:
                workspace = cls(
                    enclosing, f"the {STATE_DIR}/ folder found above the current directory"
                )
            else:
                workspace = cls(default_location(environ).resolve(), "your default workspace")
        workspace.check()
        return workspace

    def check(self) -> None:
        """A clear error for a workspace path that cannot be one."""
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(
                f"the workspace {self.path} is a file, not a folder; move it or set KATA_WORKSPACE"
            )
        if self.state_dir.exists() and not self.state_dir.is_dir():
            raise UsageError(f"{self.state_dir} is a file, not a folder; move it aside")

    @property
    def exists(self) -> bool:
        return self.state_dir.is_dir()

    def attempt_path(self, kata: Kata) -> Path:
        return self.path / f"{kata.slug}.py"

    def statement_path(self, kata: Kata) -> Path:
        return self.path / f"{kata.slug}.md"

    @property
    def state_dir(self) -> Path:
        return self.path / STATE_DIR

    def history(self, *, create: bool) -> History:
        return History(self.state_dir, create=create)

    def ensure(self) -> bool:
        """Create the workspace; True if it did not exist before."""
        created = not self.exists
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the workspace {self.path}: {exc.strerror}") from None
        return created

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

    def write_attempt(self, kata: Kata, source: str) -> Path:
        """Put `source` in place of the attempt, atomically."""
        attempt = self.attempt_path(kata)
        self.ensure()
        tmp = attempt.with_suffix(".py.tmp")
        tmp.write_text(source, encoding="utf-8")
        tmp.replace(attempt)
        return attempt

    def restore_stub(self, kata: Kata) -> Path:
        return self.write_attempt(kata, kata.stub_path.read_text(encoding="utf-8"))
