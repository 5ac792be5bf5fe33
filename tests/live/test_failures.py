"""Bad input and failures: wrong or missing credentials, quota errors, a region without
ksqlDB, a half-finished previous run, a teardown that cannot finish. Each ends with a message
that says what exists and what to do next."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from setup.cloud.deploy import DeployError
from setup.cloud.settings import CloudSettings, cloud_credentials
from streamlab.config import ConfigError
from tests.live.conftest import Live


def test_missing_cloud_key_names_both_variables() -> None:
    with pytest.raises(ConfigError) as err:
        cloud_credentials({})
    message = str(err.value)
    assert message.startswith("no Confluent Cloud API key: set CONFLUENT_CLOUD_API_KEY and "
                              "CONFLUENT_CLOUD_API_SECRET to a Cloud API key")  # fmt: skip
    assert "never put it in a file of the repository" in message
    with pytest.raises(ConfigError, match="set CONFLUENT_CLOUD_API_SECRET to"):
        cloud_credentials({"CONFLUENT_CLOUD_API_KEY": "K"})


def test_wrong_cloud_key_stops_before_creating_anything(live: Live) -> None:
    d = live.deployment(cloud=live.cloud(secret="wrong"))
    with pytest.raises(DeployError) as err:
        d.up()
    assert str(err.value).startswith("Confluent Cloud refused the API key (401): use a Cloud API")
    assert [m for m, _ in live.fake.calls] == ["GET"]
    assert not live.state_path.exists()


class NoCredentialsSts:
    def get_caller_identity(self):
        raise NoCredentialsError()


class RefusingSts:
    def get_caller_identity(self):
        error = {"Error": {"Code": "InvalidClientTokenId", "Message": "invalid"}}
        raise ClientError(error, "GetCallerIdentity")


@pytest.mark.parametrize(
    ("sts", "message"),
    [
        (NoCredentialsSts(), "no AWS credentials: run `aws configure`, set AWS_PROFILE"),
        (RefusingSts(), "AWS refused the credentials (InvalidClientTokenId)"),
    ],
)
def test_aws_credentials_are_checked_before_anything_is_created(
    live: Live, sts: object, message: str
) -> None:
    live.clients.sts = sts
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        live.deployment().up()
    assert live.fake.created("/") == 0


def test_unknown_region_is_refused_offline() -> None:
    with pytest.raises(ConfigError) as err:
        CloudSettings(name="wk-x", region="mars-north-1").validate()
    assert "region 'mars-north-1' has no Confluent Cloud ksqlDB" in str(err.value)
    assert "us-east-1" in str(err.value)  # the choices are listed


def test_a_region_the_api_refuses_for_ksqldb(live: Live) -> None:
    live.fake.ksql_regions = {"eu-west-1"}
    with pytest.raises(DeployError) as err:
        live.deployment().up()
    message = str(err.value)
    assert "region us-east-1 has no Confluent Cloud ksqlDB for this organization" in message
    assert "exists now" in message and "kafka_cluster lkc-" in message
    assert "`python -m setup.cloud down` removes everything listed" in message
    live.deployment().down()
    assert live.fake.leftovers() == {}


def test_quota_429_is_retried_after_the_servers_delay(live: Live) -> None:
    live.fake.fail("POST", r"^/cmk/v2/clusters$", 429, times=2, headers={"Retry-After": "7"})
    live.deployment().up()
    assert live.clock.slept.count(7.0) == 2
    assert len(live.fake.clusters) == 1


def test_quota_that_persists_says_what_to_do(live: Live) -> None:
    live.fake.fail("POST", r"^/ksqldbcm/v2/clusters$", 429, times=100)
    with pytest.raises(DeployError) as err:
        live.deployment().up()
    message = str(err.value)
    assert "quota reached (429) after 7 tries" in message
    assert "`python -m setup.cloud up` carries on from here" in message


def test_a_half_finished_run_resumes_without_duplicates(live: Live) -> None:
    live.fake.fail("POST", r"/connectors$", 500, times=1)
    with pytest.raises(DeployError) as err:
        live.deployment().up()
    assert "step failed: Datagen source connectors" in str(err.value)
    assert "HTTP 500" in str(err.value)
    assert live.state_path.exists() and not live.profile_path.exists()
    live.lines.clear()
    live.deployment().up()
    assert "resuming the half-finished run 'wk-test01'" in live.output()
    for prefix in ("/org/v2/environments", "/cmk/v2/clusters", "/iam/v2/service-accounts",
                   "/ksqldbcm/v2/clusters"):  # fmt: skip
        assert live.fake.created(prefix) == 1, prefix
    assert live.fake.created("/iam/v2/api-keys") == 3
    assert live.profile_path.exists()


def test_a_cluster_still_provisioning_is_picked_up_by_the_next_run(live: Live) -> None:
    live.fake.provisioning_reads = 50
    with pytest.raises(DeployError, match="is still PROVISIONING after 2 min; it keeps going"):
        live.deployment(timeouts={"kafka_cluster": 120}).up()
    live.fake.provisioning_reads = 2
    live.deployment().up()
    assert live.fake.created("/cmk/v2/clusters") == 1


def test_a_lost_state_file_is_recovered_by_name(live: Live) -> None:
    live.fake.fail("POST", r"^/ksqldbcm/v2/clusters$", 500, times=1)
    with pytest.raises(DeployError):
        live.deployment().up()
    live.state_path.unlink()
    live.deployment().up()
    assert live.fake.created("/org/v2/environments") == 1
    assert live.fake.created("/cmk/v2/clusters") == 1
    assert live.fake.created("/iam/v2/service-accounts") == 1
    live.state_path.unlink()  # down finds everything by name too
    live.deployment().down()
    assert live.fake.leftovers() == {}


def test_a_failed_connector_shows_its_trace(live: Live) -> None:
    live.fake.failing_connectors["wk-test01-datagen-users"] = "Error registering Avro schema"
    with pytest.raises(DeployError, match="connector wk-test01-datagen-users FAILED: Error regis"):
        live.deployment().up()


def test_a_ksql_statement_error_names_the_file(live: Live) -> None:
    live.fake.ksql_rejects["USER_TRADES"] = "Invalid topic name"
    with pytest.raises(DeployError, match=r"ksqlDB refused 03_user_trades\.sql: Invalid topic"):
        live.deployment().up()


def test_ksqldb_refusing_the_key_is_reported(live: Live) -> None:
    body = {"@type": "generic_error", "error_code": 40100, "message": "Unauthorized"}
    live.fake.fail("POST", r"^/ksql$", 401, body=body, times=1)
    with pytest.raises(DeployError, match=r"step failed: the statements of ksql/.*Unauthorized"):
        live.deployment().up()


class SlowIam:
    """The first create_function fails as on AWS right after the role is made."""

    def __init__(self, lam) -> None:
        self._lam, self.calls = lam, 0

    def __getattr__(self, name):
        return getattr(self._lam, name)

    def create_function(self, **kw):
        self.calls += 1
        if self.calls == 1:
            error = {"Error": {"Code": "InvalidParameterValueException",
                               "Message": "The role defined for the function cannot be assumed "
                                          "by Lambda."}}  # fmt: skip
            raise ClientError(error, "CreateFunction")
        return self._lam.create_function(**kw)


def test_iam_propagation_is_waited_out(live: Live) -> None:
    live.clients.lam = SlowIam(live.clients.lam)
    live.deployment().up()
    assert live.clients.lam.calls == 2


def test_a_mapping_that_never_enables_times_out_with_advice(live: Live) -> None:
    live.mappings.stuck = True
    with pytest.raises(DeployError, match=r"still Creating after 60 s .*run `up` again"):
        live.deployment(timeouts={"mapping": 60}).up()
    live.mappings.stuck = False
    live.deployment().up()
    assert len(live.mappings.created) == 1


def test_an_incomplete_teardown_says_exactly_what_remains(live: Live) -> None:
    live.deployment().up()
    live.fake.fail("DELETE", r"^/org/v2/environments/", 500, times=100)
    with pytest.raises(DeployError) as err:
        live.deployment().down()
    message = str(err.value)
    env_id = next(iter(live.fake.envs))
    assert message.startswith("teardown incomplete: these still exist (and may still be billed)")
    assert f"environment {env_id}  (Confluent Cloud console > Environments)" in message
    assert "run `python -m setup.cloud down` again" in message
    # Everything else is gone and no longer listed; the record of the rest is kept.
    assert set(live.fake.leftovers()) == {"environments", "schema_registries"}
    assert "iam_role" not in message and "kafka_cluster" not in message
    assert live.state_path.exists()
    live.fake.faults.clear()
    live.deployment().down()
    assert live.fake.leftovers() == {}
    assert not live.state_path.exists()


def test_down_with_a_refused_key_deletes_nothing_and_says_why(live: Live) -> None:
    live.deployment().up()
    with pytest.raises(DeployError, match=r"refused the API key \(401\)"):
        live.deployment(cloud=live.cloud(secret="wrong")).down()
    assert live.fake.leftovers()["environments"]
    assert live.state_path.exists()


def test_another_run_name_while_one_is_recorded_is_refused(live: Live) -> None:
    live.fake.fail("POST", r"^/iam/v2/service-accounts$", 500, times=1)
    with pytest.raises(DeployError):
        live.deployment().up()
    with pytest.raises(DeployError) as err:
        live.deployment(CloudSettings(name="wk-other", region="us-east-1")).up()
    message = str(err.value)
    assert "belongs to run 'wk-test01'; run `python -m setup.cloud up` without --name" in message
    assert live.fake.created("/org/v2/environments") == 1
