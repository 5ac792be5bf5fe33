"""Partition logs (log.py): append/read, segment roll, recovery, trimming, timestamps and
idempotent producers."""

from __future__ import annotations

import asyncio
import os

import pytest
from test_batches import BASE_TS, encode_batch, values  # same folder, on sys.path under pytest

from streamlab.kafka.log import InvalidBatch, PartitionLog, ProduceError
from streamlab.kafka.protocol import batches


def offsets(data: bytes) -> list[int]:
    return [
        r.offset for pos, _ in batches.iter_batches(data) for r in batches.iter_records(data, pos)
    ]


def read_all(plog: PartitionLog, start: int | None = None) -> list[int]:
    """Every offset from ``start`` on, fetching like a consumer (one call per segment)."""
    out: list[int] = []
    offset = plog.log_start_offset if start is None else start
    while offset < plog.end_offset:
        chunk = plog.read(offset, 1 << 20)
        assert chunk, f"no data at {offset} below end {plog.end_offset}"
        got = [o for o in offsets(chunk) if o >= offset]
        out += got
        offset = got[-1] + 1
    return out


def segment_files(plog: PartitionLog) -> list[str]:
    return sorted(n for n in os.listdir(plog.path) if n.endswith(".log"))


@pytest.fixture
def path(tmp_path) -> str:
    return str(tmp_path / "topic-0")


# --- append and read ------------------------------------------------------------------------------


def test_append_assigns_consecutive_offsets_and_reads_whole_batches(path):
    plog = PartitionLog(path)
    assert (plog.log_start_offset, plog.end_offset) == (0, 0)
    assert plog.append(encode_batch(values(3)), leader_epoch=0).base_offset == 0
    assert plog.append(encode_batch(values(2)), leader_epoch=0).base_offset == 3
    assert plog.append(encode_batch(values(4)), leader_epoch=1).base_offset == 5
    assert plog.end_offset == 9 and plog.batch_count == 3 and plog.records_in == 9
    assert offsets(plog.read(0, 1 << 20)) == list(range(9))
    # the batch holding offset 4 comes whole: the client skips offset 3 itself
    assert offsets(plog.read(4, 1 << 20)) == list(range(3, 9))
    assert plog.read(9, 1 << 20) == b""
    # stored bytes carry the broker's offsets and epochs, CRCs intact
    stored = plog.read(0, 1 << 20)
    assert [(h.base_offset, h.leader_epoch) for h in batches.split(stored)] == [
        (0, 0),
        (3, 0),
        (5, 1),
    ]


def test_read_returns_at_least_one_batch_even_over_max_bytes(path):
    plog = PartitionLog(path)
    big = encode_batch([(b"k", b"x" * 5000)])
    plog.append(big, 0)
    plog.append(encode_batch(values(1)), 0)
    assert offsets(plog.read(0, 10)) == [0]  # KIP-74
    assert offsets(plog.read(0, len(big))) == [0]
    assert offsets(plog.read(0, 1 << 20)) == [0, 1]


def test_a_refused_append_writes_nothing(path):
    plog = PartitionLog(path)
    plog.append(encode_batch(values(2)), 0)
    size = plog.size_bytes
    bad = bytearray(encode_batch(values(2)))
    bad[-1] ^= 1
    with pytest.raises(InvalidBatch, match="CRC"):
        plog.append(bytes(bad), 0)
    with pytest.raises(InvalidBatch):
        plog.append(encode_batch(values(2))[:-1], 0)
    assert plog.end_offset == 2 and plog.size_bytes == size
    assert os.path.getsize(os.path.join(path, segment_files(plog)[-1])) == size


def test_log_append_time_stamps_the_batch(path):
    plog = PartitionLog(path)
    result = plog.append(encode_batch(values(2)), 0, log_append_time=1_800_000_000_001)
    assert result.log_append_time == 1_800_000_000_001
    data = plog.read(0, 1 << 20)
    batches.split(data)  # CRC recomputed
    assert {r.timestamp for r in batches.iter_records(data)} == {1_800_000_000_001}
    assert plog.append(encode_batch(values(1)), 0).log_append_time == -1


def test_append_wakes_waiting_fetches(path):
    plog = PartitionLog(path)

    async def scenario():
        fut = asyncio.get_running_loop().create_future()
        plog.add_waiter(fut)
        assert not fut.done()
        plog.append(encode_batch(values(1)), 0)
        assert fut.done()

    asyncio.run(scenario())


# --- segments -------------------------------------------------------------------------------------


def test_segments_roll_at_segment_bytes_and_are_named_by_base_offset(path):
    batch_size = len(encode_batch(values(2)))
    plog = PartitionLog(path, segment_bytes=3 * batch_size)
    for _ in range(10):
        plog.append(encode_batch(values(2)), 0)
    assert segment_files(plog) == [f"{o:020d}.log" for o in (0, 6, 12, 18)]
    assert [s.size for s in plog.segments] == [3 * batch_size] * 3 + [batch_size]
    # one read never spans two segment files
    assert offsets(plog.read(0, 1 << 20)) == list(range(6))
    assert offsets(plog.read(7, 1 << 20)) == list(range(6, 12))
    assert read_all(plog) == list(range(20))


def test_a_batch_larger_than_a_segment_gets_its_own_segment(path):
    plog = PartitionLog(path, segment_bytes=100)
    plog.append(encode_batch(values(1)), 0)
    plog.append(encode_batch([(b"k", b"x" * 500)]), 0)
    plog.append(encode_batch(values(1)), 0)
    assert segment_files(plog) == [f"{o:020d}.log" for o in (0, 1, 2)]
    assert read_all(plog) == [0, 1, 2]


# --- recovery -------------------------------------------------------------------------------------


def test_reopen_recovers_offsets_data_and_continues(path):
    plog = PartitionLog(path, segment_bytes=400)
    for i in range(8):
        plog.append(encode_batch(values(3, f"r{i}-")), 0)
    before = [plog.read(o, 1 << 20) for o in range(0, 24, 3)]
    n_segments = len(plog.segments)
    plog.close()

    again = PartitionLog(path, segment_bytes=400)
    assert (again.log_start_offset, again.end_offset) == (0, 24)
    assert len(again.segments) == n_segments and again.batch_count == 8
    assert [again.read(o, 1 << 20) for o in range(0, 24, 3)] == before
    assert again.append(encode_batch(values(1)), 0).base_offset == 24
    assert read_all(again) == list(range(25))


@pytest.mark.parametrize("torn", [1, 20, 61, "all-but-one"])
def test_a_torn_tail_write_is_cut_off_on_reopen(path, torn):
    plog = PartitionLog(path)
    plog.append(encode_batch(values(2)), 0)
    plog.append(encode_batch(values(3)), 0)
    good_size = plog.size_bytes
    seg_path = plog.segments[-1].path
    plog.close()
    # a crash in the middle of writing the next batch
    nxt = batches.assign_offsets(
        encode_batch(values(4)), batches.split(encode_batch(values(4))), 5, 0
    )
    keep = len(nxt) - 1 if torn == "all-but-one" else torn
    with open(seg_path, "ab") as f:
        f.write(nxt[:keep])

    again = PartitionLog(path)
    assert again.end_offset == 5 and again.batch_count == 2
    assert os.path.getsize(seg_path) == good_size
    assert again.append(encode_batch(values(1)), 0).base_offset == 5
    assert read_all(again) == list(range(6))


def test_garbage_after_the_last_good_batch_is_cut_off(path):
    plog = PartitionLog(path)
    plog.append(encode_batch(values(2)), 0)
    seg_path = plog.segments[-1].path
    plog.close()
    with open(seg_path, "ab") as f:
        f.write(b"\xff" * 200)  # a header whose length field is nonsense
    again = PartitionLog(path)
    assert again.end_offset == 2
    assert read_all(again) == [0, 1]


# --- trimming (DeleteRecords) ---------------------------------------------------------------------


def test_delete_records_drops_whole_segments_and_persists_the_start_offset(path):
    batch_size = len(encode_batch(values(2)))
    plog = PartitionLog(path, segment_bytes=2 * batch_size)
    for _ in range(6):
        plog.append(encode_batch(values(2)), 0)  # segments start at 0, 4, 8
    assert segment_files(plog) == [f"{o:020d}.log" for o in (0, 4, 8)]

    assert plog.delete_records(3) == 3  # inside the first segment: nothing to drop
    assert segment_files(plog) == [f"{o:020d}.log" for o in (0, 4, 8)]
    assert plog.log_start_offset == 3
    assert read_all(plog) == list(range(3, 12))

    assert plog.delete_records(5) == 5  # segment 0..3 lies wholly before 5
    assert segment_files(plog) == [f"{o:020d}.log" for o in (4, 8)]
    assert read_all(plog) == list(range(5, 12))
    assert plog.delete_records(2) == 5  # never moves back

    plog.close()
    again = PartitionLog(path, segment_bytes=2 * batch_size)
    assert (again.log_start_offset, again.end_offset) == (5, 12)
    assert read_all(again) == list(range(5, 12))


def test_delete_records_to_the_high_watermark_keeps_offsets_across_reopen(path):
    batch_size = len(encode_batch(values(2)))
    plog = PartitionLog(path, segment_bytes=2 * batch_size)
    for _ in range(5):
        plog.append(encode_batch(values(2)), 0)
    assert plog.delete_records(-1) == 10
    assert plog.log_start_offset == plog.end_offset == 10
    plog.close()
    again = PartitionLog(path, segment_bytes=2 * batch_size)
    assert (again.log_start_offset, again.end_offset) == (10, 10)
    assert again.append(encode_batch(values(1)), 0).base_offset == 10
    assert read_all(again) == [10]


def test_delete_records_beyond_the_end_is_refused(path):
    plog = PartitionLog(path)
    plog.append(encode_batch(values(2)), 0)
    with pytest.raises(ProduceError) as e:
        plog.delete_records(3)
    assert e.value.code == "offset_out_of_range"
    assert plog.log_start_offset == 0


# --- timestamps -----------------------------------------------------------------------------------


def test_offset_for_timestamp_is_exact_per_record(path):
    plog = PartitionLog(path)
    plog.append(encode_batch(values(3), base_ts=BASE_TS, ts_step=10), 0)  # 0..2: ts +0,+10,+20
    plog.append(encode_batch(values(3), base_ts=BASE_TS + 100, ts_step=10), 0)  # 3..5
    assert plog.offset_for_timestamp(0) == (0, BASE_TS)
    assert plog.offset_for_timestamp(BASE_TS + 10) == (1, BASE_TS + 10)
    assert plog.offset_for_timestamp(BASE_TS + 11) == (2, BASE_TS + 20)
    assert plog.offset_for_timestamp(BASE_TS + 21) == (3, BASE_TS + 100)
    assert plog.offset_for_timestamp(BASE_TS + 120) == (5, BASE_TS + 120)
    assert plog.offset_for_timestamp(BASE_TS + 121) == (-1, -1)
    assert plog.max_timestamp() == (5, BASE_TS + 120)
    plog.delete_records(2)  # records before the log start are gone for lookups too
    assert plog.offset_for_timestamp(0) == (2, BASE_TS + 20)


def test_offset_for_timestamp_looks_inside_compressed_batches(path):
    plog = PartitionLog(path)
    plog.append(encode_batch(values(4), ts_step=5, codec=4), 0)
    assert plog.offset_for_timestamp(BASE_TS + 6) == (2, BASE_TS + 10)


# --- idempotent producers -------------------------------------------------------------------------


def idem(n: int, seq: int, pid: int = 42, epoch: int = 0) -> bytes:
    return encode_batch(values(n), producer_id=pid, producer_epoch=epoch, base_sequence=seq)


def test_in_order_sequences_append(path):
    plog = PartitionLog(path)
    assert plog.append(idem(3, 0), 0).base_offset == 0
    assert plog.append(idem(2, 3), 0).base_offset == 3
    assert plog.append(idem(1, 0, pid=43), 0).base_offset == 5  # another producer, own sequence


def test_a_resent_batch_is_acknowledged_with_its_original_offset(path):
    plog = PartitionLog(path)
    plog.append(idem(3, 0), 0)
    plog.append(idem(2, 3), 0)
    plog.append(idem(2, 5), 0)
    dup = plog.append(idem(2, 3), 0)
    assert dup.duplicate and dup.base_offset == 3
    assert plog.end_offset == 7 and plog.batch_count == 3


def test_a_sequence_gap_is_out_of_order(path):
    plog = PartitionLog(path)
    plog.append(idem(3, 0), 0)
    with pytest.raises(ProduceError) as e:
        plog.append(idem(1, 4), 0)
    assert e.value.code == "out_of_order_sequence_number"
    assert plog.end_offset == 3


def test_only_the_last_five_batches_count_as_duplicates(path):
    plog = PartitionLog(path)
    for seq in range(6):
        plog.append(idem(1, seq), 0)
    assert plog.append(idem(1, 1), 0).duplicate  # 5th most recent
    with pytest.raises(ProduceError) as e:
        plog.append(idem(1, 0), 0)  # fell out of the window
    assert e.value.code == "out_of_order_sequence_number"


def test_epochs_fence_old_producers_and_restart_sequences(path):
    plog = PartitionLog(path)
    plog.append(idem(2, 0, epoch=1), 0)
    with pytest.raises(ProduceError) as e:
        plog.append(idem(1, 2, epoch=0), 0)
    assert e.value.code == "invalid_producer_epoch"
    assert plog.append(idem(1, 0, epoch=2), 0).base_offset == 2  # bumped epoch starts at 0


def test_duplicates_are_still_detected_after_reopen(path):
    plog = PartitionLog(path)
    plog.append(idem(3, 0), 0)
    plog.append(idem(2, 3), 0)
    plog.close()
    again = PartitionLog(path)
    dup = again.append(idem(2, 3), 0)
    assert dup.duplicate and dup.base_offset == 3
    assert again.append(idem(1, 5), 0).base_offset == 5


# --- segment.ms: rolling by record timestamps ---------------------------------------------------


def _at(plog: PartitionLog, ts: int) -> None:
    from streamlab.kafka.coordinator.records import build_batch

    plog.append(build_batch([(b"k", b"v")], ts, -1, -1), 0)


def test_a_batch_more_than_segment_ms_after_the_first_rolls_the_segment(tmp_path):
    hour = 3_600_000
    plog = PartitionLog(str(tmp_path / "p"), segment_bytes=1 << 20, segment_ms=hour)
    _at(plog, BASE_TS)
    _at(plog, BASE_TS + hour)  # exactly segment.ms later: Kafka rolls only past it
    assert [s.base_offset for s in plog.segments] == [0]
    _at(plog, BASE_TS + hour + 1)
    assert [s.base_offset for s in plog.segments] == [0, 2]
    _at(plog, BASE_TS - 5 * hour)  # an older record never rolls (negative wait)
    assert [s.base_offset for s in plog.segments] == [0, 2]
    plog.close()
    # recovered from disk: the first batch's timestamp is read back
    reopened = PartitionLog(str(tmp_path / "p"), segment_bytes=1 << 20, segment_ms=hour)
    _at(reopened, BASE_TS + 2 * hour + 2)
    assert [s.base_offset for s in reopened.segments] == [0, 2, 4]


def test_segment_without_timestamps_rolls_by_its_age(tmp_path):
    plog = PartitionLog(str(tmp_path / "p"), segment_bytes=1 << 20, segment_ms=1000)
    _at(plog, -1)  # no timestamp: Kafka ages the segment by when it was created
    _at(plog, -1)
    assert len(plog.segments) == 1
    plog.segments[-1].created_ms -= 1001
    _at(plog, -1)
    assert [s.base_offset for s in plog.segments] == [0, 2]


def test_time_rolled_segments_let_retention_delete_old_records_apart(tmp_path):
    from streamlab.kafka.retention import apply_retention

    hour = 3_600_000
    now = BASE_TS + 10 * hour
    plog = PartitionLog(str(tmp_path / "p"), segment_bytes=1 << 20, segment_ms=hour)
    for ts in (now - 3 * hour, now - 3 * hour + 1000, now):
        _at(plog, ts)
    stats = apply_retention(plog, hour, -1, now_ms=now)
    assert (stats.segments, plog.log_start_offset) == (1, 2)
