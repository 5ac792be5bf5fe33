"""No secret is printed, logged or written anywhere but the two git-ignored, owner-only files."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from setup.cloud import __main__ as cli
from tests.live.conftest import Live

ROOT = Path(__file__).resolve().parents[2]


def secrets_of(live: Live) -> list[str]:
    return [live.fake.secret, *live.fake.issued_secrets]


def test_secrets_stay_in_the_state_and_profile_files(
    live: Live, tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    # Everything at INFO, our own code and the HTTP client at DEBUG. (botocore's DEBUG log dumps
    # request bodies, secrets included: never turn it on against a real account.)
    caplog.set_level(logging.INFO)
    for name in ("setup", "streamlab", "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)

    def factory(settings, state, profile):
        return live.deployment(settings)

    assert cli.main(["up", "--yes", "--name", "wk-test01"], deployment_factory=factory) == 0
    assert cli.main(["status"], deployment_factory=factory) == 0
    assert len(secrets_of(live)) == 4  # the Cloud key's; the Kafka, registry and ksqlDB keys'
    up = capsys.readouterr()
    printed = "\n".join([up.out, up.err, live.output(), caplog.text])
    for secret in secrets_of(live):
        assert secret not in printed

    holders = {
        p for p in tmp_path.rglob("*") if p.is_file()
        and any(s.encode() in p.read_bytes() for s in secrets_of(live))
    }  # fmt: skip
    assert holders == {live.state_path, live.profile_path}
    for path in holders:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.is_relative_to(live.home)
    # The lab home (.streamlab/) is what the repository ignores.
    assert ".streamlab/" in (ROOT / ".gitignore").read_text().splitlines()

    caplog.clear()
    assert cli.main(["down", "--yes"], deployment_factory=factory) == 0
    down = capsys.readouterr()
    for secret in secrets_of(live):
        assert secret not in down.out + down.err + caplog.text + live.output()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_an_error_message_carries_no_secret(live: Live) -> None:
    # The connector call carries the Kafka secret in its body; its failure must not echo it.
    live.fake.fail("POST", r"/connectors$", 400, times=1)
    with pytest.raises(Exception) as err:
        live.deployment().up()
    assert len(secrets_of(live)) == 3
    for secret in secrets_of(live):
        assert secret not in str(err.value)
