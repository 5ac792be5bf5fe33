"""The runtime directory (AWS's ``LAMBDA_RUNTIME_DIR``): what the Python runtime gives a function
besides its own code.

On AWS a python3.12/3.13 function's ``sys.path`` is ``/var/task`` (its zip), the layers
(``/opt/python/lib/python3.x/site-packages``, ``/opt/python``), the runtime's own packages
(awslambdaric and the SDK: boto3, botocore, s3transfer, jmespath, urllib3, python-dateutil, six),
then the standard library. A zip that forgot a dependency fails there with
``Runtime.ImportModuleError``, so an environment here must not see the rest of the lab's
virtualenv either.

This module builds, once per interpreter and set of versions, a directory of symlinks to just
those distributions' top-level modules and ``.dist-info`` (so ``importlib.metadata`` still
answers for boto3), plus :mod:`streamlab.awslambda.bootstrap`. Environments start with
``python -S`` and this directory on ``PYTHONPATH``, after the function's layers (merged into one
directory, this emulator's ``/opt``: see :mod:`streamlab.awslambda.layers`), as on AWS.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata

# What the AWS runtime installs; their requirements (without extras) come along.
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "boto3")
BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap.py")

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(requirements: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions of ``requirements`` (``name`` or ``name[extra,...]``) and of
    what they require, with the extras asked for; what is not installed is left out."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(requirements)
    while todo:
        m = _REQUIREMENT.match(todo.pop())
        if m is None:
            continue
        name, extras = _normalize(m.group(1)), set(re.findall(r"[\w.-]+", m.group(2) or ""))
        try:
            dist = seen.get(name) or metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed in the lab: the function cannot have it either
        new = name not in seen
        seen[name] = dist
        for req in dist.requires or []:
            marker = req.partition(";")[2]
            wanted = set(re.findall(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker))
            if (wanted & extras) if wanted else new:
                todo.append(req.partition(";")[0])
    return [seen[k] for k in sorted(seen)]


def distributions() -> list[metadata.Distribution]:
    """What the runtime directory holds."""
    return closure(RUNTIME_DISTRIBUTIONS)


def _top_levels(dist: metadata.Distribution) -> set[str]:
    """Names directly in site-packages that belong to ``dist`` (packages, modules, .dist-info)."""
    tops = set()
    for f in dist.files or []:
        top = f.parts[0]
        if top not in ("..", "__pycache__") and not top.endswith(".pth"):
            tops.add(top)
    return tops


def _build(path: str, dists: list[metadata.Distribution]) -> None:
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".building-", dir=parent)
    try:
        for dist in dists:
            for top in _top_levels(dist):
                src = str(dist.locate_file(top))
                if os.path.exists(src) and not os.path.lexists(os.path.join(work, top)):
                    os.symlink(src, os.path.join(work, top))
        os.symlink(BOOTSTRAP, os.path.join(work, "bootstrap.py"))
        os.rename(work, path)  # atomic: another process may be building the same directory
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not os.path.isdir(path):
            raise


@functools.cache
def _location() -> tuple[str, tuple[metadata.Distribution, ...]]:
    dists = distributions()
    key = hashlib.sha256(
        "\n".join(
            [sys.executable, BOOTSTRAP]
            + [f"{d.metadata['Name']}=={d.version}@{d.locate_file('')}" for d in dists]
        ).encode()
    ).hexdigest()[:16]
    path = os.path.join(tempfile.gettempdir(), f"streamlab-lambda-runtime-{os.getuid()}", key)
    return path, tuple(dists)


def runtime_dir() -> str:
    """The directory, shared by the lab's processes; (re)built when missing (a tmp cleaner)."""
    path, dists = _location()
    if not os.path.isdir(path):
        _build(path, list(dists))
    return path
