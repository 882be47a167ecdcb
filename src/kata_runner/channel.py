"""The channel between `kata` and a grading child: one Unix SOCK_SEQPACKET socket pair.

Commands go down as plain JSON messages. Records come up authenticated: each is one message,
`<HMAC-SHA256 hex><JSON>`, keyed by a secret `kata` sends first, and carries its stream (`root` for
the child itself, `w<index>` for the process running test <index>) and a sequence number that counts
from 0 in each stream. Messages are atomic on this socket type, so records of parallel test processes
never interleave. The reader accepts a record only if its MAC is right and it is the next in its
stream; anything else (a forged, replayed, duplicated or reordered record) is evidence of tampering.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import select
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAC_HEX = 64
MAX_MESSAGE = 192 * 1024
KEY_BYTES = 32


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """(parent end, child end); the child end is inheritable, the parent's is not."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    child.set_inheritable(True)
    return parent, child


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode()


# ---------------------------------------------------------------------------------------------
# The child's side


def record_writer(fd: int, key: bytes, stream: str) -> Callable[[dict[str, Any]], None]:
    """A function that sends one authenticated record on `fd`; the key lives only in its closure.

    The functions it uses are bound now, so a later patch of `json.dumps`, `hmac` or `os.write`
    changes nothing it sends.
    """
    dumps, digest, write = json.dumps, hmac.new, os.write
    sha256 = hashlib.sha256
    counter = [0]

    def write_record(record: dict[str, Any]) -> None:
        payload = {**record, "stream": stream, "seq": counter[0]}
        counter[0] += 1
        body = dumps(payload, default=str).encode()
        if len(body) > MAX_MESSAGE - MAC_HEX:
            body = dumps(_shrunk(payload), default=str).encode()[: MAX_MESSAGE - MAC_HEX]
        write(fd, digest(key, body, sha256).hexdigest().encode() + body)

    return write_record


def _shrunk(payload: dict[str, Any]) -> dict[str, Any]:
    shrunk = dict(payload)
    for name in ("output", "message", "falsifying_example", "where"):
        if isinstance(shrunk.get(name), str) and len(shrunk[name]) > 8000:
            shrunk[name] = shrunk[name][:8000] + " [trimmed]"
    return shrunk


def send_command(sock: socket.socket, command: Mapping[str, Any], fds: Sequence[int] = ()) -> None:
    """One command; `fds` travel with it (a warm server gets each run's own channel this way)."""
    data = json.dumps(command).encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.sendall(data)


def receive_with_fds(
    sock: socket.socket, timeout: float | None
) -> tuple[dict[str, Any] | None, list[int]]:
    """(the next command and any descriptors sent with it), or (None, []) when the channel is
    closed; ({}, []) when nothing came within `timeout`."""
    ready, _, _ = select.select([sock], [], [], timeout)
    if not ready:
        return {}, []
    try:
        data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 4)
    except OSError:
        return None, []
    if not data:
        return None, []
    command: dict[str, Any] = json.loads(data)
    return command, list(fds)


def receive_command(fd: int, timeout: float | None = None) -> dict[str, Any] | None:
    """The next command from `kata`, or None when the channel is closed (or nothing came in time)."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return None
    try:
        data = os.read(fd, MAX_MESSAGE)
    except OSError:
        return None
    if not data:
        return None
    command: dict[str, Any] = json.loads(data)
    return command


# ---------------------------------------------------------------------------------------------
# The parent's side


@dataclass
class RecordReader:
    """Receives, authenticates and orders records; keeps the first reason to suspect tampering."""

    sock: socket.socket
    key: bytes
    expected_seq: dict[str, int] = field(default_factory=dict)
    tampering: str | None = None

    def __post_init__(self) -> None:
        self.sock.setblocking(False)

    def wait(self, timeout: float) -> None:
        """Block until a record may be readable, at most `timeout` seconds."""
        with contextlib.suppress(OSError, ValueError):
            select.select([self.sock], [], [], timeout)

    def read(self) -> list[dict[str, Any]]:
        """Every authentic record received so far, in order; forged ones are dropped and noted."""
        records: list[dict[str, Any]] = []
        while True:
            try:
                message = self.sock.recv(MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            if not message:
                break
            record = self._accept(message)
            if record is not None:
                records.append(record)
        return records

    def _suspect(self, reason: str) -> None:
        if self.tampering is None:
            self.tampering = reason

    def _accept(self, message: bytes) -> dict[str, Any] | None:
        mac, body = message[:MAC_HEX], message[MAC_HEX:]
        if not hmac.compare_digest(mac, _mac(self.key, body)):
            self._suspect("a grading record did not come from the harness (its signature is wrong)")
            return None
        try:
            record: dict[str, Any] = json.loads(body)
        except ValueError:
            self._suspect("a signed grading record was not valid JSON")
            return None
        stream, seq = record.get("stream"), record.get("seq")
        if not isinstance(stream, str) or not isinstance(seq, int):
            self._suspect("a grading record had no stream or sequence number")
            return None
        expected = self.expected_seq.get(stream, 0)
        if seq != expected:
            what = "duplicated or replayed" if seq < expected else "out of order (records missing)"
            self._suspect(f"a grading record of {stream} was {what}")
            return None
        self.expected_seq[stream] = expected + 1
        return record
