"""The statement runner's parsing (streamlab/pipeline.py) and the deployable zip."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from lambda_fn.package import HANDLER, PackageError, build
from streamlab.pipeline import KSQL_DIR, sources_of, split_statements, sql_files, target_of

SPLITS = [
    ("SHOW STREAMS;", ["SHOW STREAMS;"]),
    ("-- c; d\nSHOW STREAMS", ["SHOW STREAMS;"]),
    ("SELECT 'a;b' FROM T; SHOW TABLES;", ["SELECT 'a;b' FROM T;", "SHOW TABLES;"]),
    ("SELECT 'it''s;' FROM T;", ["SELECT 'it''s;' FROM T;"]),
    ("SELECT `x;y` FROM T; /* ; */", ["SELECT `x;y` FROM T;"]),
    ("SELECT 1\n  -- tail; comment\nFROM T;", ["SELECT 1\nFROM T;"]),
    ("  ;; ", []),
]


@pytest.mark.parametrize(("text", "statements"), SPLITS)
def test_split_statements(text, statements):
    assert split_statements(text) == statements


TARGETS = [
    ("CREATE STREAM IF NOT EXISTS S (A INT) WITH (KAFKA_TOPIC='s');", ("STREAM", "S")),
    ("create table if not exists users_t as select * from x;", ("TABLE", "USERS_T")),
    ("CREATE OR REPLACE STREAM `Mixed` AS SELECT * FROM A;", ("STREAM", "Mixed")),
    ("CREATE SOURCE TABLE T (K INT PRIMARY KEY) WITH (KAFKA_TOPIC='t');", ("TABLE", "T")),
    ("SHOW STREAMS;", None),
]


@pytest.mark.parametrize(("stmt", "target"), TARGETS)
def test_target_of(stmt, target):
    assert target_of(stmt) == target


def test_sources_of_join():
    sql = "SELECT * FROM STOCKTRADE S LEFT JOIN users U ON S.USERID = U.USERID EMIT CHANGES;"
    assert sources_of(sql) == {"STOCKTRADE", "USERS"}


def test_ksql_folder_every_statement_is_idempotent_and_ordered():
    files = sql_files(KSQL_DIR)
    assert [f.name for f in files] == [
        "01_stocktrade.sql", "02_users.sql", "03_user_trades.sql", "04_trade_settlement.sql",
        "05_windowed_counts.sql", "06_trades_per_minute.sql",
    ]  # fmt: skip
    made: set[str] = set()
    for path in [*files, *sql_files(KSQL_DIR / "lessons")]:
        statements = split_statements(path.read_text())
        assert statements, path
        for stmt in statements:
            assert "IF NOT EXISTS" in stmt.upper(), (path.name, stmt)
            kind_name = target_of(stmt)
            assert kind_name is not None
            # every source exists by the time the statement runs (files run in name order)
            assert sources_of(stmt) <= made, (path.name, sources_of(stmt) - made)
            made.add(kind_name[1])


def test_zip_without_dependencies(tmp_path: Path):
    result = build(tmp_path / "f.zip", deps=False)
    names = zipfile.ZipFile(result.path).namelist()
    module = HANDLER.rsplit(".", 1)[0].replace(".", "/") + ".py"
    assert module in names
    for needed in ("lambda_fn/__init__.py", "lambda_fn/app.py", "lambda_fn/proto/__init__.py",
                   "lambda_fn/proto/trade_settlement_pb2.py"):  # fmt: skip
        assert needed in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "add them before deploying" in result.note  # a code-only zip fails everywhere


def test_zip_bad_arch(tmp_path: Path):
    with pytest.raises(PackageError, match="arch must be one of"):
        build(tmp_path / "f.zip", arch="sparc")


class FakeKsql:
    """Answers /ksql like the engine: SHOW lists, CREATE adds, PROTOBUF is unsupported."""

    def __init__(self, existing=(), fail_on: str | None = None) -> None:
        self.names = set(existing)
        self.sent: list[str] = []
        self.fail_on = fail_on

    def execute(self, sql, properties=None):
        from streamlab.ksql.client import KsqlError

        if sql.startswith("SHOW "):
            key = sql.split()[1].rstrip(";").lower()
            kind = key[:-1].upper()
            return [{key: [{"name": n, "type": kind} for n in sorted(self.names)]}]
        self.sent.append(sql)
        assert properties == {"auto.offset.reset": "earliest"}
        if "PROTOBUF" in sql:
            raise KsqlError(
                "The 'PROTOBUF' format is not supported yet by this engine.\nStatement: x", 40001
            )
        if self.fail_on and self.fail_on in sql:
            raise KsqlError("line 1:1: Syntax Error\nStatement: x", 40001)
        self.names.add(target_of(sql)[1])
        return [{"commandStatus": {"status": "SUCCESS"}}]


def test_apply_creates_reports_unsupported_and_skips_dependents():
    from streamlab.pipeline import apply

    client = FakeKsql(existing={"STOCKTRADE"})
    result = apply(KSQL_DIR, client)
    status = {o.target: o.status for o in result.outcomes}
    assert status == {
        "STOCKTRADE": "exists",
        "USERS": "created",
        "USER_TRADES": "created",
        "TRADE_SETTLEMENT": "unsupported",
        "COMPLETED_PER_MINUTE": "skipped",
        "PENDING_PER_MINUTE": "skipped",
        "FLAGGED_PER_MINUTE": "skipped",
        "REJECTED_PER_MINUTE": "skipped",
        "TRADES_PER_MINUTE": "created",
    }
    assert result.ok
    unsupported = next(o for o in result.outcomes if o.status == "unsupported")
    assert unsupported.message == (
        "not supported on this engine: The 'PROTOBUF' format is not supported yet by this engine."
    )
    assert (
        "needs TRADE_SETTLEMENT"
        in next(o for o in result.outcomes if o.status == "skipped").message
    )
    assert not any("STOCKTRADE (" in s for s in client.sent)  # existing: not even sent
    # a second run sends only what could not be created
    client.sent.clear()
    again = apply(KSQL_DIR, client)
    assert [target_of(s)[1] for s in client.sent] == ["TRADE_SETTLEMENT"]
    assert {o.status for o in again.outcomes} == {"exists", "unsupported", "skipped"}


def test_apply_stops_at_an_error():
    from streamlab.pipeline import apply

    client = FakeKsql(fail_on="USER_TRADES")
    result = apply(KSQL_DIR, client)
    assert not result.ok
    assert [o.status for o in result.outcomes] == ["created", "created", "error"]
    assert result.outcomes[-1].message == "line 1:1: Syntax Error"


def test_apply_empty_folder(tmp_path):
    from streamlab.pipeline import PipelineError, apply

    with pytest.raises(PipelineError, match=r"no \*\.sql files"):
        apply(tmp_path, FakeKsql())


class FakeRegistry:
    """``get_schema(id, fmt="serialized")`` as confluent-kafka's client answers it."""

    def __init__(self, schemas: dict[int, str]) -> None:
        self.schemas = schemas
        self.asked: list[int] = []

    def get_schema(self, schema_id: int, fmt: str | None = None):
        from types import SimpleNamespace

        assert fmt == "serialized"
        self.asked.append(schema_id)
        return SimpleNamespace(schema_str=self.schemas[schema_id])


def test_table_values_decodes_json_and_confluent_protobuf():
    import base64

    from lambda_fn.proto.trade_settlement_pb2 import DESCRIPTOR, TradeSettlement
    from streamlab.pipeline import TableValues

    registry = FakeRegistry({7: base64.b64encode(DESCRIPTOR.serialized_pb).decode()})
    decode = TableValues()
    decode.client = registry
    message = TradeSettlement(symbol="ACME", amount=2.5, disposition="Pending")
    framed = b"\x00" + (7).to_bytes(4, "big") + b"\x00" + message.SerializeToString()
    decoded = decode(framed)
    assert (decoded["symbol"], decoded["amount"], decoded["disposition"]) == (
        "ACME",
        2.5,
        "Pending",
    )
    assert decode(framed)["symbol"] == "ACME" and registry.asked == [7]  # the class is cached
    # message indexes [0] written in full: count 1 (zig-zag 2), index 0
    full = b"\x00" + (7).to_bytes(4, "big") + b"\x02\x00" + message.SerializeToString()
    assert decode(full)["symbol"] == "ACME"
    assert decode(b'{"NUM_TRADES": 3}') == {"NUM_TRADES": 3}
    assert decode(None) is None
