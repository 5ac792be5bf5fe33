"""Lambda layers: published, numbered versions of a .zip, and the ``/opt`` an environment mounts.

A layer version is immutable once published; its number (1, 2, ...) is never reused, even after
the version is deleted. Deleting a version only hides it: AWS keeps a copy while functions still
refer to it, so their environments keep starting.

On AWS an environment gets its function's layers extracted, in the function's ``Layers`` order,
into one directory, ``/opt`` (a later layer's file replaces an earlier one's). The Python runtime
puts ``/opt/python/lib/python3.x/site-packages`` and ``/opt/python`` on ``sys.path`` after the
task root. There is no ``/opt`` here: :func:`mount` builds that merged directory per set of layer
versions under the function's data directory, and :func:`python_paths` gives the two entries.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

from streamlab.awslambda import exceptions as exc
from streamlab.awslambda.packages import check_package
from streamlab.awslambda.utils import ACCOUNT_ID, code_sha256
from streamlab.awslambda.utils import page as page_of

MAX_LAYERS = 5  # per function, AWS quota

# The API model's patterns (botocore's service-2.json: LayerNameOrArn, LayerVersionArn).
LAYER_NAME_OR_ARN_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
    r"layer:[a-zA-Z0-9-_]{1,140}|[a-zA-Z0-9-_]{1,140})"
)
LAYER_VERSION_ARN_PATTERN = (
    r"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
    r"layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+))"
)


def layer_arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:{name}"


def _created_date(ts: float) -> str:
    """Layers' CreatedDate: ``2024-01-31T12:34:56.789+0000`` (as functions' LastModified)."""
    d = dt.datetime.fromtimestamp(ts, dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}+0000"


def not_found() -> exc.ResourceNotFoundException:
    return exc.ResourceNotFoundException("The resource you requested does not exist.")


def version_does_not_exist(arn: str) -> exc.InvalidParameterValueException:
    # verified: CreateFunction's answer for a missing layer version (public terraform reports)
    return exc.InvalidParameterValueException(f"Layer version {arn} does not exist.")


@dataclass
class LayerVersion:
    name: str
    region: str
    version: int
    sha256: str
    size: int
    zip_path: str
    description: str = ""
    compatible_runtimes: list[str] = field(default_factory=list)
    compatible_architectures: list[str] = field(default_factory=list)
    license_info: str | None = None
    created: float = field(default_factory=time.time)

    @property
    def layer_arn(self) -> str:
        return layer_arn(self.region, self.name)

    @property
    def arn(self) -> str:
        return f"{self.layer_arn}:{self.version}"

    def list_item(self) -> dict[str, Any]:
        """LayerVersionsListItem."""
        item: dict[str, Any] = {
            "LayerVersionArn": self.arn,
            "Version": self.version,
            "Description": self.description,
            "CreatedDate": _created_date(self.created),
        }
        if self.compatible_runtimes:
            item["CompatibleRuntimes"] = list(self.compatible_runtimes)
        if self.compatible_architectures:
            item["CompatibleArchitectures"] = list(self.compatible_architectures)
        if self.license_info is not None:
            item["LicenseInfo"] = self.license_info
        return item

    def describe(self, location: str) -> dict[str, Any]:
        """GetLayerVersionResponse / PublishLayerVersionResponse."""
        return {
            "Content": {"Location": location, "CodeSha256": self.sha256, "CodeSize": self.size},
            "LayerArn": self.layer_arn,
            **self.list_item(),
        }

    def ref(self) -> LayerRef:
        return LayerRef(arn=self.arn, code_size=self.size, zip_path=self.zip_path)

    def matches(self, runtime: str | None, architecture: str | None) -> bool:
        return (runtime is None or runtime in self.compatible_runtimes) and (
            architecture is None or architecture in self.compatible_architectures
        )


@dataclass(frozen=True)
class LayerRef:
    """A function's reference to a layer version: what its configuration shows and mounts. It
    outlives the version's deletion, as AWS's copy does."""

    arn: str
    code_size: int
    zip_path: str

    @classmethod
    def from_state(cls, d: Any) -> LayerRef:
        if isinstance(d, str):  # state written before layers were mounted: ARNs only
            return cls(arn=d, code_size=0, zip_path="")
        return cls(**d)


class LayerStore:
    """The layers of one region, persisted next to the functions (``layers-<region>.json``)."""

    def __init__(self, region: str, data_dir: str) -> None:
        self.region = region
        self.root = os.path.join(data_dir, "layers", region)
        self.state_file = os.path.join(data_dir, f"layers-{region}.json")
        self.versions: dict[str, dict[int, LayerVersion]] = {}
        self.latest: dict[str, int] = {}  # highest number ever published, deleted or not

    # --- persistence --------------------------------------------------------------------------

    def save(self) -> None:
        os.makedirs(os.path.dirname(self.state_file), exist_ok=True)
        state = {
            "latest": self.latest,
            "versions": [vars(v) for vs in self.versions.values() for v in vs.values()],
        }
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.state_file)

    def load(self) -> None:
        if not os.path.exists(self.state_file):
            return
        with open(self.state_file) as f:
            state = json.load(f)
        self.latest = {k: int(v) for k, v in state.get("latest", {}).items()}
        for d in state.get("versions", []):
            v = LayerVersion(**d)
            if os.path.exists(v.zip_path):
                self.versions.setdefault(v.name, {})[v.version] = v

    def clear(self) -> None:
        """Forget every layer and its files (the lab's reset)."""
        self.versions.clear()
        self.latest.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.state_file)

    # --- names --------------------------------------------------------------------------------

    def name_of(self, name_or_arn: Any, member: str = "layerName") -> str:
        """The layer's name from ``LayerName`` (a name or a layer ARN)."""
        if not isinstance(name_or_arn, str) or not re.fullmatch(
            LAYER_NAME_OR_ARN_PATTERN, name_or_arn
        ):
            raise exc.ValidationException(
                name_or_arn,
                member,
                f"Member must satisfy regular expression pattern: {LAYER_NAME_OR_ARN_PATTERN}",
            )
        return name_or_arn.rsplit(":layer:", 1)[-1]

    def _in_region(self, name_or_arn: str) -> bool:
        return not name_or_arn.startswith("arn:") or name_or_arn.startswith(
            layer_arn(self.region, "")
        )

    # --- operations ---------------------------------------------------------------------------

    def publish(self, name_or_arn: str, data: bytes, p: dict[str, Any]) -> LayerVersion:
        name = self.name_of(name_or_arn)
        if not self._in_region(name_or_arn):
            raise exc.InvalidParameterValueException(  # unverified wording
                f"Layers can only be published in the region and account of the request: "
                f"{name_or_arn}"
            )
        check_package(data)
        version = self.latest.get(name, 0) + 1
        folder = os.path.join(self.root, name)
        os.makedirs(folder, exist_ok=True)
        zip_path = os.path.join(folder, f"{version}.zip")
        with open(zip_path, "wb") as f:
            f.write(data)
        lv = LayerVersion(
            name=name,
            region=self.region,
            version=version,
            sha256=code_sha256(data),
            size=len(data),
            zip_path=zip_path,
            description=p.get("Description") or "",
            compatible_runtimes=list(p.get("CompatibleRuntimes") or []),
            compatible_architectures=list(p.get("CompatibleArchitectures") or []),
            license_info=p.get("LicenseInfo"),
        )
        self.latest[name] = version
        self.versions.setdefault(name, {})[version] = lv
        self.save()
        return lv

    @staticmethod
    def _number(version: Any) -> int:
        try:
            n = int(version)
        except (TypeError, ValueError):
            raise exc.ValidationException(
                version, "versionNumber", "Member must be a long"
            ) from None
        if n < 1:
            # unverified wording (LocalStack answers so, matching AWS)
            raise exc.InvalidParameterValueException("Layer Version Cannot be less than 1")
        return n

    def get(self, name_or_arn: str, version: Any) -> LayerVersion:
        name = self.name_of(name_or_arn)
        n = self._number(version)
        lv = self.versions.get(name, {}).get(n) if self._in_region(name_or_arn) else None
        if lv is None:
            raise not_found()
        return lv

    def get_by_arn(self, arn: Any, member: str = "arn") -> LayerVersion:
        if not isinstance(arn, str) or not re.fullmatch(LAYER_VERSION_ARN_PATTERN, arn):
            raise exc.ValidationException(
                arn,
                member,
                f"Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}",
            )
        if ":awslayer:" in arn:
            raise not_found()
        layer, _, version = arn.rpartition(":")
        return self.get(layer, version)

    def delete(self, name_or_arn: str, version: Any, in_use: bool) -> None:
        """Hide the version; keep its zip while a function refers to it (``in_use``). Deleting a
        version that does not exist succeeds, as on AWS."""
        name = self.name_of(name_or_arn)
        n = self._number(version)
        if not self._in_region(name_or_arn):
            return
        lv = self.versions.get(name, {}).pop(n, None)
        if lv is None:
            return
        if not self.versions[name]:
            del self.versions[name]
        self.save()
        if not in_use:
            with contextlib.suppress(OSError):
                os.remove(lv.zip_path)

    def list_versions(
        self, name_or_arn: str, runtime: str | None, architecture: str | None
    ) -> list[LayerVersion]:
        """Newest first, as AWS lists them."""
        name = self.name_of(name_or_arn)
        if not self._in_region(name_or_arn):
            return []
        found = self.versions.get(name, {}).values()
        return sorted(
            (v for v in found if v.matches(runtime, architecture)),
            key=lambda v: v.version,
            reverse=True,
        )

    def list_layers(self, runtime: str | None, architecture: str | None) -> list[LayerVersion]:
        """Each layer's latest version that matches, by layer name."""
        out = []
        for name in sorted(self.versions):
            matching = self.list_versions(name, runtime, architecture)
            if matching:
                out.append(matching[0])
        return out

    def resolve(self, arns: Any) -> list[LayerRef]:
        """A function's ``Layers``: each must be a version that exists (at most five)."""
        if not isinstance(arns, list):
            raise exc.InvalidParameterValueException("Layers must be a list of layer version ARNs")
        for arn in arns:
            if not isinstance(arn, str) or not re.fullmatch(LAYER_VERSION_ARN_PATTERN, arn):
                raise exc.ValidationException(
                    arns,
                    "layers",
                    "Member must satisfy constraint: [Member must satisfy regular expression "
                    f"pattern: {LAYER_VERSION_ARN_PATTERN}]",
                )
        if len(arns) > MAX_LAYERS:
            raise exc.InvalidParameterValueException(
                f"Cannot reference more than {MAX_LAYERS} layers."  # unverified wording
            )
        if len({a.rpartition(":")[0] for a in arns}) != len(arns):
            raise exc.InvalidParameterValueException(
                "Two different versions of the same layer are not allowed to be referenced in "
                "the same function."  # unverified wording
            )
        refs = []
        for arn in arns:
            try:
                refs.append(self.get_by_arn(arn, "layers").ref())
            except exc.ResourceNotFoundException:
                raise version_does_not_exist(arn) from None
        return refs


def page(
    items: list[LayerVersion], marker: str | None, max_items: int | None
) -> tuple[list[LayerVersion], str | None]:
    """One page of a listing (MaxItems 1..50) and the marker of the next, if any."""
    if max_items is not None and not 1 <= max_items <= 50:
        raise exc.ValidationException(
            max_items,
            "maxItems",
            "Member must have value "
            + ("greater than or equal to 1" if max_items < 1 else "less than or equal to 50"),
        )
    return page_of(items, marker, max_items or 50)


# --- mounting --------------------------------------------------------------------------------


def opt_dir(function_dir: str, layers: list[LayerRef]) -> str:
    """Where a function's merged layers go: one directory per list of layer versions, so a
    configuration change that keeps the layers keeps the directory."""
    key = hashlib.sha256("\n".join(r.arn + "@" + r.zip_path for r in layers).encode())
    return os.path.join(function_dir, "opt", key.hexdigest()[:16])


def mount(zip_paths: tuple[str, ...], dest: str) -> str:
    """Extract the layers into ``dest`` in order (a later file replaces an earlier one, as in
    AWS's single ``/opt``); built once, atomically, then reused by every environment."""
    if os.path.isdir(dest):
        return dest
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".mounting-", dir=parent)
    try:
        for path in zip_paths:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    target = os.path.join(work, info.filename)
                    if info.is_dir():
                        os.makedirs(target, exist_ok=True)
                        continue
                    if os.path.lexists(target) and not os.path.isdir(target):
                        os.remove(target)  # replace, not write through, an earlier layer's file
                    zf.extract(info, work)
                    mode = (info.external_attr >> 16) & 0o777
                    if mode:
                        os.chmod(target, mode | 0o400)
        os.rename(work, dest)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not os.path.isdir(dest):
            raise
    return dest


def python_paths(opt: str, minor: int | None = None) -> list[str]:
    """The Python runtime's layer entries of ``sys.path``, in AWS's order."""
    minor = sys.version_info.minor if minor is None else minor
    return [
        os.path.join(opt, "python", "lib", f"python3.{minor}", "site-packages"),
        os.path.join(opt, "python"),
    ]
