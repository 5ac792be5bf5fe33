"""String functions, with ksqlDB's semantics (1-based positions, Java's ``trim``, ...)."""

from __future__ import annotations

import re
import unicodedata

from streamlab.ksql.errors import KsqlFunctionException
from streamlab.ksql.functions.registry import BOOLEAN, INTEGER, STRING, udf
from streamlab.ksql.jvm import hash_map_order
from streamlab.ksql.types import SqlArray, SqlMap

_CAT = "STRING"


@udf("ucase", STRING, returns=STRING, category=_CAT)
def ucase(text: str) -> str:
    """Upper-cases a string."""
    return text.upper()


@udf("lcase", STRING, returns=STRING, category=_CAT)
def lcase(text: str) -> str:
    """Lower-cases a string."""
    return text.lower()


@udf("concat", STRING, returns=STRING, variadic=True, null_on_null=False, category=_CAT)
def concat(*parts: str | None) -> str:
    """Concatenates strings; NULL arguments are skipped."""
    return "".join(p for p in parts if p is not None)


@udf("concat_ws", STRING, STRING, returns=STRING, variadic=True, null_on_null=False, category=_CAT)
def concat_ws(separator: str | None, *parts: str | None) -> str | None:
    """Concatenates strings with a separator between them; NULL parts are skipped."""
    if separator is None:
        return None
    return separator.join(p for p in parts if p is not None)


def _start_index(length: int, pos: int) -> int:
    return max(length + pos, 0) if pos < 0 else max(min(pos - 1, length), 0)


@udf("substring", STRING, INTEGER, returns=STRING, category=_CAT)
def substring(text: str, pos: int) -> str:
    """The substring from 1-based position ``pos`` (negative counts from the end)."""
    return text[_start_index(len(text), pos) :]


@udf("substring", STRING, INTEGER, INTEGER, returns=STRING, category=_CAT)
def substring_len(text: str, pos: int, length: int) -> str:
    """The substring of ``length`` characters from 1-based position ``pos``."""
    start = _start_index(len(text), pos)
    end = max(min(start + length, len(text)), start)
    return text[start:end]


@udf("len", STRING, returns=INTEGER, category=_CAT)
def length(text: str) -> int:
    """The number of characters in a string."""
    return len(text)


def java_trim(text: str) -> str:
    """Java's ``String.trim``: strips every character up to and including the space."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


@udf("trim", STRING, returns=STRING, category=_CAT)
def trim(text: str) -> str:
    """Removes leading and trailing whitespace (characters up to the space)."""
    return java_trim(text)


@udf("ltrim", STRING, returns=STRING, category=_CAT)
def ltrim(text: str) -> str:
    """Removes leading whitespace."""
    i = 0
    while i < len(text) and text[i] <= " ":
        i += 1
    return text[i:]


@udf("rtrim", STRING, returns=STRING, category=_CAT)
def rtrim(text: str) -> str:
    """Removes trailing whitespace."""
    i = len(text)
    while i > 0 and text[i - 1] <= " ":
        i -= 1
    return text[:i]


@udf("replace", STRING, STRING, STRING, returns=STRING, category=_CAT)
def replace(text: str, old: str, new: str) -> str:
    """Replaces every occurrence of ``old`` by ``new``."""
    return text.replace(old, new)


@udf("split", STRING, STRING, returns=SqlArray(STRING), category=_CAT)
def split(text: str, delimiter: str) -> list[str]:
    """Splits a string on a delimiter (an empty delimiter splits into characters)."""
    if delimiter == "":
        return list(text) or [""]
    return text.split(delimiter)


@udf("lpad", STRING, INTEGER, STRING, returns=STRING, null_on_null=False, category=_CAT)
def lpad(text: str | None, target: int | None, padding: str | None) -> str | None:
    """Pads on the left to ``target`` characters (truncates when longer)."""
    if text is None or not padding or target is None or target < 0:
        return None
    pad_up_to = max(target - len(text), 0)
    pad = (padding * (pad_up_to // len(padding) + 1))[:pad_up_to]
    return (pad + text)[:target]


@udf("rpad", STRING, INTEGER, STRING, returns=STRING, null_on_null=False, category=_CAT)
def rpad(text: str | None, target: int | None, padding: str | None) -> str | None:
    """Pads on the right to ``target`` characters (truncates when longer)."""
    if text is None or not padding or target is None or target < 0:
        return None
    result = text[:target]
    while len(result) < target:
        result += padding
    return result[:target]


def _ordinal_index(text: str, sub: str, occurrence: int) -> int:
    index = -1
    for _ in range(occurrence):
        index = text.find(sub, index + 1)
        if index < 0:
            return -1
    return index


def _instr(text: str | None, sub: str | None, position: int = 1, occurrence: int = 1) -> int:
    if text is None or sub is None:
        return 0
    if abs(position) > len(text):
        return 0
    reverse = position < 0
    if reverse:
        text, sub, position = text[::-1], sub[::-1], -position
    i = _ordinal_index(text[position - 1 :], sub, occurrence)
    if i == -1:
        return 0
    return len(text) - position - i - len(sub) + 2 if reverse else i + position


@udf("instr", STRING, STRING, returns=INTEGER, null_on_null=False, category=_CAT)
def instr(text, sub):
    """The 1-based position of ``sub`` in ``text``, or 0."""
    return _instr(text, sub)


@udf("instr", STRING, STRING, INTEGER, returns=INTEGER, null_on_null=False, category=_CAT)
def instr_from(text, sub, position):
    """The position of ``sub`` searching from ``position`` (negative: backwards)."""
    return _instr(text, sub, position)


@udf("instr", STRING, STRING, INTEGER, INTEGER, returns=INTEGER, null_on_null=False, category=_CAT)
def instr_nth(text, sub, position, occurrence):
    """The position of the ``occurrence``-th ``sub`` searching from ``position``."""
    return _instr(text, sub, position, occurrence)


@udf("initcap", STRING, returns=STRING, category=_CAT)
def initcap(text: str) -> str:
    """Capitalizes the first letter of each whitespace-separated word."""
    return "".join(part[0].upper() + part[1:] for part in re.findall(r"\S+\s*", text.lower()))


# ---- masking ------------------------------------------------------------------------------------

_NO_MASK = None


def _mask_char(mask: str | None, default: str) -> str | None:
    if mask is None:
        return _NO_MASK
    if len(mask) != 1:
        raise KsqlFunctionException(
            "Invalid mask character. Must be only single character, but was '" + mask + "'"
        )
    return mask


class _Masker:
    def __init__(self, upper="X", lower="x", digit="n", other="-"):
        self.upper, self.lower, self.digit, self.other = upper, lower, digit, other

    def mask(self, text: str) -> str:
        out = []
        for ch in text:
            category = unicodedata.category(ch)
            if category == "Lu":
                replacement = self.upper
            elif category == "Ll":
                replacement = self.lower
            elif category == "Nd":
                replacement = self.digit
            else:
                replacement = self.other
            out.append(ch if replacement is None else replacement)
        return "".join(out)


def _masker(upper=None, lower=None, digit=None, other=None, custom=False) -> _Masker:
    if not custom:
        return _Masker()
    return _Masker(
        _mask_char(upper, "X"),
        _mask_char(lower, "x"),
        _mask_char(digit, "n"),
        _mask_char(other, "-"),
    )


@udf("mask", STRING, returns=STRING, category=_CAT)
def mask(text: str) -> str:
    """Masks letters (X/x), digits (n) and other characters (-)."""
    return _Masker().mask(text)


@udf(
    "mask",
    STRING,
    STRING,
    STRING,
    STRING,
    STRING,
    returns=STRING,
    null_on_null=False,
    category=_CAT,
)
def mask_custom(text, upper, lower, digit, other):
    """Masks with the given replacement characters (NULL keeps that class unmasked)."""
    if text is None:
        return None
    return _masker(upper, lower, digit, other, custom=True).mask(text)


def _check_count(name: str, count: int) -> None:
    if count < 0:
        raise KsqlFunctionException(
            f"function {name} requires a non-negative number of characters to mask or skip"
        )


def _register_partial(name: str, keep: bool, left: bool) -> None:
    def run(text, count, masker):
        _check_count(name, count)
        if text is None:
            return None
        n = min(count, len(text))
        if left:
            head, tail = text[:n], text[n:]
            return head + masker.mask(tail) if keep else masker.mask(head) + tail
        head, tail = text[: len(text) - n], text[len(text) - n :]
        return masker.mask(head) + tail if keep else head + masker.mask(tail)

    udf(name, STRING, INTEGER, returns=STRING, null_on_null=False, category=_CAT)(
        lambda text, count: run(text, count, _Masker())
    )
    udf(
        name,
        STRING,
        INTEGER,
        STRING,
        STRING,
        STRING,
        STRING,
        returns=STRING,
        null_on_null=False,
        category=_CAT,
    )(lambda text, count, u, lo, d, o: run(text, count, _masker(u, lo, d, o, custom=True)))


_register_partial("mask_keep_left", keep=True, left=True)
_register_partial("mask_keep_right", keep=True, left=False)
_register_partial("mask_left", keep=False, left=True)
_register_partial("mask_right", keep=False, left=False)


# ---- regular expressions and misc ---------------------------------------------------------------


def _java_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise KsqlFunctionException(f"Invalid regular expression pattern: {pattern}") from error


@udf("regexp_extract", STRING, STRING, returns=STRING, category=_CAT)
def regexp_extract(pattern: str, text: str) -> str | None:
    """The first substring matching the pattern."""
    match = _java_regex(pattern).search(text)
    return match.group(0) if match else None


@udf("regexp_extract", STRING, STRING, INTEGER, returns=STRING, category=_CAT)
def regexp_extract_group(pattern: str, text: str, group: int) -> str | None:
    """Group ``group`` of the first match of the pattern."""
    compiled = _java_regex(pattern)
    if group > compiled.groups:
        return None
    match = compiled.search(text)
    return match.group(group) if match else None


@udf("regexp_replace", STRING, STRING, STRING, returns=STRING, category=_CAT)
def regexp_replace(text: str, pattern: str, replacement: str) -> str:
    """Replaces every match of the pattern (``$1`` refers to a group)."""
    py_replacement = re.sub(r"\$(\d+)", r"\\\1", replacement)
    return _java_regex(pattern).sub(py_replacement, text)


@udf("chr", INTEGER, returns=STRING, category=_CAT)
def chr_code(code: int) -> str | None:
    """The character with the given Unicode code point."""
    if not 0 <= code <= 0x10FFFF:
        return None
    return chr(code)


@udf("chr", STRING, returns=STRING, category=_CAT)
def chr_escape(code: str) -> str | None:
    """The character of a UTF-16 escape such as ``'\\u004b'``."""
    if len(code) < 6 or not code.startswith("\\u"):
        return None
    try:
        return (
            re.sub(
                r"\\u+([0-9a-fA-F]{4})",
                lambda m: chr(int(m.group(1), 16)),
                code,
            )
            .encode("utf-16", "surrogatepass")
            .decode("utf-16")
        )
    except (ValueError, UnicodeDecodeError):
        return None


def _split_on(compiled: re.Pattern[str], text: str) -> list[str]:
    """Guava's ``Splitter.on(pattern)``: every match splits, trailing empty parts are kept."""
    parts, start = [], 0
    for match in compiled.finditer(text):
        parts.append(text[start : match.start()])
        start = match.end()
    parts.append(text[start:])
    return parts


def _java_pattern_split(compiled: re.Pattern[str], text: str) -> list[str]:
    """Java's ``Pattern.split``: no leading empty part for a zero-width match, no trailing."""
    if text == "":
        return [""]
    parts, start = [], 0
    for match in compiled.finditer(text):
        if match.end() == 0:
            continue
        if match.start() == match.end() and match.start() >= len(text):
            continue
        parts.append(text[start : match.start()])
        start = match.end()
    parts.append(text[start:])
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


@udf("regexp_split_to_array", STRING, STRING, returns=SqlArray(STRING), category=_CAT)
def regexp_split_to_array(text: str, pattern: str) -> list[str]:
    """Splits a string on every match of a regular expression."""
    compiled = _java_regex(pattern)
    if pattern == "" or compiled.fullmatch(""):
        return _java_pattern_split(compiled, text)
    return _split_on(compiled, text)


@udf("regexp_extract_all", STRING, STRING, returns=SqlArray(STRING), category=_CAT)
def regexp_extract_all(pattern: str, text: str) -> list[str]:
    """Every substring matching the pattern."""
    return [m.group(0) for m in _java_regex(pattern).finditer(text)]


@udf("regexp_extract_all", STRING, STRING, INTEGER, returns=SqlArray(STRING), category=_CAT)
def regexp_extract_all_group(pattern: str, text: str, group: int) -> list[str] | None:
    """Group ``group`` of every match of the pattern."""
    compiled = _java_regex(pattern)
    if group > compiled.groups:
        return None
    return [m.group(group) for m in compiled.finditer(text)]


@udf("split_to_map", STRING, STRING, STRING, returns=SqlMap(STRING, STRING), category=_CAT)
def split_to_map(text: str, entry_delimiter: str, kv_delimiter: str) -> dict[str, str] | None:
    """Splits ``k1=v1;k2=v2`` style text into a map (the last value of a key wins)."""
    if not entry_delimiter or not kv_delimiter or entry_delimiter == kv_delimiter:
        return None
    result: dict[str, str] = {}
    for entry in text.split(entry_delimiter):
        if not entry or kv_delimiter not in entry:
            continue
        parts = entry.split(kv_delimiter)
        result[parts[0]] = parts[1]
    return {k: result[k] for k in hash_map_order(list(result))}


@udf("elt", INTEGER, STRING, returns=STRING, variadic=True, null_on_null=False, category=_CAT)
def elt(n: int | None, *values: str | None) -> str | None:
    """The ``n``-th of the following arguments (1-based), or NULL."""
    if n is None or n < 1 or n > len(values):
        return None
    return values[n - 1]


@udf("field", STRING, STRING, returns=INTEGER, variadic=True, null_on_null=False, category=_CAT)
def field(value: str | None, *values: str | None) -> int:
    """The 1-based position of ``value`` among the following arguments, or 0."""
    if value is None:
        return 0
    for i, candidate in enumerate(values, 1):
        if candidate == value:
            return i
    return 0


@udf("uuid", returns=STRING, category=_CAT)
def uuid_() -> str:
    """A random UUID."""
    import uuid

    return str(uuid.uuid4())


@udf("is_json_string", STRING, returns=BOOLEAN, null_on_null=False, category="JSON")
def is_json_string(text: str | None) -> bool:
    """Whether the string is valid JSON."""
    import json

    if text is None:
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
