"""A local fake of the Confluent Cloud REST API and of the clusters' data-plane endpoints.

One aiohttp server on 127.0.0.1 answers the management API (org/v2, cmk/v2, srcm/v3, iam/v2,
ksqldbcm/v2, connect/v1) with the real JSON shapes, and since the clusters it creates give its
own address as ``http_endpoint``, the Kafka REST (``/kafka/v3``), Schema Registry
(``/subjects``) and ksqlDB (``/ksql``, ``/info``) calls land on it too.

Behaviour copied from the real service: creates answer 201 or 202; clusters, the Schema
Registry, ksqlDB and connectors go PROVISIONING -> PROVISIONED/RUNNING over a few reads; new API
keys are refused (401) a few times before they work; errors use the ``errors[]`` envelope;
deleting a service account deletes its keys and role bindings; deleting an environment deletes
what is inside it. ``fail()`` injects answers (429 quota, 500, ...) for matching requests.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from streamlab.pipeline import sources_of, split_statements, target_of

ORG = "org-fake1"


@dataclass
class Fault:
    method: str
    pattern: re.Pattern
    status: int
    body: Any
    times: int
    headers: dict[str, str] = field(default_factory=dict)


def envelope(status: int, detail: str, code: str = "") -> dict[str, Any]:
    return {"errors": [{"id": secrets.token_hex(8), "status": str(status), "code": code,
                        "detail": detail}]}  # fmt: skip


class FakeConfluentCloud:
    def __init__(
        self,
        key: str = "CLOUDKEYFAKE0001",
        secret: str = "cloud-secret-" + secrets.token_hex(8),
        provisioning_reads: int = 2,
        key_sync_reads: int = 1,
        ksql_regions: set[str] | None = None,
    ) -> None:
        self.key, self.secret = key, secret
        self.provisioning_reads = provisioning_reads
        self.key_sync_reads = key_sync_reads
        self.ksql_regions = ksql_regions
        self.url = ""
        self.calls: list[tuple[str, str]] = []  # (method, path) in order
        self.faults: list[Fault] = []
        self.issued_secrets: list[str] = []
        self.failing_connectors: dict[str, str] = {}  # name -> trace
        self.ksql_rejects: dict[str, str] = {}  # stream or table name -> statement_error message
        self._ids = itertools.count(1)
        self.envs: dict[str, dict] = {}
        self.clusters: dict[str, dict] = {}
        self.registries: dict[str, dict] = {}
        self.accounts: dict[str, dict] = {}
        self.bindings: dict[str, dict] = {}
        self.keys: dict[str, dict] = {}
        self.ksqls: dict[str, dict] = {}
        self.connectors: dict[tuple[str, str], dict] = {}  # (lkc, name)
        self.topics: dict[str, dict[str, int]] = {}  # lkc -> topic -> partitions
        self.ksql_objects: dict[str, dict[str, str]] = {}  # lksqlc -> name -> STREAM|TABLE
        self._reads: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeConfluentCloud:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-confluent", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Confluent Cloud did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop and self._thread
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # --- test controls -----------------------------------------------------------------------

    def fail(
        self,
        method: str,
        pattern: str,
        status: int,
        body: Any = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        if body is None:
            body = envelope(status, f"injected {status}")
        self.faults.append(Fault(method, re.compile(pattern), status, body, times, headers or {}))

    def leftovers(self) -> dict[str, list[str]]:
        stores = {
            "environments": self.envs, "clusters": self.clusters, "schema_registries":
            self.registries, "service_accounts": self.accounts, "role_bindings": self.bindings,
            "api_keys": self.keys, "ksqldb_clusters": self.ksqls,
            "connectors": {n: 1 for _, n in self.connectors},
        }  # fmt: skip
        return {k: sorted(v) for k, v in stores.items() if v}

    def created(self, prefix: str) -> int:
        """How many POSTs to a path starting with ``prefix`` were answered."""
        return sum(1 for m, p in self.calls if m == "POST" and p.startswith(prefix))

    # --- plumbing ----------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):04d}{secrets.token_hex(2)}"

    def _phase(self, rid: str, done: str = "PROVISIONED") -> str:
        self._reads[rid] = self._reads.get(rid, 0) + 1
        return done if self._reads[rid] > self.provisioning_reads else "PROVISIONING"

    def _user(self, request: web.Request) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.calls.append((request.method, path))
        for fault in self.faults:
            if fault.times and fault.method == request.method and fault.pattern.search(path):
                fault.times -= 1
                return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response(envelope(400, "malformed JSON"), status=400)
        data_plane = path.startswith(("/kafka/v3/", "/subjects", "/ksql", "/info"))
        if not data_plane and self._user(request) != (self.key, self.secret):
            return web.json_response(envelope(401, "Unauthorized"), status=401)
        for method, pattern, handler in self.ROUTES:
            m = re.fullmatch(pattern, path)
            if m and method == request.method:
                status, answer = handler(self, request, body, *m.groups())
                if status == 204:
                    return web.Response(status=204)
                return web.json_response(answer, status=status)
        return web.json_response(envelope(404, f"no route {path}", "not_found"), status=404)

    def _missing(self, what: str, rid: str) -> tuple[int, dict]:
        return 404, envelope(404, f"{what} {rid!r} not found", "resource_not_found")

    def _need_env(self, request: web.Request) -> str | None:
        env = request.query.get("environment")
        return env if env in self.envs else None

    @staticmethod
    def _page(kind: str, data: list) -> dict:
        return {"api_version": kind.split("/")[0], "kind": "List",
                "metadata": {"first": "", "next": ""}, "data": data}  # fmt: skip

    # --- org/v2 environments -----------------------------------------------------------------

    def _env_create(self, request, body):
        name = body.get("display_name")
        if not name:
            return 400, envelope(400, "display_name is required", "invalid_input")
        eid = self._id("env")
        package = (body.get("stream_governance_config") or {}).get("package")
        self.envs[eid] = {
            "api_version": "org/v2", "kind": "Environment", "id": eid, "display_name": name,
            "stream_governance_config": {"package": package},
            "metadata": {"resource_name": f"crn://confluent.cloud/organization={ORG}/"
                                          f"environment={eid}"},
        }  # fmt: skip
        if package:  # a governance package turns Schema Registry on
            sid = self._id("lsrc")
            self.registries[sid] = {
                "api_version": "srcm/v3", "kind": "Cluster", "id": sid, "env": eid,
                "spec": {"http_endpoint": self.url, "package": package,
                         "environment": {"id": eid}},
                "status": {"phase": "PROVISIONING"},
                "metadata": {"resource_name": f"crn://confluent.cloud/organization={ORG}/"
                                              f"environment={eid}/schema-registry={sid}"},
            }  # fmt: skip
        return 201, self.envs[eid]

    def _env_list(self, request, body):
        return 200, self._page("org/v2", list(self.envs.values()))

    def _env_get(self, request, body, eid):
        return (200, self.envs[eid]) if eid in self.envs else self._missing("environment", eid)

    def _env_delete(self, request, body, eid):
        if eid not in self.envs:
            return self._missing("environment", eid)
        del self.envs[eid]
        for store in (self.clusters, self.registries, self.ksqls):
            for rid in [r for r, v in store.items() if self._env_of(v) == eid]:
                del store[rid]
        self.connectors = {k: v for k, v in self.connectors.items() if v["env"] != eid}
        return 204, None

    @staticmethod
    def _env_of(resource: dict) -> str:
        return resource.get("env") or resource["spec"]["environment"]["id"]

    # --- cmk/v2 clusters ---------------------------------------------------------------------

    def _cluster_create(self, request, body):
        spec = (body or {}).get("spec") or {}
        env = (spec.get("environment") or {}).get("id")
        if env not in self.envs:
            return 400, envelope(400, f"environment {env!r} does not exist", "invalid_input")
        required = ("display_name", "availability", "cloud", "region", "config")
        if any(not spec.get(k) for k in required):
            return 400, envelope(400, f"spec needs {', '.join(required)}", "invalid_input")
        cid = self._id("lkc")
        crn = f"crn://confluent.cloud/organization={ORG}/environment={env}/cloud-cluster={cid}"
        self.clusters[cid] = {
            "api_version": "cmk/v2", "kind": "Cluster", "id": cid,
            "spec": {**spec, "kafka_bootstrap_endpoint":
                     f"SASL_SSL://pkc-{cid[4:]}.{spec['region']}.aws.confluent.cloud:9092",
                     "http_endpoint": self.url},
            "status": {"phase": "PROVISIONING"},
            "metadata": {"resource_name": f"{crn}/kafka={cid}"},
        }  # fmt: skip
        self.topics[cid] = {}
        return 202, self.clusters[cid]

    def _cluster_list(self, request, body):
        env = self._need_env(request)
        if env is None:
            return 400, envelope(400, "query parameter environment is required", "invalid_input")
        return 200, self._page("cmk/v2", [c for c in self.clusters.values()
                                          if self._env_of(c) == env])  # fmt: skip

    def _cluster_get(self, request, body, cid):
        if not self._need_env(request):
            return 400, envelope(400, "query parameter environment is required", "invalid_input")
        if cid not in self.clusters:
            return self._missing("cluster", cid)
        self.clusters[cid]["status"]["phase"] = self._phase(cid)
        return 200, self.clusters[cid]

    def _cluster_delete(self, request, body, cid):
        if not self._need_env(request):
            return 400, envelope(400, "query parameter environment is required", "invalid_input")
        if cid not in self.clusters:
            return self._missing("cluster", cid)
        del self.clusters[cid]
        self.topics.pop(cid, None)
        self.connectors = {k: v for k, v in self.connectors.items() if k[0] != cid}
        return 204, None

    # --- srcm/v3 -----------------------------------------------------------------------------

    def _sr_list(self, request, body):
        env = self._need_env(request)
        if env is None:
            return 400, envelope(400, "query parameter environment is required", "invalid_input")
        found = [r for r in self.registries.values() if r["env"] == env]
        for r in found:
            r["status"]["phase"] = self._phase(r["id"])
        return 200, self._page("srcm/v3", found)

    # --- iam/v2 ------------------------------------------------------------------------------

    def _sa_create(self, request, body):
        name = body.get("display_name")
        if any(a["display_name"] == name for a in self.accounts.values()):
            return 409, envelope(409, f"service account {name!r} already exists", "conflict")
        sid = self._id("sa")
        self.accounts[sid] = {
            "api_version": "iam/v2",
            "kind": "ServiceAccount",
            "id": sid,
            "display_name": name,
            "description": body.get("description", ""),
        }
        return 201, self.accounts[sid]

    def _sa_list(self, request, body):
        return 200, self._page("iam/v2", list(self.accounts.values()))

    def _sa_get(self, request, body, sid):
        return (200, self.accounts[sid]) if sid in self.accounts else self._missing("sa", sid)

    def _sa_delete(self, request, body, sid):
        if sid not in self.accounts:
            return self._missing("service account", sid)
        del self.accounts[sid]
        # Its API keys and role bindings go with it.
        self.keys = {k: v for k, v in self.keys.items() if v["spec"]["owner"]["id"] != sid}
        self.bindings = {k: v for k, v in self.bindings.items()
                         if v["principal"] != f"User:{sid}"}  # fmt: skip
        return 204, None

    def _binding_create(self, request, body):
        if not all(body.get(k) for k in ("principal", "role_name", "crn_pattern")):
            return 400, envelope(400, "principal, role_name, crn_pattern required", "invalid_input")
        if body["principal"].removeprefix("User:") not in self.accounts:
            return 400, envelope(400, f"unknown principal {body['principal']}", "invalid_input")
        rid = self._id("rb")
        self.bindings[rid] = {"api_version": "iam/v2", "kind": "RoleBinding", "id": rid, **body}
        return 201, self.bindings[rid]

    def _key_create(self, request, body):
        spec = (body or {}).get("spec") or {}
        owner = (spec.get("owner") or {}).get("id")
        resource = (spec.get("resource") or {}).get("id")
        if owner not in self.accounts:
            return 400, envelope(400, f"owner {owner!r} does not exist", "invalid_input")
        known = {*self.clusters, *self.registries, *self.ksqls}
        if resource not in known:
            return 400, envelope(400, f"resource {resource!r} does not exist", "invalid_input")
        kid = secrets.token_hex(8).upper()
        secret = secrets.token_urlsafe(24)
        self.issued_secrets.append(secret)
        self.keys[kid] = {"api_version": "iam/v2", "kind": "ApiKey", "id": kid,
                          "spec": {**spec, "secret": secret}, "reads": 0}  # fmt: skip
        answer = {k: v for k, v in self.keys[kid].items() if k != "reads"}
        return 202, answer

    def _key_get(self, request, body, kid):
        if kid not in self.keys:
            return self._missing("api key", kid)
        key = self.keys[kid]
        spec = {k: v for k, v in key["spec"].items() if k != "secret"}  # shown at create only
        return 200, {"api_version": "iam/v2", "kind": "ApiKey", "id": kid, "spec": spec}

    def _key_delete(self, request, body, kid):
        if kid not in self.keys:
            return self._missing("api key", kid)
        del self.keys[kid]
        return 204, None

    # --- ksqldbcm/v2 -------------------------------------------------------------------------

    def _ksql_create(self, request, body):
        spec = (body or {}).get("spec") or {}
        env = (spec.get("environment") or {}).get("id")
        lkc = (spec.get("kafka_cluster") or {}).get("id")
        if env not in self.envs or lkc not in self.clusters:
            return 400, envelope(400, "environment and kafka_cluster must exist", "invalid_input")
        if spec.get("csu") not in (1, 2, 4, 8, 12):
            return 400, envelope(400, "csu must be 1, 2, 4, 8 or 12", "invalid_input")
        region = self.clusters[lkc]["spec"]["region"]
        if self.ksql_regions is not None and region not in self.ksql_regions:
            return 400, envelope(400, f"ksqlDB is not available in region {region}",
                                 "invalid_input")  # fmt: skip
        kid = self._id("lksqlc")
        self.ksqls[kid] = {
            "api_version": "ksqldbcm/v2", "kind": "Cluster", "id": kid, "spec": spec,
            "status": {"phase": "PROVISIONING", "http_endpoint": self.url,
                       "topic_prefix": f"pksqlc-{kid[7:]}", "storage": 125},
            "metadata": {"resource_name": f"crn://confluent.cloud/organization={ORG}/"
                         f"environment={env}/cloud-cluster={lkc}/ksql={spec['display_name']}"},
        }  # fmt: skip
        self.ksql_objects[kid] = {}
        return 202, self.ksqls[kid]

    def _ksql_list(self, request, body):
        env = self._need_env(request)
        if env is None:
            return 400, envelope(400, "query parameter environment is required", "invalid_input")
        return 200, self._page("ksqldbcm/v2", [k for k in self.ksqls.values()
                                               if self._env_of(k) == env])  # fmt: skip

    def _ksql_get(self, request, body, kid):
        if not self._need_env(request):
            return 400, envelope(400, "query parameter environment is required", "invalid_input")
        if kid not in self.ksqls:
            return self._missing("ksqlDB cluster", kid)
        self.ksqls[kid]["status"]["phase"] = self._phase(kid)
        return 200, self.ksqls[kid]

    def _ksql_delete(self, request, body, kid):
        if not self._need_env(request):
            return 400, envelope(400, "query parameter environment is required", "invalid_input")
        if kid not in self.ksqls:
            return self._missing("ksqlDB cluster", kid)
        del self.ksqls[kid]
        return 204, None

    # --- connect/v1 --------------------------------------------------------------------------

    def _conn_list(self, request, body, env, lkc):
        if lkc not in self.clusters:
            return self._missing("cluster", lkc)
        return 200, sorted(n for (c, n) in self.connectors if c == lkc)

    def _conn_create(self, request, body, env, lkc):
        if lkc not in self.clusters:
            return self._missing("cluster", lkc)
        name, config = body.get("name"), body.get("config") or {}
        if any(not isinstance(v, str) for v in config.values()):
            return 400, envelope(400, "config values must be strings", "invalid_input")
        if config.get("connector.class") != "DatagenSource" or config.get("name") != name:
            return 400, envelope(400, "connector.class and name are required", "invalid_input")
        if config.get("kafka.topic") not in self.topics.get(lkc, {}):
            return 400, envelope(400, f"topic {config.get('kafka.topic')!r} does not exist")
        if (lkc, name) in self.connectors:
            return 409, envelope(409, f"connector {name} already exists", "conflict")
        self.connectors[(lkc, name)] = {"name": name, "config": config, "env": env}
        return 201, {
            "name": name,
            "type": "source",
            "tasks": [],
            "config": {k: ("****" if "secret" in k else v) for k, v in config.items()},
        }

    def _conn_status(self, request, body, env, lkc, name):
        if (lkc, name) not in self.connectors:
            return self._missing("connector", name)
        state = self._phase(f"{lkc}/{name}", "RUNNING")
        trace = ""
        if state == "RUNNING" and name in self.failing_connectors:
            state, trace = "FAILED", self.failing_connectors[name]
        return 200, {"name": name, "type": "source",
                     "connector": {"state": state, "worker_id": name, "trace": trace},
                     "tasks": [{"id": 0, "state": state, "worker_id": name}]}  # fmt: skip

    def _conn_delete(self, request, body, env, lkc, name):
        if (lkc, name) not in self.connectors:
            return self._missing("connector", name)
        del self.connectors[(lkc, name)]
        return 200, {"error": None}

    # --- data plane --------------------------------------------------------------------------

    def _data_key(self, request: web.Request, resource: str) -> bool:
        """A key for ``resource`` that has synced (refused ``key_sync_reads`` times first)."""
        user = self._user(request)
        key = self.keys.get(user[0]) if user else None
        if not key or key["spec"]["secret"] != user[1] or key["spec"]["resource"]["id"] != resource:
            return False
        key["reads"] += 1
        return key["reads"] > self.key_sync_reads

    def _topics_list(self, request, body, lkc):
        if not self._data_key(request, lkc):
            return 401, {"error_code": 40101, "message": "Unauthorized"}
        return 200, {"kind": "KafkaTopicList", "metadata": {}, "data": [
            {"kind": "KafkaTopic", "cluster_id": lkc, "topic_name": t, "partitions_count": n}
            for t, n in self.topics[lkc].items()]}  # fmt: skip

    def _topic_create(self, request, body, lkc):
        if not self._data_key(request, lkc):
            return 401, {"error_code": 40101, "message": "Unauthorized"}
        name = body.get("topic_name")
        if name in self.topics[lkc]:
            return 400, {"error_code": 40002, "message": f"Topic '{name}' already exists."}
        self.topics[lkc][name] = int(body.get("partitions_count", 6))
        return 201, {"kind": "KafkaTopic", "cluster_id": lkc, "topic_name": name,
                     "partitions_count": self.topics[lkc][name]}  # fmt: skip

    def _subjects(self, request, body):
        if not any(self._data_key(request, sid) for sid in self.registries):
            return 401, {"error_code": 401, "message": "Unauthorized"}
        return 200, []

    def _ksql_key(self, request) -> str | None:
        return next((k for k in self.ksqls if self._data_key(request, k)), None)

    def _ksql_info(self, request, body):
        if not self._ksql_key(request):
            return 401, {"@type": "generic_error", "error_code": 40100, "message": "Unauthorized"}
        return 200, {"KsqlServerInfo": {"version": "0.29.0", "serverStatus": "RUNNING"}}

    def _ksql_statements(self, request, body):
        kid = self._ksql_key(request)
        if not kid:
            return 401, {"@type": "generic_error", "error_code": 40100, "message": "Unauthorized"}
        objects = self.ksql_objects[kid]
        answers = []
        for stmt in split_statements(body.get("ksql", "")):
            head = stmt.split(None, 2)[:2]
            if [w.upper() for w in head] in (["SHOW", "STREAMS;"], ["SHOW", "TABLES;"]):
                what = head[1].rstrip(";").lower()
                kind = what[:-1].upper()
                answers.append(
                    {
                        "@type": what,
                        "statementText": stmt,
                        what: [{"name": n, "type": kind} for n, k in objects.items() if k == kind],
                    }
                )
                continue
            target = target_of(stmt)
            if not target:
                return 400, {
                    "@type": "statement_error",
                    "error_code": 40001,
                    "message": "unsupported statement",
                    "statementText": stmt,
                }
            if target[1] in self.ksql_rejects:
                return 400, {
                    "@type": "statement_error",
                    "error_code": 40001,
                    "message": self.ksql_rejects[target[1]],
                    "statementText": stmt,
                }
            missing = sorted(sources_of(stmt) - set(objects))
            if missing:
                return 400, {
                    "@type": "statement_error",
                    "error_code": 40001,
                    "message": f"{missing[0]} does not exist.",
                    "statementText": stmt,
                }
            objects.setdefault(target[1], target[0])
            answers.append({"@type": "currentStatus", "statementText": stmt,
                            "commandId": f"{target[0].lower()}/`{target[1]}`/create",
                            "commandStatus": {"status": "SUCCESS", "message": "Created"},
                            "commandSequenceNumber": len(objects)})  # fmt: skip
        return 200, answers

    ROUTES: tuple = (
        ("POST", r"/org/v2/environments", _env_create),
        ("GET", r"/org/v2/environments", _env_list),
        ("GET", r"/org/v2/environments/([^/]+)", _env_get),
        ("DELETE", r"/org/v2/environments/([^/]+)", _env_delete),
        ("POST", r"/cmk/v2/clusters", _cluster_create),
        ("GET", r"/cmk/v2/clusters", _cluster_list),
        ("GET", r"/cmk/v2/clusters/([^/]+)", _cluster_get),
        ("DELETE", r"/cmk/v2/clusters/([^/]+)", _cluster_delete),
        ("GET", r"/srcm/v3/clusters", _sr_list),
        ("POST", r"/iam/v2/service-accounts", _sa_create),
        ("GET", r"/iam/v2/service-accounts", _sa_list),
        ("GET", r"/iam/v2/service-accounts/([^/]+)", _sa_get),
        ("DELETE", r"/iam/v2/service-accounts/([^/]+)", _sa_delete),
        ("POST", r"/iam/v2/role-bindings", _binding_create),
        ("POST", r"/iam/v2/api-keys", _key_create),
        ("GET", r"/iam/v2/api-keys/([^/]+)", _key_get),
        ("DELETE", r"/iam/v2/api-keys/([^/]+)", _key_delete),
        ("POST", r"/ksqldbcm/v2/clusters", _ksql_create),
        ("GET", r"/ksqldbcm/v2/clusters", _ksql_list),
        ("GET", r"/ksqldbcm/v2/clusters/([^/]+)", _ksql_get),
        ("DELETE", r"/ksqldbcm/v2/clusters/([^/]+)", _ksql_delete),
        ("GET", r"/connect/v1/environments/([^/]+)/clusters/([^/]+)/connectors", _conn_list),
        ("POST", r"/connect/v1/environments/([^/]+)/clusters/([^/]+)/connectors", _conn_create),
        ("GET", r"/connect/v1/environments/([^/]+)/clusters/([^/]+)/connectors/([^/]+)/status",
         _conn_status),
        ("DELETE", r"/connect/v1/environments/([^/]+)/clusters/([^/]+)/connectors/([^/]+)",
         _conn_delete),
        ("GET", r"/kafka/v3/clusters/([^/]+)/topics", _topics_list),
        ("POST", r"/kafka/v3/clusters/([^/]+)/topics", _topic_create),
        ("GET", r"/subjects", _subjects),
        ("GET", r"/info", _ksql_info),
        ("POST", r"/ksql", _ksql_statements),
    )  # fmt: skip
