"""A deployment package's dependencies, vendored from the lab's own environment.

An execution environment sees only its zip and the runtime (:mod:`.runtime_dir`), as on AWS, so
a function importing, say, confluent_kafka must carry it, as ``pip install -t package/`` would
put it. Here the files come from the installed distributions (offline, and built for the
interpreter the emulator runs), not from wheels downloaded for AWS (``python -m
lambda_fn.package`` does that).
"""

from __future__ import annotations

from streamlab.awslambda.runtime_dir import closure, distributions


def vendor(*requirements: str) -> dict[str, bytes]:
    """{path in the zip: content} for installed distributions (``name`` or ``name[extra]``) and
    what they require, minus what the Lambda runtime has already (boto3 & co.); for
    :func:`streamlab.awslambda.testing.make_zip` or a zip being written."""
    provided = {d.metadata["Name"] for d in distributions()}
    files: dict[str, bytes] = {}
    for dist in closure(requirements):
        if dist.metadata["Name"] in provided:
            continue
        for f in dist.files or []:
            if f.parts[0] == ".." or "__pycache__" in f.parts or f.suffix in (".pyc", ".pth"):
                continue  # scripts outside site-packages, caches, site hooks
            path = dist.locate_file(f)
            if path.is_file():  # RECORD may list files an installer did not write
                files[f.as_posix()] = path.read_bytes()
    return files
