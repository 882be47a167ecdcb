"""The source being graded: read once, checked for what would make it unreadable, hashed."""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass
from pathlib import Path

from kata_runner.catalog import Kata
from kata_runner.errors import UsageError

MAX_SOURCE_BYTES = 1024 * 1024


@dataclass
class Attempt:
    """The source being graded, read once: what we hash is what we grade."""

    kata: Kata
    source: str
    display_path: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


def read_attempt(kata: Kata, path: Path) -> Attempt:
    """Read the file to grade; UsageError with a one-line fix when it is not a readable source file."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise UsageError(f"{path} is a symlink loop; point it at a real file") from None
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{path} is a directory; give the path of a .py file")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(
            f"{path} is not a regular file (a pipe or a device?); save your code to a file"
        )
    if info.st_size > MAX_SOURCE_BYTES:
        raise UsageError(
            f"{path} is {info.st_size / 2**20:.1f} MiB; an attempt is at most "
            f"{MAX_SOURCE_BYTES // 2**20} MiB of source"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if b"\x00" in data:
        raise UsageError(f"{path} contains NUL bytes: it is not a text file; save it as UTF-8 text")
    try:
        source = data.decode("utf-8-sig")  # a BOM, as some Windows editors write it, is fine
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text; save it as UTF-8 and run again") from None
    return Attempt(kata, source, str(path))
