"""The Python client and the %%ksql magic against the server."""

from __future__ import annotations

import pytest

from streamlab.ksql.client import KsqlClient, KsqlError
from streamlab.ksql.magic import KsqlErrorView, Table, run_cell
from tests.ksql_server._helpers import produce

EARLIEST = {"auto.offset.reset": "earliest"}


@pytest.fixture(scope="module")
def client(kafka, ksql):
    client = KsqlClient(ksql.url)
    client.execute(
        "CREATE STREAM TEMPS (SENSOR STRING KEY, C DOUBLE) WITH (KAFKA_TOPIC='temps', "
        "VALUE_FORMAT='JSON', PARTITIONS=1)"
    )
    produce(kafka.bootstrap, "temps", [(b"s1", b'{"C":20.5}'), (b"s2", b'{"C":31.0}')])
    return client


def test_execute_returns_entities(client):
    [streams] = client.execute("SHOW STREAMS;")
    assert "TEMPS" in {s["name"] for s in streams["streams"]}
    assert client.info()["ksqlServiceId"] == "default_"


def test_execute_raises_ksql_errors(client):
    with pytest.raises(KsqlError) as caught:
        client.execute("DROP STREAM NOPE")
    assert caught.value.error_code == 40001
    assert "NOPE" in caught.value.message


def test_query_yields_dicts_and_stops_at_limit(client):
    rows = list(client.query("SELECT * FROM TEMPS EMIT CHANGES", limit=2, properties=EARLIEST))
    assert rows == [{"SENSOR": "s1", "C": 20.5}, {"SENSOR": "s2", "C": 31.0}]


def test_pull_query_and_stream(client):
    stream = client.stream("SELECT SENSOR FROM TEMPS WHERE C > 30")
    assert stream.columns == ["SENSOR"]
    assert list(stream) == [["s2"]]


def test_push_query_without_rows_stops_after_timeout(client):
    rows = list(client.query("SELECT * FROM TEMPS EMIT CHANGES", timeout=1.0))
    assert rows == []  # latest: nothing new arrived


def test_query_error(client):
    with pytest.raises(KsqlError) as caught:
        list(client.query("SELECT * FROM NOPE EMIT CHANGES"))
    assert caught.value.error_code == 40001


def test_magic_shows_tables_and_errors(client, ksql):
    line = f"--url {ksql.url} --earliest --limit 2"
    [table] = run_cell(line, "SELECT * FROM TEMPS EMIT CHANGES;")
    assert isinstance(table, Table)  # pandas is not installed here
    assert table.columns == ["SENSOR", "C"]
    assert table.rows == [["s1", 20.5], ["s2", 31.0]]
    assert "<th>SENSOR</th>" in table._repr_html_()
    [listing] = run_cell(f"--url {ksql.url}", "SHOW STREAMS;")
    assert "TEMPS" in repr(listing)
    [error] = run_cell(f"--url {ksql.url}", "DESCRIBE NOPE;")
    assert isinstance(error, KsqlErrorView)
    assert repr(error).startswith("ksqlDB error 40001: Could not find STREAM/TABLE 'NOPE'")


def test_magic_in_ipython(client, ksql, capsys):
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "streamlab.ksql.magic")
    shell.run_line_magic("ksql_url", ksql.url)
    shell.run_cell_magic("ksql", "", "SHOW STREAMS;")
    assert "TEMPS" in capsys.readouterr().out


def test_magic_set_applies_to_the_following_query(client, ksql):
    cell = "SET 'auto.offset.reset'='earliest';\nSELECT C FROM TEMPS EMIT CHANGES LIMIT 1;"
    [table] = run_cell(f"--url {ksql.url}", cell)
    assert table.rows == [[20.5]]


def test_insert_rows(client):
    client.execute(
        "CREATE STREAM NOTES (ID INT KEY, TXT STRING) WITH (KAFKA_TOPIC='notes', "
        "VALUE_FORMAT='JSON', PARTITIONS=1)"
    )
    acks = client.insert("NOTES", [{"ID": 1, "TXT": "a"}, {"ID": 2, "TXT": "b"}])
    assert acks == [{"status": "ok", "seq": 0}, {"status": "ok", "seq": 1}]
    rows = list(client.query("SELECT * FROM NOTES"))
    assert rows == [{"ID": 1, "TXT": "a"}, {"ID": 2, "TXT": "b"}]
    with pytest.raises(KsqlError):
        client.insert("NOTES", [{"NOPE": 1}])
