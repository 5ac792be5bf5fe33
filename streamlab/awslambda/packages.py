"""A Lambda .zip package (function code or a layer): what the service refuses before it
extracts one, and the extraction itself."""

from __future__ import annotations

import contextlib
import io
import os
import zipfile

from streamlab.awslambda import exceptions as exc

MAX_UNZIPPED = 262_144_000  # bytes: function and layers together, unzipped (AWS quota)


def check_package(data: bytes, test: bool = True) -> int:
    """Refuse what Lambda could not extract (not a zip, empty, too large unzipped, a member
    outside the package root, and with ``test`` a member whose data is corrupt); returns the
    unzipped size."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise exc.bad_zip() from None
    with zf:
        infos = zf.infolist()
        if not infos:
            raise exc.empty_zip()
        unzipped = sum(i.file_size for i in infos)
        if unzipped > MAX_UNZIPPED:
            raise exc.InvalidParameterValueException(
                f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes"
            )
        for info in infos:
            parts = info.filename.replace("\\", "/").split("/")
            if info.filename.startswith("/") or ".." in parts:
                raise exc.bad_zip()
        if test:
            try:
                if zf.testzip() is not None:
                    raise exc.bad_zip()
            except (zipfile.BadZipFile, OSError, RuntimeError, EOFError):
                raise exc.bad_zip() from None
    return unzipped


def extract(data: bytes, dest: str) -> None:
    """Unzip a package checked by :func:`check_package` into ``dest``, keeping the modes the
    zip carries (executables, as Lambda does); a corrupt member is refused here."""
    check_package(data, test=False)  # extracting reads every member anyway
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        try:
            zf.extractall(dest)
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError):
            raise exc.bad_zip() from None
        for info in zf.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(dest, info.filename), mode | 0o400)
