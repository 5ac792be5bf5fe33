"""Record batches (protocol/batches.py): validation on produce, offset patching, record decoding.

Decoding is checked on batches written by real librdkafka for every codec (produced to an
emulated broker and read back from its segment files), plus batches from a small test-only
encoder below, which also builds the malformed ones.
"""

from __future__ import annotations

import itertools
import os
import struct

import cramjam
import crc32c
import pytest

from streamlab.kafka import apis
from streamlab.kafka.apis import ApiKey
from streamlab.kafka.protocol import batches
from streamlab.kafka.protocol.batches import InvalidBatch

# --- a tiny test-only encoder (Kafka's DefaultRecordBatch layout) ------------------------------

BASE_TS = 1_700_000_000_123  # milliseconds matter: kio.records would lose them


def _varint(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)  # zigzag
    out = bytearray()
    while True:
        if z < 0x80:
            out.append(z)
            return bytes(out)
        out.append((z & 0x7F) | 0x80)
        z >>= 7


def _field(b: bytes | None) -> bytes:
    return _varint(-1) if b is None else _varint(len(b)) + b


def _record(i: int, ts_delta: int, key, value, headers) -> bytes:
    body = b"\0" + _varint(ts_delta) + _varint(i) + _field(key) + _field(value)
    body += _varint(len(headers))
    for hk, hv in headers:
        body += _field(hk.encode()) + _field(hv)
    return _varint(len(body)) + body


_COMPRESS = {
    0: lambda b: b,
    1: lambda b: bytes(cramjam.gzip.compress(b)),
    2: lambda b: bytes(cramjam.snappy.compress_raw(b)),
    3: lambda b: bytes(cramjam.lz4.compress(b)),
    4: lambda b: bytes(cramjam.zstd.compress(b)),
}


def encode_batch(
    records: list[tuple],
    *,
    base_offset: int = 0,
    base_ts: int = BASE_TS,
    ts_step: int = 1,
    codec: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    leader_epoch: int = -1,
    compress=None,
) -> bytes:
    """A magic-2 batch; ``records`` are (key, value) or (key, value, [(hkey, hvalue)])."""
    raw = b"".join(
        _record(i, i * ts_step, r[0], r[1], r[2] if len(r) > 2 else [])
        for i, r in enumerate(records)
    )
    body = (compress or _COMPRESS[codec])(raw)
    n = len(records)
    after_crc = struct.pack(
        ">hiqqqhii",
        codec,
        n - 1,
        base_ts,
        base_ts + (n - 1) * ts_step,
        producer_id,
        producer_epoch,
        base_sequence,
        n,
    )
    after_crc += body
    crc = crc32c.crc32c(after_crc)
    head = struct.pack(">qiibI", base_offset, 4 + 1 + 4 + len(after_crc), leader_epoch, 2, crc)
    return head + after_crc


def values(n: int, prefix: str = "v") -> list[tuple]:
    return [(f"k{i}".encode(), f"{prefix}{i}".encode()) for i in range(n)]


def patch(batch: bytes, pos: int, fmt: str, value: int, fix_crc: bool = True) -> bytes:
    """Overwrite one header field; recompute the CRC so only the intended defect remains."""
    out = bytearray(batch)
    struct.pack_into(fmt, out, pos, value)
    if fix_crc:
        struct.pack_into(">I", out, 17, crc32c.crc32c(bytes(out[batches.CRC_START :])))
    return bytes(out)


# --- split: what a produce request may contain ---------------------------------------------------


def test_split_reads_every_batch_header():
    a = encode_batch(values(3))
    b = encode_batch(values(2), base_ts=BASE_TS + 10, producer_id=7, producer_epoch=1)
    headers = batches.split(a + b)
    assert [h.record_count for h in headers] == [3, 2]
    assert [h.length for h in headers] == [len(a), len(b)]
    assert headers[0].last_offset_delta == 2 and headers[0].next_offset == 3
    assert headers[1].producer_id == 7 and headers[1].producer_epoch == 1
    assert headers[0].base_timestamp == BASE_TS and headers[0].max_timestamp == BASE_TS + 2
    assert headers[0].codec == "none" and not headers[0].is_control


def test_split_refuses_an_empty_record_set():
    with pytest.raises(InvalidBatch, match="empty"):
        batches.split(b"")


@pytest.mark.parametrize("magic", [0, 1, 3, -1])
def test_split_refuses_other_magic(magic):
    batch = patch(encode_batch(values(1)), 16, ">b", magic, fix_crc=False)
    with pytest.raises(InvalidBatch, match=f"magic {magic}"):
        batches.split(batch)


def test_split_refuses_a_bad_crc():
    batch = bytearray(encode_batch(values(2)))
    batch[-1] ^= 0xFF  # one flipped bit in the last record value
    with pytest.raises(InvalidBatch, match="CRC mismatch"):
        batches.split(bytes(batch))
    assert len(batches.split(bytes(batch), verify_crc=False)) == 1


def test_split_refuses_a_crc_over_a_changed_header_field():
    batch = patch(encode_batch(values(2)), 27, ">q", BASE_TS + 1, fix_crc=False)
    with pytest.raises(InvalidBatch, match="CRC mismatch"):
        batches.split(batch)


@pytest.mark.parametrize("keep", [1, 12, 60])
def test_split_refuses_a_truncated_header(keep):
    batch = encode_batch(values(1))
    with pytest.raises(InvalidBatch, match="not a whole batch header"):
        batches.split(batch[:keep])


def test_split_refuses_a_truncated_batch():
    batch = encode_batch(values(5))
    with pytest.raises(InvalidBatch, match="does not fit"):
        batches.split(batch[:-3])
    # the second of two batches torn
    with pytest.raises(InvalidBatch, match="does not fit"):
        batches.split(batch + batch[:-1])


@pytest.mark.parametrize("length", [0, -5, 48, 2**31 - 1])
def test_split_refuses_an_impossible_batch_length(length):
    batch = patch(encode_batch(values(1)), 8, ">i", length, fix_crc=False)
    with pytest.raises(InvalidBatch, match="batch length"):
        batches.split(batch)


def test_split_refuses_trailing_garbage():
    with pytest.raises(InvalidBatch):
        batches.split(encode_batch(values(1)) + b"\x00\x01\x02")


@pytest.mark.parametrize(
    ("pos", "name"), [(57, "record count"), (23, "offset delta")], ids=["count", "delta"]
)
def test_split_refuses_negative_counts(pos, name):
    batch = patch(encode_batch(values(2)), pos, ">i", -1)  # CRC valid: only the count is wrong
    with pytest.raises(InvalidBatch, match="negative record count or offset delta"):
        batches.split(batch)


def test_read_header_needs_61_bytes():
    with pytest.raises(InvalidBatch, match="truncated"):
        batches.read_header(b"\0" * 60)
    assert batches.read_header(b"\xff" * 3 + encode_batch(values(1)), 3).magic == 2


# --- offsets and timestamps patched by the broker -------------------------------------------------


def test_assign_offsets_patches_offset_and_epoch_and_keeps_the_crc_valid():
    a, b = encode_batch(values(3)), encode_batch(values(4))
    headers = batches.split(a + b)
    out = batches.assign_offsets(a + b, headers, base_offset=1000, leader_epoch=7)
    again = batches.split(out)  # verifies both CRCs
    assert [h.base_offset for h in again] == [1000, 1003]
    assert [h.leader_epoch for h in again] == [7, 7]
    assert [h.base_offset for h in headers] == [1000, 1003]  # the given headers follow
    assert out[batches.CRC_START : len(a)] == a[batches.CRC_START :]  # nothing inside the CRC moved
    assert [r.offset for r in batches.iter_records(out, len(a))] == [1003, 1004, 1005, 1006]


def test_set_log_append_time_recomputes_the_crc():
    buf = bytearray(encode_batch(values(3)))
    batches.set_log_append_time(buf, 0, 1_800_000_000_555)
    (h,) = batches.split(bytes(buf))
    assert h.attributes & batches.TIMESTAMP_TYPE_BIT
    assert h.max_timestamp == 1_800_000_000_555
    assert {r.timestamp for r in batches.iter_records(bytes(buf))} == {1_800_000_000_555}


def test_last_sequence_wraps_like_kafka():
    h = batches.split(encode_batch(values(3), producer_id=1, base_sequence=2**31 - 2))[0]
    assert h.last_sequence == 0
    assert batches.split(encode_batch(values(3)))[0].last_sequence == -1


# --- decoding records -----------------------------------------------------------------------------


@pytest.mark.parametrize("codec", sorted(batches.CODECS), ids=batches.CODECS.values())
def test_iter_records_round_trips_the_test_encoder(codec):
    recs = [
        (b"key", b"value", [("h1", b"x"), ("h2", None)]),
        (None, b"no key"),
        (b"tombstone", None),
        (b"", b""),
        (b"big", os.urandom(300) * 5),
    ]
    batch = encode_batch(recs, codec=codec, base_offset=40, ts_step=1000)
    got = list(batches.iter_records(batch))
    assert [r.offset for r in got] == [40, 41, 42, 43, 44]
    assert [r.timestamp for r in got] == [BASE_TS + 1000 * i for i in range(5)]
    assert [(r.key, r.value) for r in got] == [(k, v) for k, v, *_ in recs]
    assert got[0].headers == [("h1", b"x"), ("h2", None)]
    assert got[1].headers == []


def test_iter_records_unwraps_xerial_snappy_from_java_producers():
    def xerial(raw: bytes) -> bytes:
        out = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
        for i in range(0, len(raw), 20):  # several blocks
            block = bytes(cramjam.snappy.compress_raw(raw[i : i + 20]))
            out += struct.pack(">i", len(block)) + block
        return out

    batch = encode_batch(values(6, "xerial-"), codec=2, compress=xerial)
    assert [r.value for r in batches.iter_records(batch)] == [b"xerial-%d" % i for i in range(6)]


def test_iter_batches_stops_at_a_torn_tail():
    a, b = encode_batch(values(1)), encode_batch(values(2))
    assert [(pos, h.record_count) for pos, h in batches.iter_batches(a + b)] == [
        (0, 1),
        (len(a), 2),
    ]
    assert len(list(batches.iter_batches(a + b[:-1]))) == 1
    assert len(list(batches.iter_batches(a + b[:30]))) == 1


def test_unknown_codec_is_an_invalid_batch():
    with pytest.raises(InvalidBatch, match="codec 5"):
        batches.decompress(5, b"")


# --- batches written by real librdkafka -----------------------------------------------------------

LIBRDKAFKA_CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
N_RECORDS = 40


def _broker_serves(key: ApiKey) -> bool:
    apis.load_all()
    return key in apis.HANDLERS


@pytest.fixture(scope="module")
def librdkafka_logs(tmp_path_factory) -> dict[str, bytes]:
    """codec -> the segment file bytes of a topic produced to by librdkafka with that codec."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from streamlab.kafka.testing import ClusterProcess

    data_dir = tmp_path_factory.mktemp("librdkafka-batches")
    cluster = ClusterProcess(str(data_dir)).start()
    try:
        # Topics first: records queued while a topic is being auto-created can leave in a lone
        # first batch, which librdkafka sends uncompressed when compression would not shrink it.
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        futures = admin.create_topics([NewTopic(f"codec-{c}", 1) for c in LIBRDKAFKA_CODECS])
        for future in futures.values():
            future.result(30)
        for codec in LIBRDKAFKA_CODECS:
            producer = Producer(
                {
                    "bootstrap.servers": cluster.bootstrap,
                    "compression.type": codec,
                    "linger.ms": 50,  # several records per batch, so compression matters
                    "enable.idempotence": codec == "zstd",  # one idempotent run as well
                }
            )
            for i in range(N_RECORDS):
                producer.produce(
                    f"codec-{codec}",
                    key=None if i % 10 == 3 else f"key-{i}".encode(),
                    value=None if i % 10 == 7 else (f"value-{i}-" * 20).encode(),
                    headers=[("n", str(i).encode()), ("empty", b"")] if i % 2 else None,
                    timestamp=BASE_TS + i,
                )
            assert producer.flush(30) == 0
        logs = {}
        for codec in LIBRDKAFKA_CODECS:
            folder = data_dir / f"codec-{codec}-0"
            logs[codec] = b"".join(p.read_bytes() for p in sorted(folder.glob("*.log")))
        return logs
    finally:
        cluster.stop()


@pytest.mark.parametrize("codec", LIBRDKAFKA_CODECS)
def test_iter_records_decodes_librdkafka_batches(librdkafka_logs, codec):
    if codec == "lz4" and not _broker_serves(ApiKey.FIND_COORDINATOR):
        # librdkafka's LZ4 feature is gated on FindCoordinator being advertised (rdkafka_feature.c)
        pytest.skip("librdkafka sends lz4 only to brokers advertising FindCoordinator")
    data = librdkafka_logs[codec]
    found = list(batches.iter_batches(data))
    assert found, "no batches stored"
    assert len(data) == sum(h.length for _, h in found)  # no torn tail
    # librdkafka sends a batch uncompressed when compressing would not shrink it (a lone small
    # batch under load), so "none" may appear beside the codec asked for.
    assert codec in {h.codec for _, h in found} <= {codec, "none"}
    batches.split(data)  # stored batches still carry valid CRCs
    records = [r for pos, _ in found for r in batches.iter_records(data, pos)]
    assert [r.offset for r in records] == list(range(N_RECORDS))
    for i, r in enumerate(records):
        assert r.timestamp == BASE_TS + i
        assert r.key == (None if i % 10 == 3 else f"key-{i}".encode())
        assert r.value == (None if i % 10 == 7 else (f"value-{i}-" * 20).encode())
        assert r.headers == ([("n", str(i).encode()), ("empty", b"")] if i % 2 else [])


def test_librdkafka_idempotent_batches_carry_producer_state(librdkafka_logs):
    found = [h for _, h in batches.iter_batches(librdkafka_logs["zstd"])]
    assert all(h.producer_id >= 0 and h.producer_epoch == 0 for h in found)
    assert found[0].base_sequence == 0
    for prev, nxt in itertools.pairwise(found):
        assert nxt.base_sequence == prev.last_sequence + 1
