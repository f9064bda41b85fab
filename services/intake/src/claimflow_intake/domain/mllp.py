"""MLLP, the framing interface engines send HL7 v2 in over TCP: `<VT> message <FS><CR>`.

`MllpDecoder` is sans-IO (bytes in, frames out) so it can be fuzzed; `read_frames` runs it
over an asyncio `StreamReader`; `serve_connection` is one connection's loop for
`asyncio.start_server`: every frame is answered, in order, whatever it holds, and nothing a
peer sends ends the loop except closing the connection.

Tolerances, each something real senders do: bytes between frames are skipped; a new <VT>
inside an unfinished frame starts over (the sender gave up on the first); <FS> without the
trailing <CR> still ends a frame; a frame over the size limit is dropped, keeping its head
so the NAK can still name the message's control id.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from claimflow_intake.domain.hl7 import AckCode, Hl7Outcome, build_ack, parse_message
from claimflow_intake.domain.validation import Problem, ProblemKind

START_BLOCK = 0x0B
END_BLOCK = 0x1C
CARRIAGE_RETURN = 0x0D
DEFAULT_MAX_FRAME = 4 * 1024 * 1024
HEAD_KEPT = 4096


@dataclass(frozen=True)
class Frame:
    payload: bytes


@dataclass(frozen=True)
class Oversized:
    """A frame longer than the limit, dropped; `head` is its first bytes (its MSH)."""

    size: int
    head: bytes


def encode_frame(payload: bytes) -> bytes:
    return bytes([START_BLOCK]) + payload + bytes([END_BLOCK, CARRIAGE_RETURN])


@dataclass
class MllpDecoder:
    """Incremental MLLP decoder; memory stays under `max_size` + one read whatever arrives."""

    max_size: int = DEFAULT_MAX_FRAME
    skipped: int = 0
    _buffer: bytearray = field(default_factory=bytearray)
    _inside: bool = False
    _dropping: int = 0
    _head: bytes = b""
    _pending_end: bool = False

    def feed(self, data: bytes) -> list[Frame | Oversized]:
        out: list[Frame | Oversized] = []
        view = memoryview(data)
        i = 0
        n = len(view)
        while i < n:
            if self._pending_end:
                self._pending_end = False
                if view[i] == CARRIAGE_RETURN:
                    i += 1
                continue
            if not self._inside:
                start = data.find(START_BLOCK, i)
                if start < 0:
                    self.skipped += n - i
                    break
                self.skipped += start - i
                i = start + 1
                self._inside = True
                continue
            match = _MARKER.search(data, i)
            stop = match.start() if match else -1
            chunk_end = n if stop < 0 else stop
            self._take(view[i:chunk_end])
            i = chunk_end
            if stop < 0:
                break
            if data[stop] == START_BLOCK:
                # A new frame began before this one ended: the sender abandoned it.
                self.skipped += len(self._buffer) + self._dropping
                self._reset()
                self._inside = True
                i = stop + 1
                continue
            out.append(self._finish())
            i = stop + 1
            if i < n:
                if view[i] == CARRIAGE_RETURN:
                    i += 1
            else:
                self._pending_end = True
        return out

    def _take(self, chunk: memoryview) -> None:
        if not chunk:
            return
        if self._dropping:
            self._dropping += len(chunk)
            return
        if len(self._buffer) + len(chunk) > self.max_size:
            self._head = bytes(self._buffer[:HEAD_KEPT]) + bytes(
                chunk[: max(0, HEAD_KEPT - len(self._buffer))]
            )
            self._dropping = len(self._buffer) + len(chunk)
            self._buffer = bytearray()
            return
        self._buffer += chunk

    def _finish(self) -> Frame | Oversized:
        result: Frame | Oversized
        if self._dropping:
            result = Oversized(self._dropping, self._head)
        else:
            result = Frame(bytes(self._buffer))
        self._reset()
        return result

    def _reset(self) -> None:
        self._buffer = bytearray()
        self._inside = False
        self._dropping = 0
        self._head = b""


_MARKER = re.compile(b"[\x0b\x1c]")


async def read_frames(
    reader: asyncio.StreamReader,
    *,
    max_size: int = DEFAULT_MAX_FRAME,
    idle_timeout: float | None = None,
    chunk: int = 65536,
) -> AsyncIterator[Frame | Oversized]:
    """Frames as they complete, until the peer closes (or stays silent `idle_timeout`)."""
    decoder = MllpDecoder(max_size=max_size)
    while True:
        try:
            data = await asyncio.wait_for(reader.read(chunk), idle_timeout)
        except (TimeoutError, ConnectionError):
            return
        if not data:
            return
        for item in decoder.feed(data):
            yield item


Handler = Callable[[bytes], Awaitable[bytes]]
Fallback = Callable[[bytes, str, ProblemKind], bytes]


def default_fallback(payload: bytes, reason: str, kind: ProblemKind) -> bytes:
    """A NAK built from what can be read of the message: AE for a message that will never
    do (too large), AR for one that failed here and may be resent (nothing was published)."""
    parsed = parse_message(payload)
    code = AckCode.ERROR if kind is ProblemKind.INVALID else AckCode.REJECT
    outcome = Hl7Outcome(code, problems=(Problem("MSH", reason, kind),))
    ack = build_ack(message=parsed.message, outcome=outcome, now=datetime.now(UTC))
    return ack.encode("utf-8")


async def serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    handle: Handler,
    max_size: int = DEFAULT_MAX_FRAME,
    idle_timeout: float | None = 300.0,
    fallback: Fallback = default_fallback,
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Answer every frame on one connection, one at a time and in order: `handle(payload)`
    returns the ACK bytes; if it fails, or the frame was too large, `fallback` builds a NAK.
    Returns when the peer closes; never raises for anything the peer sends."""
    try:
        async for item in read_frames(reader, max_size=max_size, idle_timeout=idle_timeout):
            if isinstance(item, Oversized):
                reply = fallback(
                    item.head, f"message is larger than {max_size} bytes", ProblemKind.INVALID
                )
            else:
                try:
                    reply = await handle(item.payload)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one bad message must not end the listener
                    if on_error is not None:
                        on_error(exc)
                    reply = fallback(
                        item.payload,
                        "the message could not be processed; resend it",
                        ProblemKind.INTERNAL,
                    )
            writer.write(encode_frame(reply))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
