"""The record channel: only records signed with the run's key, in order, once, get through."""

from __future__ import annotations

import json

from kata_runner import channel


def reader_and_writer(stream: str = "root") -> tuple[channel.RecordReader, object, bytes]:
    parent, child = channel.socket_pair()
    key = channel.new_key()
    return channel.RecordReader(parent, key), child, key


def test_signed_records_arrive_in_order():
    reader, child, key = reader_and_writer()
    write = channel.record_writer(child.fileno(), key, "root")
    write({"type": "hello"})
    write({"type": "end"})
    records = reader.read()
    assert [r["type"] for r in records] == ["hello", "end"]
    assert [r["seq"] for r in records] == [0, 1] and reader.tampering is None


def test_a_record_signed_with_another_key_is_dropped_and_noted():
    reader, child, _ = reader_and_writer()
    forged = channel.record_writer(child.fileno(), channel.new_key(), "root")
    forged({"type": "test", "outcome": "passed"})
    assert reader.read() == []
    assert "signature" in (reader.tampering or "")


def test_a_replayed_record_is_dropped_and_noted():
    reader, child, key = reader_and_writer()
    body = json.dumps({"type": "test", "stream": "w0", "seq": 0}).encode()
    message = channel._mac(key, body) + body
    child.send(message)
    child.send(message)
    assert len(reader.read()) == 1
    assert "duplicated or replayed" in (reader.tampering or "")


def test_a_record_out_of_order_is_dropped_and_noted():
    reader, child, key = reader_and_writer()
    body = json.dumps({"type": "test", "stream": "w0", "seq": 3}).encode()
    child.send(channel._mac(key, body) + body)
    assert reader.read() == []
    assert "out of order" in (reader.tampering or "")


def test_a_record_too_long_for_one_message_is_trimmed_not_lost():
    reader, child, key = reader_and_writer()
    write = channel.record_writer(child.fileno(), key, "w1")
    write({"type": "test", "output": "x" * (channel.MAX_MESSAGE * 2)})
    (record,) = reader.read()
    assert record["output"].endswith("[trimmed]") and reader.tampering is None
