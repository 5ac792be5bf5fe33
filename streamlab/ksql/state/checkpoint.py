"""Kafka Streams' ``.checkpoint`` file: the changelog offsets a task's local stores cover.

The format is Kafka Streams' ``OffsetCheckpoint``: a version line (``0``), a count line, then one
``<topic> <partition> <offset>`` line per changelog partition, where ``offset`` is the next
changelog offset the store has *not* applied (restore starts there). The file is replaced
atomically, so a reader sees the old or the new file, never half of one.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), ".checkpoint")
>>> OffsetCheckpoint(path).write({("t-changelog", 0): 42})
>>> OffsetCheckpoint(path).read()
{('t-changelog', 0): 42}
"""

from __future__ import annotations

import os

from streamlab.ksql.errors import KsqlException

VERSION = 0
FILE_NAME = ".checkpoint"

Offsets = dict[tuple[str, int], int]


class CheckpointError(KsqlException):
    """A checkpoint file that cannot be read (its path and what is wrong)."""


class OffsetCheckpoint:
    def __init__(self, path: str) -> None:
        self.path = path

    def write(self, offsets: Offsets) -> None:
        lines = [str(VERSION), str(len(offsets))]
        lines += [f"{topic} {partition} {offset}" for (topic, partition), offset in offsets.items()]
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, self.path)

    def read(self) -> Offsets:
        """The offsets; empty when there is no file (nothing is covered: restore it all)."""
        try:
            with open(self.path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return {}
        try:
            version, count = int(lines[0]), int(lines[1])
            if version != VERSION:
                raise CheckpointError(
                    f"Unknown checkpoint version {version} in '{self.path}' (expected {VERSION})"
                )
            offsets: Offsets = {}
            for line in lines[2 : 2 + count]:
                topic, partition, offset = line.rsplit(" ", 2)
                offsets[(topic, int(partition))] = int(offset)
        except (IndexError, ValueError) as error:
            raise CheckpointError(
                f"Corrupt checkpoint file '{self.path}' ({error}); delete it to restore the "
                "stores from their changelogs."
            ) from error
        if len(offsets) != count:
            raise CheckpointError(
                f"Corrupt checkpoint file '{self.path}': {count} entries expected, "
                f"{len(offsets)} found; delete it to restore the stores from their changelogs."
            )
        return offsets

    def delete(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
