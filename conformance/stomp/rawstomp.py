"""A tiny raw-socket STOMP client for what stomp-py cannot express.

It sends bytes exactly as given (no escaping, no automatic headers) and parses what comes back,
so tests can check malformed input, exact header sets and the socket being closed. Every read is
bounded by a timeout.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 5.0

_ESCAPES = {"\\n": "\n", "\\c": ":", "\\\\": "\\", "\\r": "\r"}


def unescape(value: str) -> str:
    """Undo STOMP 1.1/1.2 header escaping (``\\c`` ``\\n`` ``\\r`` ``\\\\``)."""
    out = []
    i = 0
    while i < len(value):
        pair = value[i : i + 2]
        if pair in _ESCAPES:
            out.append(_ESCAPES[pair])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


@dataclass
class Frame:
    command: str
    header_list: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def headers(self) -> dict[str, str]:
        """Headers as a dict; on repeated names the first one wins (STOMP 1.2 rule)."""
        out: dict[str, str] = {}
        for k, v in self.header_list:
            out.setdefault(k, v)
        return out

    def __repr__(self) -> str:
        return f"Frame({self.command!r}, {self.header_list!r}, {self.body[:200]!r})"


class Closed(Exception):
    """The peer closed the connection."""


class RawStomp:
    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.heartbeats: list[float] = []  # monotonic times at which a bare EOL arrived
        self.connected: Frame | None = None

    # -- sending ---------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, command: str, headers=(), body: bytes | str = b"") -> None:
        if isinstance(body, str):
            body = body.encode()
        items = headers.items() if isinstance(headers, dict) else headers
        lines = [command] + [f"{k}:{v}" for k, v in items]
        self.send_raw(("\n".join(lines) + "\n\n").encode() + body + b"\0")

    # -- receiving -------------------------------------------------------------------------
    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete frame before the deadline")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as e:
            raise TimeoutError("no complete frame before the deadline") from e
        except (ConnectionResetError, BrokenPipeError) as e:
            self.eof = True
            raise Closed("connection reset") from e
        if not chunk:
            self.eof = True
            raise Closed("connection closed by peer")
        self.buf += chunk

    def _skip_heartbeats(self) -> None:
        while self.buf[:1] in (b"\n", b"\r"):
            if self.buf[:2] == b"\r\n":
                self.buf = self.buf[2:]
            elif self.buf[:1] == b"\r":
                if len(self.buf) < 2:
                    return
                self.buf = self.buf[1:]
                continue
            else:
                self.buf = self.buf[1:]
            self.heartbeats.append(time.monotonic())

    def _try_parse(self) -> Frame | None:
        self._skip_heartbeats()
        end = self.buf.find(b"\n\n")
        end_crlf = self.buf.find(b"\r\n\r\n")
        if end < 0 and end_crlf < 0:
            return None
        if end_crlf >= 0 and (end < 0 or end_crlf < end):
            head, body_start = self.buf[:end_crlf], end_crlf + 4
        else:
            head, body_start = self.buf[:end], end + 2
        lines = head.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
        command = lines[0]
        header_list = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            header_list.append((k, v))
        length = None
        for k, v in header_list:
            if k == "content-length":
                length = int(v)
                break
        if length is not None:
            if len(self.buf) < body_start + length + 1:
                return None
            body = self.buf[body_start : body_start + length]
            rest = self.buf[body_start + length + 1 :]
        else:
            nul = self.buf.find(b"\0", body_start)
            if nul < 0:
                return None
            body = self.buf[body_start:nul]
            rest = self.buf[nul + 1 :]
        # EOLs right behind a frame's NUL (STOMP allows them; ActiveMQ sends one) are not beats
        self.buf = rest.lstrip(b"\r\n")
        return Frame(command, header_list, body)

    def recv_frame(self, timeout: float = DEFAULT_TIMEOUT) -> Frame:
        """The next frame; raises TimeoutError, or Closed if the peer closed first."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._try_parse()
            if frame is not None:
                return frame
            if self.eof:
                raise Closed("connection closed by peer")
            self._fill(deadline)

    def recv_heartbeat(self, timeout: float) -> float:
        """Wait for a bare EOL from the server; returns its arrival time."""
        deadline = time.monotonic() + timeout
        seen = len(self.heartbeats)
        while True:
            frame = self._try_parse()
            if frame is not None:
                raise AssertionError(f"expected a heart-beat, got {frame!r}")
            if len(self.heartbeats) > seen:
                return self.heartbeats[seen]
            self._fill(deadline)

    def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> list[Frame]:
        """Read until the peer closes; return the frames seen. Raises TimeoutError if it stays open."""
        deadline = time.monotonic() + timeout
        frames = []
        while True:
            frame = self._try_parse()
            if frame is not None:
                frames.append(frame)
                continue
            if self.eof:
                return frames
            try:
                self._fill(deadline)
            except Closed:
                return frames

    def is_open_after(self, seconds: float) -> bool:
        """True if the peer has not closed within ``seconds`` (frames received are kept)."""
        try:
            self.wait_closed(seconds)
        except TimeoutError:
            return True
        return False

    # -- conveniences ----------------------------------------------------------------------
    def connect(self, headers=None, command: str = "CONNECT", timeout: float = DEFAULT_TIMEOUT) -> Frame:
        if headers is None:
            headers = {"accept-version": "1.2", "host": "localhost"}
        self.send_frame(command, headers)
        frame = self.recv_frame(timeout)
        self.connected = frame
        return frame

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawStomp":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
