"""The Schema Registry's state and rules: subjects, versions, ids, deletes, config and mode.

State is rebuilt by replaying the store's records through :meth:`SchemaRegistry.apply`, and
every change is made the same way: the rules decide which records to write, the store makes them
durable, and only then are they applied. Methods are named after the REST operations and raise
:class:`~streamlab.registry.errors.RegistryError` with Confluent's codes; they return plain
values (``SchemaVersion``, ints, strings) that ``rest`` turns into JSON.

The semantics follow Confluent's ``KafkaSchemaRegistry``:

* ids are global: the same schema (same type, same parsed content, same references) gets the
  same id under every subject; a new id is one more than the highest ever seen;
* versions count from 1 per subject and never go back, even after deletes;
* a delete is soft first (``deleted: true``, the id still resolves), then ``permanent=true``;
* a new version must pass the subject's compatibility level (BACKWARD by default) against the
  live versions.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, replace

from streamlab.registry import compatibility, errors, storage
from streamlab.registry.schemas import (
    AVRO,
    InvalidSchema,
    ParsedSchema,
    Reference,
    parse,
)

log = logging.getLogger("streamlab.registry")

MAX_VERSION = 2**31 - 1
LATEST = -1
READWRITE = "READWRITE"
MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT", "FORWARD")
CONTEXT = "."  # only the default context exists here


@dataclass(frozen=True)
class SchemaVersion:
    """One version of one subject, as stored (the schema string is what was registered)."""

    subject: str
    version: int
    id: int
    schema_type: str
    schema: str
    references: tuple[Reference, ...] = ()
    deleted: bool = False

    @classmethod
    def from_record(cls, value: dict) -> SchemaVersion:
        refs = tuple(
            Reference(str(r["name"]), str(r["subject"]), int(r["version"]))
            for r in value.get("references") or []
        )
        return cls(
            subject=str(value["subject"]),
            version=int(value["version"]),
            id=int(value["id"]),
            schema_type=str(value.get("schemaType") or AVRO),
            schema=str(value["schema"]),
            references=refs,
            deleted=bool(value.get("deleted", False)),
        )

    def to_record(self) -> dict:
        return {
            "subject": self.subject,
            "version": self.version,
            "id": self.id,
            "schemaType": self.schema_type,
            "references": [r.to_dict() for r in self.references],
            "schema": self.schema,
            "deleted": self.deleted,
        }


def parse_version(text: str) -> int:
    """A version path segment: "latest", -1 or 1..2^31-1 (else 42202, like VersionId)."""
    if text == "latest":
        return LATEST
    try:
        number = int(text)
    except ValueError:
        raise errors.invalid_version(text) from None
    if number == LATEST or 1 <= number <= MAX_VERSION:
        return number
    raise errors.invalid_version(text)


def check_subject(subject: str) -> None:
    if not subject or any(unicodedata.category(c) == "Cc" for c in subject):
        raise errors.invalid_subject(subject)


class SchemaRegistry:
    """All subjects of one registry. Thread-safe: REST handlers call in from worker threads."""

    def __init__(self, store=None, default_level: str = compatibility.DEFAULT_LEVEL) -> None:
        self.store = store if store is not None else storage.MemoryStore()
        self.default_level = default_level
        self._versions: dict[str, dict[int, SchemaVersion]] = {}
        self._ids: dict[int, SchemaVersion] = {}  # id → a version carrying that schema
        self._configs: dict[str | None, str] = {}
        self._modes: dict[str | None, str] = {}
        self._max_id = 0
        self._parsed: OrderedDict[tuple, ParsedSchema] = OrderedDict()
        self._lock = threading.RLock()  # state; held only briefly, never during a store write
        self._write_lock = threading.Lock()  # one change at a time: decide, write, apply

    # --- records -------------------------------------------------------------------------------

    def load(self) -> int:
        """Replay the store; returns how many records were read."""
        records = self.store.start()
        with self._lock:
            for key, value in records:
                try:
                    self.apply(key, value)
                except (KeyError, TypeError, ValueError) as e:
                    log.warning("skipping a malformed record %s: %s", key, e)
        return len(records)

    def apply(self, key: dict, value: dict | None) -> None:
        keytype = key.get("keytype")
        if keytype == "SCHEMA":
            self._apply_schema(str(key["subject"]), int(key["version"]), value)
        elif keytype == "CONFIG":
            self._apply_setting(self._configs, key.get("subject"), value, "compatibilityLevel")
        elif keytype == "MODE":
            self._apply_setting(self._modes, key.get("subject"), value, "mode")
        elif keytype == "DELETE_SUBJECT" and value is not None:
            subject, watermark = str(value["subject"]), int(value["version"])
            for version, sv in self._versions.get(subject, {}).items():
                if version <= watermark and not sv.deleted:
                    self._versions[subject][version] = replace(sv, deleted=True)
        # NOOP, CONTEXT, CLEAR_SUBJECT, ASSOC, ...: nothing this registry keeps.

    def _apply_schema(self, subject: str, version: int, value: dict | None) -> None:
        versions = self._versions.setdefault(subject, {})
        old = versions.pop(version, None)
        if value is not None:
            sv = SchemaVersion.from_record(value)
            versions[version] = sv
            self._ids.setdefault(sv.id, sv)
            self._max_id = max(self._max_id, sv.id)
        if not versions:
            del self._versions[subject]
        if old is not None and (value is None or old.id != int(value["id"])):
            self._reindex(old.id)

    def _reindex(self, schema_id: int) -> None:
        """After a version went away: another version with that id, or forget the id."""
        holder = next(
            (sv for vs in self._versions.values() for sv in vs.values() if sv.id == schema_id),
            None,
        )
        if holder is None:
            self._ids.pop(schema_id, None)
        else:
            self._ids[schema_id] = holder

    @staticmethod
    def _apply_setting(table: dict, subject, value: dict | None, field: str) -> None:
        if value is None or not value.get(field):
            table.pop(subject, None)
        else:
            table[subject] = str(value[field])

    def _write(self, records: list[storage.Record]) -> None:
        """Make records durable, then apply them. Caller holds the write lock."""
        try:
            self.store.append(records)
        except storage.StoreError as e:
            raise errors.store_error(f"Error while writing to the Kafka store: {e}") from None
        with self._lock:
            for key, value in records:
                self.apply(key, value)

    # --- parsing -------------------------------------------------------------------------------

    def parse(
        self, schema_type: str, schema: str, references: tuple[Reference, ...] = ()
    ) -> ParsedSchema:
        """A parsed schema (cached); raises InvalidSchema."""
        key = (schema_type, schema, references)
        with self._lock:
            cached = self._parsed.get(key)
            if cached is not None:
                self._parsed.move_to_end(key)
                return cached
        parsed = parse(schema_type, schema, references, self._resolve)
        with self._lock:
            self._parsed[key] = parsed
            while len(self._parsed) > 2000:
                self._parsed.popitem(last=False)
        return parsed

    def _resolve(self, ref: Reference) -> ParsedSchema:
        with self._lock:
            versions = self._versions.get(ref.subject, {})
            if ref.version == LATEST:
                live = [v for v, sv in versions.items() if not sv.deleted]
                sv = versions[max(live)] if live else None
            else:
                sv = versions.get(ref.version)
        if sv is None:
            raise InvalidSchema(
                f"Invalid schema, details: reference '{ref.name}' points at subject "
                f"'{ref.subject}' version {ref.version}, which does not exist"
            )
        return self.parse(sv.schema_type, sv.schema, sv.references)

    def parsed(self, sv: SchemaVersion) -> ParsedSchema | None:
        """A stored version's parsed schema, or None if it does not parse (foreign records)."""
        try:
            return self.parse(sv.schema_type, sv.schema, sv.references)
        except InvalidSchema as e:
            log.warning("stored schema id %d does not parse: %s", sv.id, e)
            return None

    def formatted(self, sv: SchemaVersion, fmt: str | None = None) -> str:
        """The stored schema in the requested format (the stored string if it does not parse)."""
        parsed = self.parsed(sv)
        return parsed.formatted(fmt) if parsed is not None else sv.schema

    def guid(self, sv: SchemaVersion) -> str | None:
        parsed = self.parsed(sv)
        return parsed.guid() if parsed is not None else None

    def _parse_request(self, schema_type: str, schema, references) -> ParsedSchema:
        if not isinstance(schema, str) or not schema.strip():
            raise errors.invalid_schema("Empty schema")
        try:
            return self.parse(schema_type, schema, tuple(references))
        except InvalidSchema as e:
            raise errors.invalid_schema(str(e)) from None

    # --- lookups -------------------------------------------------------------------------------

    def _live(self, subject: str, deleted: bool = False) -> dict[int, SchemaVersion]:
        versions = self._versions.get(subject, {})
        return {v: sv for v, sv in versions.items() if deleted or not sv.deleted}

    def _find_id(self, parsed: ParsedSchema, normalize: bool) -> int | None:
        """The id of a schema already registered that is the same as ``parsed``."""
        with self._lock:
            candidates = [
                sv
                for sv in self._ids.values()
                if sv.schema_type == parsed.schema_type and sv.references == parsed.references
            ]
        for sv in candidates:
            if sv.schema == parsed.raw:
                return sv.id
        identity = parsed.identity(normalize)
        for sv in candidates:
            existing = self.parsed(sv)
            if existing is not None and existing.identity(normalize) == identity:
                return sv.id
        return None

    def mode(self, subject: str | None) -> str:
        with self._lock:
            return self._modes.get(subject) or self._modes.get(None) or READWRITE

    def level(self, subject: str | None) -> str:
        with self._lock:
            return self._configs.get(subject) or self._configs.get(None) or self.default_level

    # --- register / lookup ---------------------------------------------------------------------

    def register(
        self,
        subject: str,
        schema: str,
        schema_type: str = AVRO,
        references: tuple[Reference, ...] = (),
        normalize: bool = False,
        schema_id: int | None = None,
        version: int | None = None,
    ) -> SchemaVersion:
        check_subject(subject)
        mode = self.mode(subject)
        if mode in ("READONLY", "READONLY_OVERRIDE"):
            raise errors.operation_not_permitted(
                f"Subject {subject} in context {CONTEXT} is in read-only mode"
            )
        importing = mode in ("IMPORT", "FORWARD")
        if schema_id is not None and not importing:
            raise errors.operation_not_permitted(
                f"Subject {subject} in context {CONTEXT} is not in import mode"
            )
        if schema_id is None and mode != READWRITE:
            raise errors.operation_not_permitted(
                f"Subject {subject} in context {CONTEXT} is not in read-write mode"
            )
        parsed = self._parse_request(schema_type, schema, references)
        with self._write_lock:
            with self._lock:
                all_versions = dict(self._versions.get(subject, {}))
            live = {v: sv for v, sv in all_versions.items() if not sv.deleted}
            next_version = max(all_versions, default=0) + 1
            existing = self._find_id(parsed, normalize)
            if existing is not None and schema_id in (None, existing):
                if version is None:
                    same = [sv for sv in live.values() if sv.id == existing]
                    if same:
                        return max(same, key=lambda sv: sv.version)
                schema_id = existing
            if not importing:
                level = self.level(subject)
                previous = [
                    (v, p) for v, sv in sorted(live.items()) if (p := self.parsed(sv)) is not None
                ]
                problems = compatibility.check(level, parsed, previous)
                if problems:
                    raise errors.incompatible_schema(
                        subject, [*problems, compatibility.summary(level)]
                    )
            if version is None:
                version = next_version
            elif version != next_version and not importing:
                raise errors.invalid_schema("Version is not one more than previous version")
            if schema_id is None:
                with self._lock:
                    schema_id = self._max_id + 1
            else:
                with self._lock:
                    holder = self._ids.get(schema_id)
                if holder is not None and schema_id != existing:
                    raise errors.RegistryError(
                        422, 42207, f"Overwrite new schema with id {schema_id} is not permitted."
                    )
            sv = SchemaVersion(subject, version, schema_id, schema_type, schema, parsed.references)
            records: list[storage.Record] = [
                # A soft-deleted earlier version of this very schema makes way for the new one.
                (storage.schema_key(subject, old.version), None)
                for old in all_versions.values()
                if old.deleted
                and old.id == schema_id
                and old.version < version
                and not self._is_referenced(subject, old.version, include_deleted=True)
            ]
            records.append((storage.schema_key(subject, version), sv.to_record()))
            self._write(records)
            log.info(
                "registered %s version %d (id %d, %s)", subject, version, schema_id, schema_type
            )
            return sv

    def lookup_schema(
        self,
        subject: str,
        schema: str,
        schema_type: str = AVRO,
        references: tuple[Reference, ...] = (),
        normalize: bool = False,
        deleted: bool = False,
    ) -> SchemaVersion:
        parsed = self._parse_request(schema_type, schema, references)
        with self._lock:
            versions = self._live(subject, deleted)
        if not versions:
            raise errors.subject_not_found(subject)
        identity = None
        for _v, sv in sorted(versions.items(), reverse=True):
            if sv.schema_type != parsed.schema_type or sv.references != parsed.references:
                continue
            if sv.schema == parsed.raw:
                return sv
            existing = self.parsed(sv)
            identity = identity if identity is not None else parsed.identity(normalize)
            if existing is not None and existing.identity(normalize) == identity:
                return sv
        raise errors.schema_not_found()

    # --- reads ---------------------------------------------------------------------------------

    def get_schema_by_id(self, schema_id: int) -> SchemaVersion:
        with self._lock:
            sv = self._ids.get(schema_id)
        if sv is None:
            raise errors.schema_not_found(schema_id)
        return sv

    def get_schema_by_guid(self, guid: str) -> SchemaVersion:
        with self._lock:
            holders = list(self._ids.values())
        for sv in holders:
            parsed = self.parsed(sv)
            if parsed is not None and parsed.guid() == guid:
                return sv
        raise errors.schema_not_found(guid)

    def subject_versions_by_id(
        self, schema_id: int, deleted: bool = False
    ) -> list[tuple[str, int]]:
        with self._lock:
            found = sorted(
                (sv.subject, sv.version)
                for vs in self._versions.values()
                for sv in vs.values()
                if sv.id == schema_id and (deleted or not sv.deleted)
            )
        if not found:
            raise errors.schema_not_found(schema_id)
        return found

    def list_subjects(
        self, prefix: str = "", deleted: bool = False, deleted_only: bool = False
    ) -> list[str]:
        with self._lock:
            out = []
            for subject, versions in self._versions.items():
                if not subject.startswith(prefix):
                    continue
                live = any(not sv.deleted for sv in versions.values())
                if (deleted_only and not live) or (not deleted_only and (live or deleted)):
                    out.append(subject)
            return sorted(out)

    def list_versions(
        self, subject: str, deleted: bool = False, deleted_only: bool = False
    ) -> list[int]:
        with self._lock:
            versions = self._versions.get(subject, {})
            if deleted_only:
                found = [v for v, sv in versions.items() if sv.deleted]
            else:
                found = [v for v, sv in versions.items() if deleted or not sv.deleted]
        if not found and not (deleted_only and versions):
            raise errors.subject_not_found(subject)
        return sorted(found)

    def list_schemas(
        self, prefix: str = "", deleted: bool = False, latest_only: bool = False
    ) -> list[SchemaVersion]:
        out = []
        with self._lock:
            for subject in sorted(self._versions):
                if not subject.startswith(prefix):
                    continue
                versions = sorted(self._live(subject, deleted).values(), key=lambda s: s.version)
                out.extend(versions[-1:] if latest_only else versions)
        return out

    def get_version(self, subject: str, version: int, deleted: bool = False) -> SchemaVersion:
        with self._lock:
            versions = self._live(subject, deleted)
            if version == LATEST:
                sv = versions[max(versions)] if versions else None
            else:
                sv = versions.get(version)
            if sv is None:
                if not versions:
                    raise errors.subject_not_found(subject)
                raise errors.version_not_found(version)
            return sv

    def _is_referenced(self, subject: str, version: int, include_deleted: bool = False) -> bool:
        return bool(self.referenced_by(subject, version, include_deleted, check_exists=False))

    def referenced_by(
        self, subject: str, version: int, deleted: bool = False, check_exists: bool = True
    ) -> list[int]:
        """Ids of schemas whose references point at this subject's version."""
        if check_exists:
            version = self.get_version(subject, version, deleted=True).version
        with self._lock:
            latest = max(self._live(subject), default=None)
            ids = {
                sv.id
                for vs in self._versions.values()
                for sv in vs.values()
                if (deleted or not sv.deleted)
                and any(
                    r.subject == subject
                    and (r.version == version or (r.version == LATEST and version == latest))
                    for r in sv.references
                )
            }
        return sorted(ids)

    # --- deletes -------------------------------------------------------------------------------

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        self._check_writable(subject)
        with self._write_lock:
            with self._lock:
                versions = dict(self._versions.get(subject, {}))
            if not versions:
                raise errors.subject_not_found(subject)
            live = sorted(v for v, sv in versions.items() if not sv.deleted)
            if not permanent and not live:
                raise errors.subject_soft_deleted(subject)
            doomed = sorted(versions) if permanent else live
            for version in doomed:
                users = self._referencing_subjects(subject, version, include_deleted=permanent)
                if users - {subject}:
                    raise errors.reference_exists(_key_text(subject, version))
                if permanent and not versions[version].deleted:
                    raise errors.subject_not_soft_deleted(subject)
            if permanent:
                records = [(storage.schema_key(subject, v), None) for v in reversed(doomed)]
                records += self._settings_cleanup(subject)
            else:
                value = {"subject": subject, "version": max(doomed)}
                records = [(storage.delete_subject_key(subject), value)]
            self._write(records)
            log.info(
                "%s deleted subject %s versions %s",
                "hard" if permanent else "soft",
                subject,
                doomed,
            )
            return doomed

    def delete_version(self, subject: str, version: int, permanent: bool = False) -> int:
        self._check_writable(subject)
        with self._write_lock:
            with self._lock:
                versions = dict(self._versions.get(subject, {}))
            if not versions:
                raise errors.subject_not_found(subject)
            if version == LATEST:
                live = [v for v, sv in versions.items() if not sv.deleted]
                if not live:
                    raise errors.version_not_found(version)
                version = max(live)
            sv = versions.get(version)
            if sv is None:
                raise errors.version_not_found(version)
            if not permanent and sv.deleted:
                raise errors.version_soft_deleted(subject, version)
            if self._is_referenced(subject, version, include_deleted=permanent):
                raise errors.reference_exists(_key_text(subject, version))
            if permanent and not sv.deleted:
                raise errors.version_not_soft_deleted(subject, version)
            if permanent:
                records = [(storage.schema_key(subject, version), None)]
                if set(versions) == {version}:
                    records += self._settings_cleanup(subject)
            else:
                record = replace(sv, deleted=True).to_record()
                records = [(storage.schema_key(subject, version), record)]
            self._write(records)
            return version

    def _referencing_subjects(self, subject: str, version: int, include_deleted: bool) -> set:
        with self._lock:
            return {
                sv.subject
                for vs in self._versions.values()
                for sv in vs.values()
                if (include_deleted or not sv.deleted)
                and any(
                    r.subject == subject and r.version in (version, LATEST) for r in sv.references
                )
            }

    def _settings_cleanup(self, subject: str) -> list[storage.Record]:
        with self._lock:
            records: list[storage.Record] = []
            if subject in self._configs:
                records.append((storage.config_key(subject), None))
            if subject in self._modes:
                records.append((storage.mode_key(subject), None))
            return records

    def _check_writable(self, subject: str) -> None:
        if self.mode(subject) in ("READONLY", "READONLY_OVERRIDE"):
            raise errors.operation_not_permitted(
                f"Subject {subject} in context {CONTEXT} is in read-only mode"
            )

    # --- compatibility -------------------------------------------------------------------------

    def test_compatibility(
        self,
        subject: str,
        version: int | None,
        schema: str,
        schema_type: str = AVRO,
        references: tuple[Reference, ...] = (),
        verbose: bool = False,
    ) -> list[str]:
        """Messages explaining why ``schema`` may not follow the subject's versions (``version``
        alone, or all live ones when None); empty when compatible."""
        with self._lock:
            live = self._live(subject)
        if version is None:
            previous = sorted(live.items())
        elif version == LATEST:
            previous = [max(live.items())] if live else []
        elif version in live:
            previous = [(version, live[version])]
        else:
            raise errors.version_not_found(version)
        try:
            parsed = self._parse_request(schema_type, schema, references)
        except errors.RegistryError as e:
            if verbose and e.error_code == 42201:
                return [e.message]
            raise
        level = self.level(subject)
        old = [(v, p) for v, sv in previous if (p := self.parsed(sv)) is not None]
        problems = compatibility.check(level, parsed, old)
        return [*problems, compatibility.summary(level)] if problems else []

    # --- config and mode -----------------------------------------------------------------------

    def get_config(self, subject: str | None, default_to_global: bool = False) -> str:
        with self._lock:
            level = self._configs.get(subject)
        if level is not None:
            return level
        if subject is None or default_to_global:
            return self.level(subject)
        raise errors.subject_compatibility_not_configured(subject)

    def update_config(self, subject: str | None, level: object) -> str:
        parsed = compatibility.parse_level(level)
        if parsed is None:
            raise errors.invalid_compatibility_level()
        if subject is not None:
            check_subject(subject)
        value = {"compatibilityLevel": parsed}
        if subject is not None:
            value = {"subject": subject, **value}
        with self._write_lock:
            self._write([(storage.config_key(subject), value)])
        return parsed

    def delete_config(self, subject: str | None) -> str:
        with self._write_lock:
            with self._lock:
                old = self._configs.get(subject)
            if old is None:
                if subject is not None:
                    raise errors.subject_not_found(subject)
                return self.default_level
            self._write([(storage.config_key(subject), None)])
            return old

    def get_mode(self, subject: str | None, default_to_global: bool = False) -> str:
        with self._lock:
            mode = self._modes.get(subject)
        if mode is not None:
            return mode
        if subject is None or default_to_global:
            return self.mode(subject)
        raise errors.subject_mode_not_configured(subject)

    def update_mode(self, subject: str | None, mode: object, force: bool = False) -> str:
        if not isinstance(mode, str) or mode.upper() not in MODES:
            raise errors.invalid_mode()
        mode = mode.upper()
        with self._write_lock:
            if mode == "IMPORT" and self.mode(subject) != "IMPORT" and not force:
                scope = [subject] if subject is not None else list(self._versions)
                if any(self._live(s) for s in scope):
                    raise errors.operation_not_permitted(
                        "Cannot import since found existing subjects"
                    )
            value = {"mode": mode} if subject is None else {"subject": subject, "mode": mode}
            self._write([(storage.mode_key(subject), value)])
        return mode

    def delete_mode(self, subject: str) -> str:
        with self._write_lock:
            with self._lock:
                old = self._modes.get(subject)
            if old is None:
                raise errors.subject_not_found(subject)
            self._write([(storage.mode_key(subject), None)])
            return old


def _key_text(subject: str, version: int) -> str:
    # SchemaKey.toString(), which Confluent puts in "references exist" messages.
    return f"{{magic=1,keytype=SCHEMA,subject={subject},version={version}}}"
