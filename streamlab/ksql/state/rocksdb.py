"""A RocksDB store backend (rocksdict): one database per store, on the engine's state dir.

Kafka Streams keeps each store of a task in its own RocksDB under
``<state.dir>/<application.id>/<task>/rocksdb/<store>``; here one topology serves every
partition of a query, so a store is one database at ``<state dir>/<application id>/<store>``
(see :mod:`streamlab.ksql.kafka_runtime.state`). Inside it, a key is its store partition then
the key, both in the order-preserving encoding of :mod:`streamlab.ksql.state.keys`, so RocksDB's
byte order is the key order ``range()`` promises; values are plain Python values written by
:mod:`streamlab.ksql.state.values` (read back without running code). The query's changelog
carries these same key and value bytes.

Writes go to RocksDB's memtable without its write-ahead log, as Kafka Streams writes them (the
changelog topic is the log): a killed process (kill -9) loses what was not flushed to disk yet.
:meth:`RocksDBStore.flush` writes the memtable out; the Kafka runtime flushes every store before
it writes a checkpoint, so a store on disk always holds at least what its checkpoint says, and
the restore replays the changelog from there.

>>> import tempfile
>>> store = RocksDBStore("counts", tempfile.mkdtemp())
>>> part = store.partition(0)
>>> part.put(("b",), 2); part.put(("a",), 1); part.put((None,), 0)
>>> list(part.range())
[((None,), 0), (('a',), 1), (('b',), 2)]
>>> store.close()
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from rocksdict import Options, Rdict, ReadOptions, WriteBatch, WriteOptions

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.state import values as state_values
from streamlab.ksql.state.base import ChangelogCallback, Key, Store, StorePartition
from streamlab.ksql.state.keys import decode_key, encode_key

log = logging.getLogger(__name__)

ENCODED_KEYS = 100_000  # encoded keys remembered per store partition
CACHED_VALUES = 50_000  # decoded values remembered per store partition (a read cache)
_ABSENT = object()


class StoreClosedError(KsqlException):
    """A store used after :meth:`RocksDBStore.close`."""


def _options() -> Options:
    options = Options(raw_mode=True)  # bytes in, bytes out: we encode keys and values
    options.create_if_missing(True)
    return options


def _open(path: str) -> Rdict:
    db = Rdict(path, _options())
    writes = WriteOptions()
    writes.disable_wal = True  # Kafka Streams' setting: a write costs no log append (syscall)
    db.set_write_options(writes)
    return db


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string above every string starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class RocksDBStorePartition(StorePartition):
    """One store partition: the keys of the database that start with its encoded number."""

    def __init__(self, store: RocksDBStore, partition: int) -> None:
        self.store = store
        self.partition = partition
        self.prefix = encode_key((partition,))
        self._end = _prefix_end(self.prefix)
        # Encoded keys of the keys used lately: an update reads then writes its key, and hot
        # keys come again and again. A store's key columns have fixed SQL types, so equal
        # tuples (1 == 1.0 == True in Python) never mix types within one store.
        self._encoded: dict[Key, bytes] = {}
        # The values of the keys read or written lately (``_ABSENT``: not in the store), kept
        # in step with every write, so a read-modify-write costs one RocksDB put: no get and
        # no unpickling. Operators never change a value in place (UDAFs return new values).
        # Only the writing thread (the query's) fills it on a read: a pull query's read on
        # another thread could otherwise put back a value the query has just replaced.
        self._values: dict[Key, Any] = {}
        self._writer: int | None = None

    @property
    def db(self) -> Rdict:
        return self.store.db

    def _key(self, key: Key) -> bytes:
        encoded = self._encoded
        try:
            raw = encoded.get(key)
        except TypeError:  # an unhashable key element (not cached; encode_key says if bad)
            return self.prefix + encode_key(key)
        if raw is None:
            if len(encoded) >= ENCODED_KEYS:
                encoded.clear()
            raw = encoded[key] = self.prefix + encode_key(key)
        return raw

    def get(self, key: Key, default: Any = None) -> Any:
        try:
            value = self._values.get(key)
        except TypeError:  # an unhashable key element: not cached
            value = None
        if value is None:
            data = self.db.get(self._key(key))
            value = _ABSENT if data is None else state_values.loads(data)
            if threading.get_ident() == self._writer:
                self._remember(key, value)
        return default if value is _ABSENT else value

    def _remember(self, key: Key, value: Any) -> None:
        values = self._values
        if len(values) >= CACHED_VALUES:
            values.clear()
        try:
            values[key] = value
        except TypeError:
            pass

    def forget(self) -> None:
        """Drop the read cache (the database was changed underneath: a restore, a wipe)."""
        self._values.clear()

    def put(self, key: Key, value: Any) -> None:
        raw, data = self._key(key), state_values.dumps(value)
        self.db.put(raw, data)
        self._writer = threading.get_ident()
        self._remember(key, value)
        if self.store.raw_changelog is not None:
            self.store.raw_changelog(raw, data)
        elif self.store.changelog is not None:
            self.store.changelog(self.partition, key, value)

    def delete(self, key: Key) -> None:
        raw = self._key(key)
        if self.get(key, _ABSENT) is _ABSENT:
            return  # nothing to delete: no tombstone, as the memory store
        self.db.delete(raw)
        self._writer = threading.get_ident()
        self._remember(key, _ABSENT)
        if self.store.raw_changelog is not None:
            self.store.raw_changelog(raw, None)
        elif self.store.changelog is not None:
            self.store.changelog(self.partition, key, None)

    def range(self, start: Key | None = None, end: Key | None = None) -> Iterator[tuple[Key, Any]]:
        low = self.prefix if start is None else self._key(start)
        high = self._end if end is None else self._key(end)
        options = ReadOptions()
        if high is not None:
            options.set_iterate_upper_bound(high)
        size = len(self.prefix)
        for raw, data in self.db.items(from_key=low, read_opt=options):
            yield decode_key(raw[size:]), state_values.loads(data)

    def restore(self, key: Key, value: Any) -> None:
        if value is None:
            self.db.delete(self._key(key))
        else:
            self.db.put(self._key(key), state_values.dumps(value))
        try:
            self._values.pop(key, None)
        except TypeError:  # an unhashable key element is never cached
            pass

    def restore_batch(self, entries: Iterable[tuple[Key, bytes | None]]) -> int:
        """Apply changelog entries whose values are still bytes, in one write batch;
        returns how many."""
        return self.store.restore_raw((self._key(key), data) for key, data in entries)


class RocksDBStore(Store):
    """A store in its own RocksDB database at ``path`` (created if missing).

    ``raw_changelog(key, value)``, when given, replaces ``changelog``: it gets the store's own
    bytes (encoded key with its partition, encoded value or None), which a changelog can carry
    as they are, as Kafka Streams logs its stores' bytes; :meth:`restore_raw` applies them.
    ``fresh`` says whether the database was created by this open (nothing was on disk), which
    tells the restore that no checkpoint can cover it.
    """

    def __init__(
        self,
        name: str,
        path: str,
        changelog: ChangelogCallback | None = None,
        raw_changelog: Callable[[bytes, bytes | None], None] | None = None,
    ) -> None:
        super().__init__(name, changelog)
        self.raw_changelog = raw_changelog
        self.path = path
        self.fresh = not os.path.exists(os.path.join(path, "CURRENT"))
        os.makedirs(path, exist_ok=True)
        try:
            self._db: Rdict | None = _open(path)
        except Exception as error:  # rocksdict raises plain Exception (e.g. the LOCK is held)
            raise KsqlException(
                f"Could not open the state store '{name}' at '{path}': {error}. Is another "
                "engine using the same state dir (ksql.streams.state.dir)?"
            ) from error
        self.partitions: dict[int, RocksDBStorePartition] = {}

    @property
    def db(self) -> Rdict:
        if self._db is None:
            raise StoreClosedError(f"The state store '{self.name}' at '{self.path}' is closed")
        return self._db

    def partition(self, partition: int) -> RocksDBStorePartition:
        found = self.partitions.get(partition)
        if found is None:
            found = self.partitions[partition] = RocksDBStorePartition(self, partition)
        return found

    def restore_raw(self, entries: Iterable[tuple[bytes, bytes | None]]) -> int:
        """Apply ``raw_changelog`` entries (None: delete) in one write batch; returns how many."""
        for partition in self.partitions.values():
            partition.forget()
        batch = WriteBatch(raw_mode=True)
        count = 0
        for raw, data in entries:
            if data is None:
                batch.delete(raw)
            else:
                batch.put(raw, data)
            count += 1
        self.db.write(batch)
        return count

    def wipe(self) -> None:
        """Delete every entry (before a full restore): the database is recreated empty."""
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)
        os.makedirs(self.path, exist_ok=True)
        self._db = _open(self.path)
        self.fresh = True
        for partition in self.partitions.values():
            partition.forget()

    def flush(self) -> None:
        """Write the memtable to disk: every write so far survives a kill from now on."""
        self.db.flush()

    def close(self) -> None:
        if self._db is not None:
            self._db.flush()  # nothing rests in the memtable of a closed store
            self._db.close()
            self._db = None

    def destroy(self) -> None:
        """Close and delete the database (the query is gone)."""
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)
