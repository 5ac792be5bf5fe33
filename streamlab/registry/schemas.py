"""Parsed schemas: one class per schema type, all answering the same few questions.

``parse()`` turns what a client registered (type, schema string, references) into a
:class:`ParsedSchema` that knows its identity (for "the same schema gets the same id"), how to
print itself in a requested ``format``, and how it differs from an earlier version. Models keep
the registered string; everything that needs understanding goes through here.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from streamlab.registry import jsonschema_diff, jsonschema_load, protobuf, protobuf_diff

PROTOBUF = "PROTOBUF"
JSON = "JSON"
AVRO = "AVRO"
SCHEMA_TYPES = (JSON, PROTOBUF)  # what GET /schemas/types answers; Avro is not implemented


class InvalidSchema(ValueError):
    """The schema does not parse; the message is Confluent's "Invalid schema ..." text."""


@dataclass(frozen=True)
class Reference:
    """A schema's import of another subject's version (``version`` -1 means the latest)."""

    name: str
    subject: str
    version: int

    def to_dict(self) -> dict:
        return {"name": self.name, "subject": self.subject, "version": self.version}


class ParsedSchema:
    schema_type: str
    raw: str
    references: tuple[Reference, ...]

    def identity(self, normalize: bool = False) -> bytes:
        """Bytes equal for two registrations Confluent would call the same schema."""
        raise NotImplementedError

    def formatted(self, fmt: str | None) -> str:
        """The schema string to answer for ``?format=`` (None or "" = the default form)."""
        return self.raw

    def canonical(self) -> str:
        """The schema as the registry prints it inside error messages."""
        return self.raw

    def differences(self, previous: ParsedSchema) -> list[str]:
        """Confluent's ``isBackwardCompatible(previous)``: one entry per change that stops a
        reader using this schema from reading data written with ``previous``; each entry has
        two ``%s`` for the reader's and the writer's names."""
        raise NotImplementedError

    def guid(self) -> str:
        digest = hashlib.md5(
            self.schema_type.encode() + b"\0" + self.identity(), usedforsecurity=False
        )
        refs = json.dumps([r.to_dict() for r in self.references]).encode()
        digest.update(refs)
        return str(uuid.UUID(bytes=digest.digest()))


# A resolver gives the parsed schema a reference points at (or raises InvalidSchema).
Resolver = Callable[[Reference], ParsedSchema]


def parse(
    schema_type: str, schema: str, references: Sequence[Reference], resolve: Resolver
) -> ParsedSchema:
    if schema_type == PROTOBUF:
        return ProtobufSchema.parse(schema, tuple(references), resolve)
    if schema_type == JSON:
        return JsonSchema.parse(schema, tuple(references), resolve)
    raise InvalidSchema(f"Invalid schema type {schema_type}")


# --- Protobuf ----------------------------------------------------------------------------------


class ProtobufSchema(ParsedSchema):
    schema_type = PROTOBUF

    def __init__(self, raw: str, fdp, references, imports: dict, direct: list) -> None:
        self.raw = raw
        self.fdp = fdp
        self.references = references
        self.imports = imports  # import name → FileDescriptorProto, transitively
        self.direct = direct  # [(FileDescriptorProto, (subject, version))] for the diff
        self.serialized = protobuf.serialized_form(raw)  # None when registered as text
        self._text: str | None = None

    @classmethod
    def parse(cls, raw: str, references, resolve: Resolver) -> ProtobufSchema:
        imports: dict = {}
        direct = []
        for ref in references:
            target = resolve(ref)
            if not isinstance(target, ProtobufSchema):
                raise InvalidSchema(
                    f"Invalid schema of type PROTOBUF, details: reference '{ref.name}' is a "
                    f"{target.schema_type} schema"
                )
            imports.update(target.imports)
            imports[ref.name] = target.fdp
            direct.append((target.fdp, (ref.subject, ref.version)))
        try:
            fdp = protobuf.parse(raw, imports)
        except protobuf.ProtobufError as e:
            raise InvalidSchema(f"Invalid schema of type PROTOBUF, details: {e}") from None
        return cls(raw, fdp, references, imports, direct)

    def identity(self, normalize: bool = False) -> bytes:
        return protobuf.canonical_bytes(self.fdp, normalize)

    def formatted(self, fmt: str | None) -> str:
        if fmt == "serialized":
            # A registered descriptor goes back byte for byte; text gets compiled.
            return self.serialized or protobuf.to_serialized(self.fdp)
        if self._text is None:
            self._text = self.raw if self.serialized is None else protobuf.to_text(self.fdp)
        return self._text

    def canonical(self) -> str:
        return protobuf.to_text(self.fdp)

    def diff_file(self) -> protobuf_diff.ProtoFile:
        refs = {id(fdp): ref for fdp, ref in self.direct}
        deps = tuple((fdp, refs.get(id(fdp))) for fdp in self.imports.values())
        return protobuf_diff.ProtoFile(self.fdp, deps)

    def differences(self, previous: ParsedSchema) -> list[str]:
        if not isinstance(previous, ProtobufSchema):
            return ["Incompatible because of different schema type"]
        found = protobuf_diff.compare(previous.diff_file(), self.diff_file())
        return [d.error() for d in found if not d.compatible]


# --- JSON Schema -------------------------------------------------------------------------------


class JsonSchema(ParsedSchema):
    schema_type = JSON

    def __init__(self, raw: str, document: Any, references, documents: dict) -> None:
        self.raw = raw
        self.document = document
        self.references = references
        self.documents = documents  # reference name → referenced document, transitively

    @classmethod
    def parse(cls, raw: str, references, resolve: Resolver) -> JsonSchema:
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise InvalidSchema(f"Invalid schema of type JSON, details: {e}") from None
        if not isinstance(document, dict | bool):
            raise InvalidSchema(
                "Invalid schema of type JSON, details: a JSON Schema is an object or a boolean"
            )
        documents: dict = {}
        for ref in references:
            target = resolve(ref)
            if not isinstance(target, JsonSchema):
                raise InvalidSchema(
                    f"Invalid schema of type JSON, details: reference '{ref.name}' is a "
                    f"{target.schema_type} schema"
                )
            documents.update(target.documents)
            documents[ref.name] = target.document
        try:
            if isinstance(document, dict):
                validator = jsonschema.validators.validator_for(
                    document, default=jsonschema.Draft7Validator
                )
                validator.check_schema(document)
            jsonschema_load.Loader(document, documents).node(document)
        except jsonschema.exceptions.SchemaError as e:
            path = "/".join(str(p) for p in e.absolute_path)
            where = f" at '#/{path}'" if path else ""
            raise InvalidSchema(
                f"Invalid schema of type JSON, details: {e.message}{where}"
            ) from None
        except (ValueError, RecursionError) as e:
            raise InvalidSchema(f"Invalid schema of type JSON, details: {e}") from None
        return cls(raw, document, references, documents)

    def identity(self, normalize: bool = False) -> bytes:
        # Like Jackson's compact form: key order kept (Confluent's canonical string) unless
        # the client asked to normalize.
        text = json.dumps(
            self.document, separators=(",", ":"), ensure_ascii=False, sort_keys=normalize
        )
        return text.encode()

    def canonical(self) -> str:
        return self.identity().decode()

    def node(self) -> jsonschema_load.Node:
        return jsonschema_load.Loader(self.document, self.documents).node(self.document)

    def differences(self, previous: ParsedSchema) -> list[str]:
        if not isinstance(previous, JsonSchema):
            return ["Incompatible because of different schema type"]
        found = jsonschema_diff.compare(previous.node(), self.node())
        return [d.error() for d in found if not d.compatible]
