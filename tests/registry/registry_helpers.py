"""Shared builders for the registry tests: .proto compilation and an in-process registry."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from pathlib import Path

import grpc_tools
from aiohttp import web
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_tools import protoc

from streamlab.registry.models import SchemaRegistry
from streamlab.registry.rest import RegistryApi
from streamlab.registry.storage import MemoryStore

REPO = Path(__file__).resolve().parents[2]
WELL_KNOWN = str(Path(grpc_tools.__file__).parent / "_proto")

# The reference application's message (research/reference-app.md §3); the project's own file
# is used when it exists, so the tests follow it.
TRADE_SETTLEMENT = """syntax = "proto3";
package io.confluent.developer.proto;
option java_outer_classname = "TradeSettlementProto";
message TradeSettlement {
  string user = 1;
  string symbol = 2;
  double amount = 3;
  string disposition = 4;
  string reason = 5;
  int64 timestamp = 6;
}
"""


def trade_settlement_proto() -> str:
    path = REPO / "lambda_fn" / "proto" / "trade_settlement.proto"
    return path.read_text() if path.exists() else TRADE_SETTLEMENT


def compile_files(files: dict[str, str]) -> descriptor_pb2.FileDescriptorSet:
    """Compile .proto sources with grpcio-tools' protoc (imports included)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            path = Path(tmp, "src", name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        out = os.path.join(tmp, "out.pb")
        code = protoc.main(
            [
                "protoc",
                f"-I{tmp}/src",
                f"-I{WELL_KNOWN}",
                "--include_imports",
                f"--descriptor_set_out={out}",
                *files,
            ]
        )
        assert code == 0, f"protoc failed for {list(files)}"
        return descriptor_pb2.FileDescriptorSet.FromString(Path(out).read_bytes())


def message_classes(files: dict[str, str], *names: str) -> list[type]:
    """Message classes from a private descriptor pool (never clashes with generated modules)."""
    pool = descriptor_pool.DescriptorPool()
    for fdp in compile_files(files).file:
        pool.Add(fdp)
    return [message_factory.GetMessageClass(pool.FindMessageTypeByName(n)) for n in names]


def file_proto(files: dict[str, str], name: str) -> descriptor_pb2.FileDescriptorProto:
    return next(f for f in compile_files(files).file if f.name == name)


class InProcessRegistry:
    """The REST app on a free port, in a thread, over a MemoryStore (fast REST tests)."""

    def __init__(self, users: dict[str, str] | None = None, registry=None) -> None:
        self.registry = registry or SchemaRegistry(MemoryStore())
        self.users = users
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(RegistryApi(self.registry, self.users).app())
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> InProcessRegistry:
        self._thread.start()
        assert self._ready.wait(10), "in-process registry did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
