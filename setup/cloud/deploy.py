"""``up``, ``down`` and ``status``: the steps of plan.py against Confluent Cloud and AWS.

Every step first looks for what exists (the state file's id, else the display name) and creates
only what is missing, and every create is written to the state file before anything else
happens, so a run that stops anywhere can be resumed (``up``) or removed (``down``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from setup.cloud.aws import Aws
from setup.cloud.confluent import AuthError, CloudError, ConfluentCloud, NotFound
from setup.cloud.ksql import AuthKsqlClient
from setup.cloud.plan import steps as plan_steps
from setup.cloud.settings import DATAGEN, SOURCE_TOPIC, TOPICS, CloudSettings
from setup.cloud.state import State, profile_text, write_private
from streamlab.config import StreamlabError

ROOT = Path(__file__).resolve().parents[2]
KSQL_DIR = ROOT / "ksql"
COMMAND = "python -m setup.cloud"

# Seconds. Terraform allows far longer for ksqlDB (12 h); beyond these, `up` stops and says
# how to carry on: the resource keeps provisioning and the next `up` picks it up.
TIMEOUTS = {
    "kafka_cluster": 1800,
    "schema_registry": 1800,
    "api_key": 1200,
    "connector": 1200,
    "ksql_cluster": 3600,
    "mapping": 900,
    "delete": 1800,
}
INTERVALS = {"cluster": 15, "api_key": 10, "connector": 20, "ksql_cluster": 30, "mapping": 10}


class DeployError(StreamlabError):
    """A step failed; the message lists what exists and what to do next."""


def _console_hint(kind: str) -> str:
    return {
        "mapping": "AWS console > Lambda > the function > Configuration > Triggers",
        "function": "AWS console > Lambda > Functions",
        "log_group": "AWS console > CloudWatch > Log groups",
        "secret": "AWS console > Secrets Manager",
        "iam_role": "AWS console > IAM > Roles",
    }.get(kind, "Confluent Cloud console > Environments")


class Deployment:
    def __init__(
        self,
        settings: CloudSettings,
        cloud: ConfluentCloud,
        aws: Aws,
        state: State,
        profile_path: Path,
        *,
        out: Callable[[str], None] = print,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        build_zip: Callable[[], bytes] | None = None,
        ksql_dir: Path = KSQL_DIR,
        timeouts: dict[str, float] | None = None,
    ) -> None:
        self.s = settings
        self.cloud = cloud
        self.aws = aws
        self.state = state
        self.profile_path = profile_path
        self.out = out
        self.sleep = sleep
        self.clock = clock
        self.build_zip = build_zip or _build_lambda_zip
        self.ksql_dir = ksql_dir
        self.timeouts = {**TIMEOUTS, **(timeouts or {})}

    # --- helpers --------------------------------------------------------------------------------

    def _wait(self, what: str, probe: Callable[[], tuple[bool, str]], timeout: float, every: float):
        """Poll ``probe`` (-> done?, current state) until done; progress lines, then a timeout."""
        start = self.clock()
        last = ""
        while True:
            done, current = probe()
            if done:
                return
            if current != last:
                self.out(f"      {what}: {current}")
                last = current
            if self.clock() - start >= timeout:
                raise CloudError(
                    f"{what} is still {current} after {timeout / 60:.0f} min; it keeps going on "
                    f"its own: run `{COMMAND} up` later to carry on, or `{COMMAND} down`"
                )
            self.sleep(every)

    def _env(self) -> str:
        return self.state.get("environment")["id"]

    def _lkc(self) -> dict[str, Any]:
        return self.state.get("kafka_cluster")

    def _find(self, path: str, name: str, params: dict[str, Any] | None = None) -> dict | None:
        for item in self.cloud.list(path, params):
            display = item.get("display_name") or (item.get("spec") or {}).get("display_name")
            if display == name:
                return item
        return None

    def _exists(self, path: str, params: dict[str, Any] | None = None) -> dict | None:
        try:
            return self.cloud.request("GET", path, params=params)
        except NotFound:
            return None

    # --- up -------------------------------------------------------------------------------------

    def preflight(self) -> None:
        try:
            self.cloud.request("GET", "/org/v2/environments", params={"page_size": 1})
        except AuthError as e:
            raise DeployError(
                f"Confluent Cloud refused the API key ({e.status}): use a Cloud API key "
                "(resource 'Cloud resource management'; a Kafka or ksqlDB key is refused) in "
                "CONFLUENT_CLOUD_API_KEY / CONFLUENT_CLOUD_API_SECRET"
            ) from None
        account = self.aws.preflight()
        self.out(f"credentials: Confluent Cloud key accepted; AWS account {account}")

    def up(self) -> dict[str, Any]:
        self.preflight()
        recorded = self.state.get("name")
        if recorded and recorded != self.s.name:
            raise DeployError(
                f"the state file {self.state.path} belongs to run {recorded!r}; run `{COMMAND} "
                f"up` without --name to resume it, or `{COMMAND} down` first"
            )
        if self.state.get("region", self.s.region) != self.s.region:
            raise DeployError(
                f"run {self.s.name!r} was created in {self.state.get('region')}; a Kafka cluster "
                f"cannot move: `{COMMAND} down`, then `up --region {self.s.region}`"
            )
        if recorded and not self.state.get("complete"):
            self.out(f"resuming the half-finished run {recorded!r} from {self.state.path}")
        self.state.put("name", self.s.name)
        self.state.put("region", self.s.region)
        self.state.put("complete", False)
        todo = plan_steps(self.s)
        for i, step in enumerate(todo, 1):
            self.out(f"[{i}/{len(todo)}] {step.action}")
            try:
                getattr(self, f"_up_{step.key}")()
            except (StreamlabError, ClientError, BotoCoreError) as e:
                raise DeployError(self._failure(step.action, e)) from None
        self.state.put("complete", True)
        self.out(f"done: STREAMLAB_PROFILE=cloud now uses run {self.s.name!r}")
        self.out(f"remove it all (billing stops) with `{COMMAND} down`")
        return self.state.data

    def _failure(self, action: str, error: Exception) -> str:
        text = str(error)
        if isinstance(error, ClientError):
            text = f"AWS {error.response.get('Error', {}).get('Code', '')}: {error}"
        made = ", ".join(f"{k} {v}" for k, v in self.remaining()) or "nothing yet"
        return (
            f"step failed: {action}: {text}\n"
            f"exists now (recorded in {self.state.path}): {made}\n"
            f"next: fix the cause, then `{COMMAND} up` carries on from here; or `{COMMAND} down` "
            "removes everything listed"
        )

    def _up_environment(self) -> None:
        rec = self.state.get("environment")
        if rec and self._exists(f"/org/v2/environments/{rec['id']}"):
            return
        found = self._find("/org/v2/environments", self.s.name)
        if found is None:
            found = self.cloud.request(
                "POST",
                "/org/v2/environments",
                json={
                    "display_name": self.s.name,
                    "stream_governance_config": {"package": "ESSENTIALS"},
                },
            )
            self.out(f"      created environment {found['id']}")
        self.state.put(
            "environment", {"id": found["id"], "crn": found["metadata"]["resource_name"]}
        )

    def _up_kafka_cluster(self) -> None:
        env = self._env()
        rec = self.state.get("kafka_cluster")
        params = {"environment": env}
        if rec and not self._exists(f"/cmk/v2/clusters/{rec['id']}", params):
            self.state.drop("kafka_cluster")
            rec = None
        if rec is None:
            found = self._find("/cmk/v2/clusters", self.s.cluster_name, params)
            if found is None:
                found = self.cloud.request(
                    "POST",
                    "/cmk/v2/clusters",
                    json={
                        "spec": {
                            "display_name": self.s.cluster_name,
                            "availability": "SINGLE_ZONE",
                            "cloud": "AWS",
                            "region": self.s.region,
                            "config": {"kind": "Basic"},
                            "environment": {"id": env},
                        }
                    },
                )
                self.out(f"      created Kafka cluster {found['id']}")
            rec = self.state.put("kafka_cluster", {"id": found["id"]})
        cluster: dict[str, Any] = {}

        def probe() -> tuple[bool, str]:
            cluster.update(
                self.cloud.request("GET", f"/cmk/v2/clusters/{rec['id']}", params=params)
            )
            phase = cluster["status"]["phase"]
            if phase == "FAILED":
                raise CloudError(f"Kafka cluster {rec['id']} FAILED to provision")
            return phase == "PROVISIONED", phase

        self._wait(f"Kafka cluster {rec['id']}", probe, self.timeouts["kafka_cluster"],
                   INTERVALS["cluster"])  # fmt: skip
        spec = cluster["spec"]
        crn = cluster["metadata"]["resource_name"]
        self.state.put(
            "kafka_cluster",
            {
                "id": rec["id"],
                "crn": crn,
                "rbac_crn": crn.split("/kafka=")[0],
                # Lambda and librdkafka want host:port, without the listener name.
                "bootstrap": spec["kafka_bootstrap_endpoint"].removeprefix("SASL_SSL://"),
                "rest": spec["http_endpoint"].rstrip("/"),
            },
        )

    def _up_schema_registry(self) -> None:
        found: dict[str, Any] = {}

        def probe() -> tuple[bool, str]:
            items = self.cloud.list("/srcm/v3/clusters", {"environment": self._env()})
            if not items:
                return False, "not created yet"
            found.update(items[0])
            phase = found.get("status", {}).get("phase", "?")
            return phase == "PROVISIONED", phase

        self._wait("Schema Registry", probe, self.timeouts["schema_registry"], INTERVALS["cluster"])
        self.state.put(
            "schema_registry",
            {
                "id": found["id"],
                "crn": found["metadata"]["resource_name"],
                "url": found["spec"]["http_endpoint"].rstrip("/"),
            },
        )

    def _up_service_account(self) -> None:
        rec = self.state.get("service_account")
        if rec and self._exists(f"/iam/v2/service-accounts/{rec['id']}"):
            return
        found = self._find("/iam/v2/service-accounts", self.s.service_account_name)
        if found is None:
            found = self.cloud.request(
                "POST",
                "/iam/v2/service-accounts",
                json={
                    "display_name": self.s.service_account_name,
                    "description": f"streamlab workshop run {self.s.name}: connectors, ksqlDB, "
                    "Lambda",
                },
            )
            self.out(f"      created service account {found['id']}")
        self.state.put("service_account", {"id": found["id"]})

    def _bind(self, role: str, crn_pattern: str) -> None:
        bindings = self.state.get("role_bindings", {})
        if role in bindings:
            return
        principal = f"User:{self.state.get('service_account')['id']}"
        try:
            made = self.cloud.request(
                "POST",
                "/iam/v2/role-bindings",
                json={"principal": principal, "role_name": role, "crn_pattern": crn_pattern},
            )
            bindings[role] = made["id"]
        except CloudError as e:
            if e.status != 409:  # the binding exists already
                raise
            bindings[role] = "exists"
        self.state.put("role_bindings", bindings)

    def _up_role_bindings(self) -> None:
        self._bind("CloudClusterAdmin", self._lkc()["rbac_crn"])
        self._bind("ResourceOwner", self.state.get("schema_registry")["crn"] + "/subject=*")

    def _api_key(self, slot: str, resource: str, label: str) -> dict[str, str]:
        rec = self.state.get(slot)
        if rec and self._exists(f"/iam/v2/api-keys/{rec['id']}"):
            return rec
        made = self.cloud.request(
            "POST",
            "/iam/v2/api-keys",
            json={
                "spec": {
                    "display_name": f"{self.s.name}-{label}",
                    "description": f"streamlab workshop run {self.s.name}",
                    "owner": {
                        "id": self.state.get("service_account")["id"],
                        "kind": "ServiceAccount",
                    },
                    "resource": {"id": resource, "kind": "Cluster"},
                }
            },
        )
        # The secret is in this answer only: into the state file at once.
        rec = self.state.put(slot, {"id": made["id"], "secret": made["spec"]["secret"]})
        self.out(f"      created {label} API key {made['id']}")
        return rec

    def _wait_key(self, what: str, url: str, key: dict[str, str]) -> None:
        streak = [0]

        def probe() -> tuple[bool, str]:
            try:
                self.cloud.request("GET", url, auth=(key["id"], key["secret"]))
            except AuthError:
                streak[0] = 0
                return False, "not yet accepted"
            streak[0] += 1
            return streak[0] >= 2, "accepted once"

        self._wait(what, probe, self.timeouts["api_key"], INTERVALS["api_key"])

    def _up_api_keys(self) -> None:
        lkc = self._lkc()
        sr = self.state.get("schema_registry")
        kafka = self._api_key("kafka_key", lkc["id"], "kafka")
        registry = self._api_key("registry_key", sr["id"], "registry")
        self._wait_key(
            "Kafka API key", f"{lkc['rest']}/kafka/v3/clusters/{lkc['id']}/topics", kafka
        )
        self._wait_key("Schema Registry API key", f"{sr['url']}/subjects", registry)

    def _kafka_auth(self) -> tuple[str, str]:
        key = self.state.get("kafka_key")
        return key["id"], key["secret"]

    def _up_topics(self) -> None:
        lkc = self._lkc()
        url = f"{lkc['rest']}/kafka/v3/clusters/{lkc['id']}/topics"
        have = {t["topic_name"] for t in (self.cloud.request("GET", url, auth=self._kafka_auth())
                                          or {}).get("data", [])}  # fmt: skip
        for topic in TOPICS:
            if topic not in have:
                self.cloud.request(
                    "POST",
                    url,
                    json={"topic_name": topic, "partitions_count": self.s.partitions},
                    auth=self._kafka_auth(),
                )
        self.state.put("topics", list(TOPICS))

    def _up_connectors(self) -> None:
        lkc = self._lkc()
        base = f"/connect/v1/environments/{self._env()}/clusters/{lkc['id']}/connectors"
        have = set(self.cloud.request("GET", base) or [])
        key, secret = self._kafka_auth()
        names = []
        for quickstart, topic in DATAGEN.items():
            name = self.s.connector_name(quickstart)
            names.append(name)
            if name not in have:
                config = {
                    "connector.class": "DatagenSource",
                    "name": name,
                    "kafka.auth.mode": "KAFKA_API_KEY",
                    "kafka.api.key": key,
                    "kafka.api.secret": secret,
                    "kafka.topic": topic,
                    "output.data.format": "JSON",  # ksql/ reads VALUE_FORMAT='JSON'
                    "quickstart": quickstart,
                    "max.interval": str(self.s.datagen_interval_ms),
                    "tasks.max": "1",
                }
                self.cloud.request("POST", base, json={"name": name, "config": config})
                self.out(f"      created connector {name}")
            self.state.put("connectors", sorted({*self.state.get("connectors", []), name}))
        for name in names:

            def probe(name: str = name) -> tuple[bool, str]:
                status = self.cloud.request("GET", f"{base}/{name}/status")
                state = status["connector"]["state"]
                if state == "FAILED":
                    trace = status["connector"].get("trace") or "no trace"
                    raise CloudError(f"connector {name} FAILED: {trace}")
                return state == "RUNNING", state

            self._wait(f"connector {name}", probe, self.timeouts["connector"],
                       INTERVALS["connector"])  # fmt: skip

    def _up_ksql_cluster(self) -> None:
        env = self._env()
        params = {"environment": env}
        rec = self.state.get("ksql_cluster")
        if rec and not self._exists(f"/ksqldbcm/v2/clusters/{rec['id']}", params):
            self.state.drop("ksql_cluster")
            rec = None
        if rec is None:
            found = self._find("/ksqldbcm/v2/clusters", self.s.ksql_name, params)
            if found is None:
                try:
                    found = self.cloud.request(
                        "POST",
                        "/ksqldbcm/v2/clusters",
                        json={
                            "spec": {
                                "display_name": self.s.ksql_name,
                                "csu": self.s.csu,
                                "kafka_cluster": {"id": self._lkc()["id"], "environment": env},
                                "credential_identity": {
                                    "id": self.state.get("service_account")["id"]
                                },
                                "environment": {"id": env},
                            }
                        },
                    )
                except CloudError as e:
                    if e.status == 400 and "region" in str(e).lower():
                        raise CloudError(
                            f"region {self.s.region} has no Confluent Cloud ksqlDB for this "
                            f"organization ({e}); `{COMMAND} down`, then `{COMMAND} up --region "
                            "<another>`"
                        ) from None
                    raise
                self.out(f"      created ksqlDB cluster {found['id']} ({self.s.csu} CSU)")
            rec = self.state.put("ksql_cluster", {"id": found["id"]})
        cluster: dict[str, Any] = {}

        def probe() -> tuple[bool, str]:
            cluster.update(
                self.cloud.request("GET", f"/ksqldbcm/v2/clusters/{rec['id']}", params=params)
            )
            phase = cluster["status"]["phase"]
            if phase == "FAILED":
                raise CloudError(f"ksqlDB cluster {rec['id']} FAILED to provision")
            return phase == "PROVISIONED", phase

        self._wait(f"ksqlDB cluster {rec['id']}", probe, self.timeouts["ksql_cluster"],
                   INTERVALS["ksql_cluster"])  # fmt: skip
        rec = self.state.put(
            "ksql_cluster",
            {
                "id": rec["id"],
                "crn": cluster["metadata"]["resource_name"],
                "url": cluster["status"]["http_endpoint"].rstrip("/"),
            },
        )
        self._bind("KsqlAdmin", rec["crn"])
        key = self._api_key("ksql_key", rec["id"], "ksqldb")
        self._wait_key("ksqlDB API key", f"{rec['url']}/info", key)

    def _up_ksql_statements(self) -> None:
        from streamlab.ksql.client import KsqlError
        from streamlab.pipeline import PipelineError, apply

        cluster, key = self.state.get("ksql_cluster"), self.state.get("ksql_key")
        client = AuthKsqlClient(cluster["url"], (key["id"], key["secret"]), self.cloud.session)
        try:
            result = apply(self.ksql_dir, client)
        except (PipelineError, KsqlError) as e:
            raise CloudError(f"ksqlDB at {cluster['url']}: {e}") from None
        for outcome in result.outcomes:
            self.out("    " + outcome.line())
        if not result.ok:
            bad = next(o for o in result.outcomes if o.status == "error")
            raise CloudError(f"ksqlDB refused {bad.file}: {bad.message}")
        self.state.put("ksql_statements", [o.target for o in result.outcomes if o.target])

    def _up_iam_role(self) -> None:
        arn, created = self.aws.ensure_role(self.s.role_name, self.s.name)
        self.state.put("iam_role", {"name": self.s.role_name, "arn": arn})
        if created:
            self.out(f"      created IAM role {self.s.role_name}")

    def function_secret(self) -> dict[str, str]:
        kafka, registry = self.state.get("kafka_key"), self.state.get("registry_key")
        return {
            "bootstrap.servers": self._lkc()["bootstrap"],
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            # username/password: what the mapping's BASIC_AUTH reads, and lambda_fn too.
            "username": kafka["id"],
            "password": kafka["secret"],
            "schema.registry.url": self.state.get("schema_registry")["url"],
            "basic.auth.user.info": f"{registry['id']}:{registry['secret']}",
        }

    def _up_secret(self) -> None:
        arn = self.aws.ensure_secret(self.s.secret_name, self.function_secret(), self.s.name)
        self.state.put("secret", {"name": self.s.secret_name, "arn": arn})
        self.aws.allow_secret(self.s.role_name, arn)

    def _up_function(self) -> None:
        self.state.put("log_group", {"name": self.s.log_group})
        self.aws.ensure_log_group(self.s.log_group)
        created = self.aws.ensure_function(
            self.s.function_name,
            self.state.get("iam_role")["arn"],
            self.build_zip,
            {"SECRET_NAME": self.s.secret_name, "DEAD_LETTER_TOPIC": "user_trades-dlq"},
            self.s.runtime,
            self.s.arch,
            self.s.name,
        )
        self.state.put("function", {"name": self.s.function_name})
        if created:
            self.out(f"      created function {self.s.function_name}")

    def _up_mapping(self) -> None:
        rec = self.state.get("mapping") or {}
        m = self.aws.ensure_mapping(
            self.s.function_name,
            self._lkc()["bootstrap"],
            SOURCE_TOPIC,
            self.state.get("secret")["arn"],
            self.s.consumer_group,
            rec.get("uuid"),
        )
        self.state.put("mapping", {"uuid": m["UUID"]})
        self.aws.wait_mapping(m["UUID"], self.timeouts["mapping"], INTERVALS["mapping"])

    def _up_profile(self) -> None:
        kafka, registry, ksql = (
            self.state.get(k) for k in ("kafka_key", "registry_key", "ksql_key")
        )
        endpoints = {
            "bootstrap": self._lkc()["bootstrap"],
            "registry_url": self.state.get("schema_registry")["url"],
            "ksql_url": self.state.get("ksql_cluster")["url"],
            "aws_region": self.s.region,
            "function_name": self.s.function_name,
            "secret_name": self.s.secret_name,
        }
        credentials = {
            "kafka_api_key": kafka["id"],
            "kafka_api_secret": kafka["secret"],
            "registry_api_key": registry["id"],
            "registry_api_secret": registry["secret"],
            "ksql_api_key": ksql["id"],
            "ksql_api_secret": ksql["secret"],
        }
        write_private(self.profile_path, profile_text(endpoints, credentials))
        self.state.put("profile", {"path": str(self.profile_path)})

    # --- down -----------------------------------------------------------------------------------

    def remaining(self) -> list[tuple[str, str]]:
        """(kind, id) of everything the state file records, in teardown order."""
        out: list[tuple[str, str]] = []
        for kind, field in (
            ("mapping", "uuid"), ("function", "name"), ("ksql_cluster", "id"),
            ("kafka_cluster", "id"), ("kafka_key", "id"), ("registry_key", "id"),
            ("ksql_key", "id"), ("service_account", "id"), ("environment", "id"),
            ("log_group", "name"), ("secret", "name"), ("iam_role", "name"),
        ):  # fmt: skip
            rec = self.state.get(kind)
            if rec:
                out.append((kind, rec[field]))
            if kind == "function":
                out += [("connector", name) for name in self.state.get("connectors", [])]
        return out

    def discover(self) -> None:
        """Fill the state from display names (a lost or partial state file)."""
        if "environment" not in self.state:
            env = self._find("/org/v2/environments", self.s.name)
            if env:
                self.state.put("environment", {"id": env["id"]})
        if "environment" in self.state:
            params = {"environment": self._env()}
            for kind, path, name in (
                ("kafka_cluster", "/cmk/v2/clusters", self.s.cluster_name),
                ("ksql_cluster", "/ksqldbcm/v2/clusters", self.s.ksql_name),
            ):
                if kind not in self.state:
                    try:
                        found = self._find(path, name, params)
                    except NotFound:
                        found = None
                    if found:
                        self.state.put(kind, {"id": found["id"]})
        if "service_account" not in self.state:
            sa = self._find("/iam/v2/service-accounts", self.s.service_account_name)
            if sa:
                self.state.put("service_account", {"id": sa["id"]})
        lkc = self.state.get("kafka_cluster")
        if lkc and "environment" in self.state:
            base = f"/connect/v1/environments/{self._env()}/clusters/{lkc['id']}/connectors"
            try:
                names = set(self.cloud.request("GET", base) or [])
            except NotFound:
                names = set()
            ours = {self.s.connector_name(q) for q in DATAGEN} & names
            if ours:
                self.state.put("connectors", sorted(ours | set(self.state.get("connectors", []))))
        aws_checks = (
            ("function", self.aws.function_state(self.s.function_name) is not None,
             {"name": self.s.function_name}),
            ("secret", self.aws.secret_arn(self.s.secret_name) is not None,
             {"name": self.s.secret_name}),
            ("iam_role", self.aws.role_arn(self.s.role_name) is not None,
             {"name": self.s.role_name}),
            ("log_group", self.aws.log_group_exists(self.s.log_group), {"name": self.s.log_group}),
        )  # fmt: skip
        for kind, exists, rec in aws_checks:
            if exists and kind not in self.state:
                self.state.put(kind, rec)
        if "mapping" not in self.state:
            for m in self.aws.c.mappings.list(self.s.function_name):
                self.state.put("mapping", {"uuid": m["UUID"]})

    def _gone(
        self, path: str, params: dict[str, Any] | None = None
    ) -> Callable[[], tuple[bool, str]]:
        def probe() -> tuple[bool, str]:
            found = self._exists(path, params)
            if found is None:
                return True, "gone"
            return False, (found.get("status") or {}).get("phase", "deleting")

        return probe

    def _delete_cloud(self, what: str, path: str, params: dict[str, Any] | None = None) -> None:
        try:
            self.cloud.request("DELETE", path, params=params)
        except NotFound:
            pass
        self._wait(what, self._gone(path, params), self.timeouts["delete"], INTERVALS["cluster"])

    def _teardown_one(self, kind: str, ident: str) -> None:
        env = (self.state.get("environment") or {}).get("id")
        params = {"environment": env}
        if kind == "mapping":
            self.aws.delete_mapping(ident)
        elif kind == "function":
            self.aws.delete_function(ident)
        elif kind == "connector":
            lkc = self.state.get("kafka_cluster")["id"]
            path = f"/connect/v1/environments/{env}/clusters/{lkc}/connectors/{ident}"
            try:
                self.cloud.request("DELETE", path)
            except NotFound:
                pass
            self._wait(f"connector {ident}", self._gone(f"{path}/status"),
                       self.timeouts["delete"], INTERVALS["connector"])  # fmt: skip
        elif kind == "ksql_cluster":
            self._delete_cloud(f"ksqlDB cluster {ident}", f"/ksqldbcm/v2/clusters/{ident}", params)
        elif kind == "kafka_cluster":
            self._delete_cloud(f"Kafka cluster {ident}", f"/cmk/v2/clusters/{ident}", params)
        elif kind in ("kafka_key", "registry_key", "ksql_key"):
            self._delete_cloud(f"API key {ident}", f"/iam/v2/api-keys/{ident}")
        elif kind == "service_account":
            self._delete_cloud(f"service account {ident}", f"/iam/v2/service-accounts/{ident}")
        elif kind == "environment":
            self._delete_cloud(f"environment {ident}", f"/org/v2/environments/{ident}")
        elif kind == "log_group":
            self.aws.delete_log_group(ident)
        elif kind == "secret":
            self.aws.delete_secret(ident)
        elif kind == "iam_role":
            self.aws.delete_role(ident)

    def _forget(self, kind: str, ident: str) -> None:
        if kind == "connector":
            self.state.put(
                "connectors", [c for c in self.state.get("connectors", []) if c != ident]
            )
        else:
            self.state.drop(kind)
        if kind == "kafka_cluster":
            self.state.drop("topics")
            self.state.drop("connectors")  # they live in the cluster
        if kind == "ksql_cluster":
            self.state.drop("ksql_statements")
        if kind == "service_account":
            self.state.drop("role_bindings")

    def down(self) -> list[tuple[str, str]]:
        """Delete everything, verify each is gone; returns what remains (empty when all is)."""
        self.preflight()  # a refused key would otherwise look like "nothing found"
        self.discover()
        todo = self.remaining()
        if not todo:
            self.out(f"nothing recorded or found for run {self.s.name!r}: nothing to delete")
        failed: list[tuple[str, str, str]] = []
        for kind, ident in todo:
            self.out(f"deleting {kind} {ident}")
            try:
                self._teardown_one(kind, ident)
            except (StreamlabError, ClientError, BotoCoreError) as e:
                failed.append((kind, ident, str(e)))
                self.out(f"      could not delete {kind} {ident}: {e}")
                continue
            self._forget(kind, ident)
        left = self.remaining()
        if left:
            lines = [f"  {kind} {ident}  ({_console_hint(kind)})" for kind, ident in left]
            why = "; ".join(f"{k} {i}: {m}" for k, i, m in failed) or "see above"
            raise DeployError(
                "teardown incomplete: these still exist (and may still be billed):\n"
                + "\n".join(lines)
                + f"\ncause: {why}\nnext: run `{COMMAND} down` again (what is gone already counts "
                f"as done); the record stays in {self.state.path}"
            )
        self.profile_path.unlink(missing_ok=True)
        self.state.remove()
        self.out(f"everything of run {self.s.name!r} is deleted and verified gone")
        return []

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> list[tuple[str, str, str]]:
        """(kind, id, live state) for everything recorded."""
        rows = []
        env = (self.state.get("environment") or {}).get("id")
        params = {"environment": env}
        for kind, ident in self.remaining():
            try:
                rows.append((kind, ident, self._live(kind, ident, params)))
            except (StreamlabError, ClientError, BotoCoreError) as e:
                rows.append((kind, ident, f"unknown ({e})"))
        return rows

    def _live(self, kind: str, ident: str, params: dict[str, Any]) -> str:
        paths = {
            "environment": (f"/org/v2/environments/{ident}", None),
            "kafka_cluster": (f"/cmk/v2/clusters/{ident}", params),
            "ksql_cluster": (f"/ksqldbcm/v2/clusters/{ident}", params),
            "service_account": (f"/iam/v2/service-accounts/{ident}", None),
            "kafka_key": (f"/iam/v2/api-keys/{ident}", None),
            "registry_key": (f"/iam/v2/api-keys/{ident}", None),
            "ksql_key": (f"/iam/v2/api-keys/{ident}", None),
        }
        if kind in paths:
            found = self._exists(*paths[kind])
            if found is None:
                return "gone"
            return (found.get("status") or {}).get("phase", "exists")
        if kind == "connector":
            lkc = self.state.get("kafka_cluster")["id"]
            path = f"/connect/v1/environments/{params['environment']}/clusters/{lkc}/connectors"
            found = self._exists(f"{path}/{ident}/status")
            return found["connector"]["state"] if found else "gone"
        if kind == "mapping":
            m = self.aws.c.mappings.get(ident)
            return m.get("State", "?") if m else "gone"
        if kind == "function":
            return self.aws.function_state(ident) or "gone"
        if kind == "secret":
            return "exists" if self.aws.secret_arn(ident) else "gone"
        if kind == "iam_role":
            return "exists" if self.aws.role_arn(ident) else "gone"
        if kind == "log_group":
            return "exists" if self.aws.log_group_exists(ident) else "gone"
        return "?"


def _build_lambda_zip() -> bytes:
    """lambda_fn with its manylinux wheels (pip needs the package index)."""
    import tempfile

    from lambda_fn.package import PackageError, build

    with tempfile.TemporaryDirectory() as tmp:
        try:
            result = build(Path(tmp) / "lambda.zip", deps=True)
        except PackageError as e:
            raise StreamlabError(f"cannot build lambda_fn: {e}") from None
        return result.path.read_bytes()
