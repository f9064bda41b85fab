"""MLLP framing: frames survive any split, garbage is skipped, oversize is bounded, and the
connection loop answers every frame in order whatever the handler does."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from claimflow_intake.domain.hl7 import parse_message
from claimflow_intake.domain.mllp import (
    Frame,
    MllpDecoder,
    Oversized,
    encode_frame,
    read_frames,
    serve_connection,
)

MESSAGE = b"MSH|^~\\&|EPIC|ACMEHOSP|CF|ACME|20261001||ADT^A04|C1|P|2.5.1\rPID|1||M1\r"


def _decode(chunks: list[bytes], max_size: int = 1 << 20) -> list[Frame | Oversized]:
    decoder = MllpDecoder(max_size=max_size)
    return [item for chunk in chunks for item in decoder.feed(chunk)]


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def test_a_frame_is_the_bytes_between_vt_and_fs_cr():
    assert _decode([encode_frame(MESSAGE)]) == [Frame(MESSAGE)]


@settings(max_examples=300, deadline=None)
@given(
    payloads=st.lists(
        st.binary(max_size=200).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b"")),
        min_size=1,
        max_size=5,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_frames_survive_any_split_of_the_stream(payloads, cuts):
    stream = b"".join(encode_frame(p) for p in payloads)
    assert _decode(_split(stream, cuts)) == [Frame(p) for p in payloads]


def test_bytes_between_frames_are_skipped():
    decoder = MllpDecoder()
    items = decoder.feed(b"noise\r\n" + encode_frame(b"A") + b"\x00\x00" + encode_frame(b"B"))
    assert items == [Frame(b"A"), Frame(b"B")] and decoder.skipped == 9


def test_a_new_start_block_abandons_an_unfinished_frame():
    assert _decode([b"\x0bhalf a mess", encode_frame(b"whole")]) == [Frame(b"whole")]


def test_an_end_block_without_carriage_return_still_ends_the_frame():
    assert _decode([b"\x0bA\x1c", b"\x0bB\x1c\r"]) == [Frame(b"A"), Frame(b"B")]


def test_an_oversized_frame_is_dropped_keeping_its_head_and_the_next_frame_is_read():
    big = b"MSH|" + b"x" * 10_000
    items = _decode(_split(encode_frame(big) + encode_frame(b"ok"), [100, 5000]), max_size=1000)
    assert isinstance(items[0], Oversized) and items[0].size == len(big)
    assert items[0].head.startswith(b"MSH|") and len(items[0].head) <= 4096
    assert items[1] == Frame(b"ok")


class _Writer:
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        return None


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_read_frames_yields_frames_until_the_peer_closes():
    frames = [f async for f in read_frames(_reader(encode_frame(b"A") + encode_frame(b"B")))]
    assert frames == [Frame(b"A"), Frame(b"B")]


async def test_every_frame_is_answered_in_order_even_when_the_handler_fails():
    async def handle(payload: bytes) -> bytes:
        if b"boom" in payload:
            raise RuntimeError("handler bug")
        return b"ACK " + payload[-2:]

    errors: list[BaseException] = []
    stream = (
        encode_frame(b"m1") + encode_frame(MESSAGE.replace(b"C1", b"boom")) + encode_frame(b"m3")
    )
    writer = _Writer()
    await serve_connection(_reader(stream), writer, handle=handle, on_error=errors.append)
    replies = _decode([bytes(writer.data)])
    assert len(replies) == 3 and writer.closed
    assert replies[0] == Frame(b"ACK m1") and replies[2] == Frame(b"ACK m3")
    nak = parse_message(replies[1].payload).message
    assert nak.first("MSA").raw(1) == "AR" and nak.first("MSA").raw(2) == "boom"
    assert nak.first("ERR").raw(3).startswith("207^")
    assert [type(e) for e in errors] == [RuntimeError]


async def test_an_oversized_message_is_answered_with_a_nak_naming_its_control_id():
    async def handle(payload: bytes) -> bytes:
        return b"unused"

    writer = _Writer()
    big = MESSAGE + b"NTE|1||" + b"x" * 5000 + b"\r"
    await serve_connection(_reader(encode_frame(big)), writer, handle=handle, max_size=1000)
    [reply] = _decode([bytes(writer.data)])
    nak = parse_message(reply.payload).message
    assert nak.first("MSA").raw(1) == "AE" and nak.first("MSA").raw(2) == "C1"
    assert "larger than 1000 bytes" in nak.first("ERR").raw(8)


async def test_a_silent_peer_is_disconnected_after_the_idle_timeout():
    reader = asyncio.StreamReader()
    writer = _Writer()

    async def handle(payload: bytes) -> bytes:
        return payload

    await asyncio.wait_for(
        serve_connection(reader, writer, handle=handle, idle_timeout=0.05), timeout=2
    )
    assert writer.closed


async def test_the_listener_serves_a_real_loopback_connection():
    async def handle(payload: bytes) -> bytes:
        return b"ACK:" + payload

    server = await asyncio.start_server(
        lambda r, w: serve_connection(r, w, handle=handle), host="127.0.0.1", port=0
    )
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"junk" + encode_frame(b"one") + encode_frame(b"two"))
        await writer.drain()
        frames = []
        async for frame in read_frames(reader, idle_timeout=2):
            frames.append(frame)
            if len(frames) == 2:
                break
        writer.close()
        assert frames == [Frame(b"ACK:one"), Frame(b"ACK:two")]
    finally:
        server.close()
        await server.wait_closed()


async def test_an_hl7_charge_over_mllp_is_answered_aa_and_garbage_ar():
    from datetime import UTC, date, datetime

    from claimflow_intake.domain.hl7 import answer
    from services.intake.tests.unit.builders import hl7_message, hl7_segments, tenant_registry

    accepted = []

    async def handle(payload: bytes) -> bytes:
        outcome, ack = answer(
            payload,
            registry=tenant_registry(),
            source_system="hl7:test",
            today=date(2026, 11, 23),
            now=datetime.now(UTC),
        )
        if outcome.encounter is not None:
            accepted.append(outcome.encounter)
        return ack.encode()

    stream = encode_frame(hl7_message(hl7_segments()).encode()) + encode_frame(b"\x00garbage")
    writer = _Writer()
    await serve_connection(_reader(stream), writer, handle=handle)
    first, second = (parse_message(f.payload).message for f in _decode([bytes(writer.data)]))
    assert first.first("MSA").raw(1) == "AA" and first.first("MSA").raw(2) == "MSG0001"
    assert second.first("MSA").raw(1) == "AR"
    assert [e.source.document_id for e in accepted] == ["V-1001"]
