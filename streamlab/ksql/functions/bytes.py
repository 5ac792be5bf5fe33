"""BYTES functions and the BYTES overloads of string functions (``LEN``, ``SUBSTRING``, ...).

Encodings are ksqlDB's ``BytesUtils`` ones: ``hex`` (upper-case), ``utf8``, ``ascii`` and
``base64``; decoding invalid text follows Java (replacement characters, not errors).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

from streamlab.ksql.errors import KsqlException, KsqlFunctionException
from streamlab.ksql.functions.registry import BIGINT, DOUBLE, INTEGER, STRING, udf
from streamlab.ksql.types import SqlArray, SqlTypes

BYTES = SqlTypes.BYTES
_CAT = "STRING"
_ENCODINGS = ("hex", "utf8", "ascii", "base64")


def _encoding(name: str) -> str:
    lowered = name.lower()
    if lowered not in _ENCODINGS:
        raise KsqlFunctionException(
            f"Unknown encoding type '{name}'. "
            "Supported formats are 'hex', 'utf8', 'ascii', and 'base64'."
        )
    return lowered


def encode_bytes(value: bytes, encoding: str) -> str:
    """``BytesUtils.encode``: BYTES to text in an encoding."""
    kind = _encoding(encoding)
    if kind == "hex":
        return value.hex().upper()
    if kind == "utf8":
        return value.decode("utf-8", errors="replace")
    if kind == "ascii":
        return "".join(chr(b) if b < 128 else "\ufffd" for b in value)
    return base64.b64encode(value).decode("ascii")


def decode_text(text: str, encoding: str) -> bytes:
    """``BytesUtils.decode``: text in an encoding to BYTES."""
    kind = _encoding(encoding)
    try:
        if kind == "hex":
            return bytes.fromhex(text) if len(text) % 2 == 0 else _odd_hex(text)
        if kind == "utf8":
            return text.encode("utf-8", errors="replace")
        if kind == "ascii":
            return text.encode("ascii", errors="replace")
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as error:
        raise KsqlFunctionException(f"Failed to decode '{text}' as {kind}") from error


def _odd_hex(text: str) -> bytes:
    raise ValueError(f"hexBinary needs to be even-length: {text}")


udf("to_bytes", STRING, STRING, returns=BYTES, category=_CAT)(decode_text)
udf("from_bytes", BYTES, STRING, returns=STRING, category=_CAT)(encode_bytes)


def _byte_order(name: str) -> str:
    upper = name.upper() if name is not None else None
    if upper == "BIG_ENDIAN":
        return ">"
    if upper == "LITTLE_ENDIAN":
        return "<"
    raise KsqlException(
        f"Byte order must be BIG_ENDIAN or LITTLE_ENDIAN. Unknown byte order '{name}'."
    )


def _from_bytes(code: str, size: int):
    def convert(value: bytes, order: str = "BIG_ENDIAN"):
        if len(value) != size:
            raise KsqlException(f"Number of bytes must be equal to {size}, but found {len(value)}")
        return struct.unpack(_byte_order(order) + code, value)[0]

    return convert


for _name, _code, _size, _type in (
    ("int_from_bytes", "i", 4, INTEGER),
    ("bigint_from_bytes", "q", 8, BIGINT),
    ("double_from_bytes", "d", 8, DOUBLE),
):
    udf(_name, BYTES, returns=_type, category="CONVERSIONS")(_from_bytes(_code, _size))
    udf(_name, BYTES, STRING, returns=_type, category="CONVERSIONS")(_from_bytes(_code, _size))


# ---- BYTES overloads of string functions --------------------------------------------------------

udf("len", BYTES, returns=INTEGER, category=_CAT)(len)


def _start(length: int, pos: int) -> int:
    return max(length + pos, 0) if pos < 0 else max(min(pos - 1, length), 0)


@udf("substring", BYTES, INTEGER, returns=BYTES, category=_CAT)
def substring_bytes(value: bytes, pos: int) -> bytes:
    """The bytes from 1-based position ``pos``."""
    return value[_start(len(value), pos) :]


@udf("substring", BYTES, INTEGER, INTEGER, returns=BYTES, category=_CAT)
def substring_bytes_len(value: bytes, pos: int, length: int) -> bytes:
    """``length`` bytes from 1-based position ``pos``."""
    start = _start(len(value), pos)
    return value[start : max(min(start + length, len(value)), start)]


@udf("lpad", BYTES, INTEGER, BYTES, returns=BYTES, null_on_null=False, category=_CAT)
def lpad_bytes(value: bytes | None, target: int | None, padding: bytes | None) -> bytes | None:
    """Pads on the left to ``target`` bytes (truncates when longer)."""
    if value is None or not padding or target is None or target < 0:
        return None
    if len(value) > target:
        return value[:target]
    pad_up_to = target - len(value)
    return (padding * (pad_up_to // len(padding) + 1))[:pad_up_to] + value


@udf("rpad", BYTES, INTEGER, BYTES, returns=BYTES, null_on_null=False, category=_CAT)
def rpad_bytes(value: bytes | None, target: int | None, padding: bytes | None) -> bytes | None:
    """Pads on the right to ``target`` bytes (truncates when longer)."""
    if value is None or not padding or target is None or target < 0:
        return None
    result = value[:target]
    missing = target - len(result)
    return result + (padding * (missing // len(padding) + 1))[:missing]


@udf("concat", BYTES, returns=BYTES, variadic=True, null_on_null=False, category=_CAT)
def concat_bytes(*parts: bytes | None) -> bytes:
    """Concatenates BYTES values; NULL arguments are skipped."""
    return b"".join(p for p in parts if p is not None)


@udf("concat_ws", BYTES, BYTES, returns=BYTES, variadic=True, null_on_null=False, category=_CAT)
def concat_ws_bytes(separator: bytes | None, *parts: bytes | None) -> bytes | None:
    """Concatenates BYTES values with a separator; NULL parts are skipped."""
    if separator is None:
        return None
    return separator.join(p for p in parts if p is not None)


@udf("split", BYTES, BYTES, returns=SqlArray(BYTES), category=_CAT)
def split_bytes(value: bytes, delimiter: bytes) -> list[bytes]:
    """Splits BYTES on a delimiter (an empty delimiter splits into single bytes)."""
    if not value:
        return [b""]
    if not delimiter:
        return [value[i : i + 1] for i in range(len(value))]
    return value.split(delimiter)


# ---- hashing and re-encoding of strings ---------------------------------------------------------


@udf("md5", STRING, returns=STRING, category=_CAT)
def md5(text: str) -> str:
    """The hex-encoded MD5 hash of the string's UTF-8 bytes."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _hex_strip(text: str) -> str:
    if text.startswith("0x"):
        return "0" + text[2:] if len(text) % 2 != 0 else text[2:]
    if len(text) >= 3 and text[0] in "xX" and text[1] == "'" and text.endswith("'"):
        return text[2:-1]
    return text


def _decode_for_encode(text: str, encoding: str) -> bytes:
    if encoding == "hex":
        stripped = _hex_strip(text)
        try:
            return bytes.fromhex(stripped) if len(stripped) % 2 == 0 else _odd_digits()
        except ValueError as error:
            raise KsqlFunctionException(str(error)) from error
    if encoding == "utf8":
        return text.encode("utf-8", errors="replace")
    if encoding == "ascii":
        return text.encode("ascii", errors="replace")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=False)


def _odd_digits() -> bytes:
    raise ValueError("Odd number of characters.")


@udf("encode", STRING, STRING, STRING, returns=STRING, category=_CAT)
def encode(text: str, input_encoding: str, output_encoding: str) -> str:
    """Re-encodes a string from one encoding to another (hex, utf8, ascii, base64)."""
    source, target = input_encoding.lower(), output_encoding.lower()
    if source not in _ENCODINGS or target not in _ENCODINGS or source == target:
        raise KsqlFunctionException(
            "Supported input and output encodings are: hex, utf8, ascii and base64"
        )
    data = _decode_for_encode(text, source)
    if target == "hex":
        return data.hex()
    if target == "base64":
        return base64.b64encode(data).decode("ascii")
    if target == "ascii":
        return "".join(chr(b) if b < 128 else "\ufffd" for b in data)
    return data.decode("utf-8", errors="replace")
