"""The metastore: every stream and table the engine knows, and which queries use them."""

from __future__ import annotations

from streamlab.ksql.catalog.sources import DataSource
from streamlab.ksql.errors import KsqlException
from streamlab.ksql.types import SqlType


class MetaStore:
    """Sources by name plus the read/write links between sources and persistent queries.

    >>> MetaStore().get_source("X") is None
    True
    """

    def __init__(self) -> None:
        self._sources: dict[str, DataSource] = {}
        self._readers: dict[str, set[str]] = {}
        self._writers: dict[str, set[str]] = {}
        self.types: dict[str, SqlType] = {}

    # ---- sources --------------------------------------------------------------------------------

    def get_source(self, name: str) -> DataSource | None:
        return self._sources.get(name)

    def all_sources(self) -> list[DataSource]:
        return list(self._sources.values())

    def put_source(self, source: DataSource, allow_replace: bool = False) -> None:
        existing = self._sources.get(source.name)
        if existing is not None and not allow_replace:
            raise KsqlException(
                f"Cannot add {source.source_type.lower} '{source.name}': "
                f"A {existing.source_type.lower} with the same name already exists"
            )
        self._sources[source.name] = source

    def delete_source(self, name: str, terminated: str | None = None) -> None:
        """Drop a source no query uses; ``terminated``: the query that created it (CSAS/CTAS),
        which the DROP terminates, so it does not count."""
        readers = sorted(self._readers.get(name, set()) - {terminated})
        writers = sorted(self._writers.get(name, set()) - {terminated})
        if readers or writers:
            raise KsqlException(
                f"Cannot drop {name}.\n"
                f"The following queries read from this source: [{', '.join(readers)}].\n"
                f"The following queries write into this source: [{', '.join(writers)}].\n"
                f"You need to terminate them before dropping {name}."
            )
        self._sources.pop(name, None)

    def check_alternatives(self, name: str, source_type: object = None) -> str:
        """ksqlDB's "Did you mean ...?" hint for a name that only differs in case."""
        matches = sorted(
            (
                s
                for s in self._sources.values()
                if s.name.upper() == name.upper()
                and (source_type is None or s.source_type is source_type)
            ),
            key=lambda s: s.name,
        )
        if not matches:
            return ""
        if len(matches) > 1:
            parts = []
            for i, source in enumerate(matches):
                if i < len(matches) - 2:
                    punctuation = ", "
                elif i == len(matches) - 2:
                    punctuation = " or " if i == 0 else ", or "
                else:
                    punctuation = "? "
                parts.append(f'"{source.name}" ({source.source_type.value}){punctuation}')
            return (
                "\nDid you mean "
                + "".join(parts)
                + "Hint: wrap the source name in double quotes to make it case-sensitive."
            )
        match = matches[0].name
        if any(c.islower() for c in match):
            return (
                f'\nDid you mean "{match}"? Hint: wrap the source name in double quotes to make '
                "it case-sensitive."
            )
        return f"\nDid you mean {match}? Hint: try removing double quotes from the source name."

    def resolve_type(self, sql_type: SqlType) -> SqlType:
        """Replace ``CREATE TYPE`` names inside a type by the types they stand for."""
        from streamlab.ksql.types import SqlArray, SqlCustomType, SqlMap, SqlStruct

        if isinstance(sql_type, SqlCustomType):
            found = self.types.get(sql_type.name.upper()) or self.types.get(sql_type.name)
            if found is None:
                raise KsqlException(f"Cannot resolve unknown type: {sql_type.name}")
            return found
        if isinstance(sql_type, SqlArray):
            return SqlArray(self.resolve_type(sql_type.item_type))
        if isinstance(sql_type, SqlMap):
            return SqlMap(
                self.resolve_type(sql_type.key_type), self.resolve_type(sql_type.value_type)
            )
        if isinstance(sql_type, SqlStruct):
            return SqlStruct(tuple((n, self.resolve_type(t)) for n, t in sql_type.fields))
        return sql_type

    # ---- query links ----------------------------------------------------------------------------

    def link_query(self, query_id: str, reads: list[str], writes: list[str]) -> None:
        for name in reads:
            self._readers.setdefault(name, set()).add(query_id)
        for name in writes:
            self._writers.setdefault(name, set()).add(query_id)

    def unlink_query(self, query_id: str) -> None:
        for links in (self._readers, self._writers):
            for ids in links.values():
                ids.discard(query_id)

    def readers_of(self, name: str) -> set[str]:
        return set(self._readers.get(name, ()))

    def writers_of(self, name: str) -> set[str]:
        return set(self._writers.get(name, ()))
