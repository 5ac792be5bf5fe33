"""Java ``DateTimeFormatter`` patterns (``yyyy-MM-dd'T'HH:mm:ss.SSSX``) for Python.

ksqlDB's date functions and ``TIMESTAMP_FORMAT`` take Java patterns. :class:`JavaPattern`
formats and parses them; missing fields default as in ksqlDB's ``StringToTimestampParser``
(1970-01-01T00:00:00.000 in the given zone).

>>> p = JavaPattern("yyyy-MM-dd'T'HH:mm:ss.SSS")
>>> p.format_millis(1514764800001, "UTC")
'2018-01-01T00:00:00.001'
>>> p.parse_millis("2018-01-01T00:00:00.001", "UTC")
1514764800001
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from streamlab.ksql.errors import KsqlFunctionException

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class _Field:
    letter: str  # pattern letter, or "" for a literal
    width: int
    literal: str = ""


def _tokenize(pattern: str) -> list[_Field]:
    fields: list[_Field] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = i + 1
            text = []
            while end < len(pattern):
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        text.append("'")
                        end += 2
                        continue
                    break
                text.append(pattern[end])
                end += 1
            fields.append(_Field("", 0, "".join(text) if text or end > i + 1 else "'"))
            i = end + 1
        elif ch.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == ch:
                j += 1
            if ch not in "GuyDMLdQqYwWEecFaHkKhmsSAnNVzOXxZp":
                raise KsqlFunctionException(f"Unknown pattern letter: {ch}")
            fields.append(_Field(ch, j - i))
            i = j
        elif ch in "[]#{}":
            i += 1  # optional sections are treated as always present
        else:
            fields.append(_Field("", 0, ch))
            i += 1
    return fields


#: Java's ``ZoneId.SHORT_IDS``: three-letter zone names ksqlDB accepts.
SHORT_IDS = {
    "ACT": "Australia/Darwin",
    "AET": "Australia/Sydney",
    "AGT": "America/Argentina/Buenos_Aires",
    "ART": "Africa/Cairo",
    "AST": "America/Anchorage",
    "BET": "America/Sao_Paulo",
    "BST": "Asia/Dhaka",
    "CAT": "Africa/Harare",
    "CNT": "America/St_Johns",
    "CST": "America/Chicago",
    "CTT": "Asia/Shanghai",
    "EAT": "Africa/Addis_Ababa",
    "ECT": "Europe/Paris",
    "IET": "America/Indiana/Indianapolis",
    "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo",
    "MIT": "Pacific/Apia",
    "NET": "Asia/Yerevan",
    "NST": "Pacific/Auckland",
    "PLT": "Asia/Karachi",
    "PNT": "America/Phoenix",
    "PRT": "America/Puerto_Rico",
    "PST": "America/Los_Angeles",
    "SST": "Pacific/Guadalcanal",
    "VST": "Asia/Ho_Chi_Minh",
    "EST": "-05:00",
    "MST": "-07:00",
    "HST": "-10:00",
}


def zone(tz: str | None) -> dt.tzinfo:
    """A Java zone id (``UTC``, ``America/Los_Angeles``, ``+0445``, ``PST``) as a tzinfo."""
    if tz is None or tz.upper() in ("UTC", "Z", "GMT", "UT"):
        return dt.UTC
    tz = SHORT_IDS.get(tz, tz)
    match = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?(?::?(\d{2}))?", tz)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        offset = dt.timedelta(
            hours=int(match.group(2)),
            minutes=int(match.group(3) or 0),
            seconds=int(match.group(4) or 0),
        )
        return dt.timezone(sign * offset)
    try:
        return ZoneInfo(tz)
    except Exception as error:
        raise KsqlFunctionException(f"Unknown time-zone ID: {tz}") from error


def _offset_text(offset: dt.timedelta | None, letter: str, width: int) -> str:
    seconds = int(offset.total_seconds()) if offset is not None else 0
    if seconds == 0 and letter == "X":
        return "Z"
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    hours, minutes = divmod(seconds // 60, 60)
    if letter == "Z":
        return (
            f"{sign}{hours:02d}:{minutes:02d}" if width == 5 else f"{sign}{hours:02d}{minutes:02d}"
        )
    if width == 1:
        return f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else "")
    if width in (2, 4):
        return f"{sign}{hours:02d}{minutes:02d}"
    return f"{sign}{hours:02d}:{minutes:02d}"


class JavaPattern:
    """One compiled Java date-time pattern."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.fields = _tokenize(pattern)
        self._regex: re.Pattern[str] | None = None

    # ---- formatting -----------------------------------------------------------------------------

    def format(self, moment: dt.datetime) -> str:
        out = []
        for f in self.fields:
            if not f.letter:
                out.append(f.literal)
                continue
            out.append(self._format_field(f, moment))
        return "".join(out)

    def format_millis(self, millis: int, tz: str | None = None) -> str:
        moment = EPOCH + dt.timedelta(milliseconds=millis)
        return self.format(moment.astimezone(zone(tz)))

    def _format_field(self, f: _Field, m: dt.datetime) -> str:
        letter, width = f.letter, f.width
        if letter in "yuY":
            return f"{m.year % 100:02d}" if width == 2 else str(m.year).zfill(width)
        if letter in "ML":
            if width >= 4:
                return _MONTHS[m.month - 1]
            if width == 3:
                return _MONTHS[m.month - 1][:3]
            return str(m.month).zfill(width)
        if letter == "d":
            return str(m.day).zfill(width)
        if letter == "D":
            return str(m.timetuple().tm_yday).zfill(width)
        if letter in "Ee":
            name = _DAYS[m.weekday()]
            return name if width >= 4 else name[:3]
        if letter == "a":
            return "AM" if m.hour < 12 else "PM"
        if letter == "H":
            return str(m.hour).zfill(width)
        if letter == "k":
            return str(m.hour or 24).zfill(width)
        if letter == "K":
            return str(m.hour % 12).zfill(width)
        if letter == "h":
            return str(m.hour % 12 or 12).zfill(width)
        if letter == "m":
            return str(m.minute).zfill(width)
        if letter == "s":
            return str(m.second).zfill(width)
        if letter == "S":
            return f"{m.microsecond:06d}000"[:width].ljust(width, "0")
        if letter == "n":
            return str(m.microsecond * 1000)
        if letter in "XxZ":
            return _offset_text(m.utcoffset(), letter, width)
        if letter in "zV":
            return str(m.tzname() or "UTC")
        if letter == "O":
            return "GMT" + _offset_text(m.utcoffset(), "x", 3).replace("+00:00", "")
        raise KsqlFunctionException(f"Unsupported pattern letter: {letter}")

    # ---- parsing --------------------------------------------------------------------------------

    def _compile(self) -> re.Pattern[str]:
        parts = []
        for i, f in enumerate(self.fields):
            if not f.letter:
                parts.append(re.escape(f.literal))
                continue
            name = f"f{i}"
            letter, width = f.letter, f.width
            if letter in "yuY":
                body = r"\d{2}" if width == 2 else rf"[+-]?\d{{{max(width, 1)},9}}"
            elif (letter in "ML" and width >= 3) or letter in "Ee":
                body = "[A-Za-z]+"
            elif letter == "a":
                body = "[AaPp][Mm]"
            elif letter == "S":
                body = rf"\d{{{width}}}"
            elif letter in "XxZ":
                body = r"Z|[+-]\d{2}(?::?\d{2})?(?::?\d{2})?"
            elif letter in "zVO":
                body = r"[A-Za-z_/+\-0-9:]+"
            else:
                body = rf"\d{{{width},{max(width, 2 if letter != 'D' else 3)}}}"
            parts.append(f"(?P<{name}>{body})")
        return re.compile("".join(parts), re.IGNORECASE)

    def parse(self, text: str, tz: str | None = None, lenient: bool = False) -> dt.datetime:
        """Parse ``text``; ``lenient`` ignores trailing text (``SimpleDateFormat.parse``)."""
        if self._regex is None:
            self._regex = self._compile()
        match = self._regex.match(text) if lenient else self._regex.fullmatch(text)
        if match is None:
            raise KsqlFunctionException(
                f"Text '{text}' could not be parsed with pattern '{self.pattern}'"
            )
        year, month, day = 1970, 1, 1
        hour = minute = second = micro = 0
        pm = None
        day_of_year = None
        tzinfo: dt.tzinfo = zone(tz)
        for i, f in enumerate(self.fields):
            if not f.letter:
                continue
            value = match.group(f"f{i}")
            letter = f.letter
            if letter in "yuY":
                year = int(value) + (2000 if f.width == 2 else 0)
            elif letter in "ML":
                month = _month_number(value) if f.width >= 3 else int(value)
            elif letter == "d":
                day = int(value)
            elif letter == "D":
                day_of_year = int(value)
            elif letter in "Hk":
                hour = int(value) % 24
            elif letter in "hK":
                hour = int(value) % 12
            elif letter == "a":
                pm = value.upper() == "PM"
            elif letter == "m":
                minute = int(value)
            elif letter == "s":
                second = int(value)
            elif letter == "S":
                micro = int((value + "000000")[:6])
            elif letter in "XxZ":
                tzinfo = dt.UTC if value.upper() == "Z" else zone(value)
            elif letter in "zV":
                tzinfo = zone(value)
        if pm is not None and pm:
            hour += 12
        try:
            base = dt.datetime(year, month, day, hour, minute, second, micro)
        except ValueError as error:
            raise KsqlFunctionException(f"Text '{text}' could not be parsed: {error}") from error
        if day_of_year is not None:
            base = base.replace(month=1, day=1) + dt.timedelta(days=day_of_year - 1)
        return base.replace(tzinfo=tzinfo)

    def parse_millis(self, text: str, tz: str | None = None, lenient: bool = False) -> int:
        moment = self.parse(text, tz, lenient)
        delta = moment - EPOCH
        return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _month_number(name: str) -> int:
    lowered = name.lower()
    for i, month in enumerate(_MONTHS, 1):
        if month.lower() == lowered or month[:3].lower() == lowered:
            return i
    raise KsqlFunctionException(f"Unknown month: {name}")


@functools.lru_cache(maxsize=256)
def pattern(text: str) -> JavaPattern:
    """A cached compiled pattern."""
    return JavaPattern(text)


def parse_partial_timestamp(text: str) -> int:
    """ksqlDB's ``PartialStringToTimestampParser``: '2018', '2018-01-01T10', with optional zone.

    Used when ROWTIME is compared to a string literal (``WHERE ROWTIME > '2019-01-01'``).
    """
    if "T" in text:
        date, rest = text[: text.index("T")], text[text.index("T") + 1 :]
        if "+" in rest:
            tz = rest[rest.index("+") :]
        elif "-" in rest:
            tz = rest[rest.index("-") :]
        else:
            tz = ""
        time = rest[: len(rest) - len(tz)]
        time = re.sub("Z$", "", time)
    else:
        parts = text.split("-")
        date = text + ("-01-01" if len(parts) == 1 else "-01" if len(parts) == 2 else "")
        time, tz = "", ""
    full = "HH:mm:ss.SSS"
    if len(time) < len(full):
        time = time + re.sub("[a-zA-Z]", "0", full[len(time) :])
    tz_id = tz.strip() or "+0000"
    try:
        return pattern("yyyy-MM-dd'T'HH:mm:ss.SSS").parse_millis(f"{date}T{time}", tz_id)
    except KsqlFunctionException as error:
        from streamlab.ksql.errors import KsqlException

        raise KsqlException(
            f"Failed to parse timestamp '{text}': {error.message}. Partial timestamp strings "
            "must be of the form yyyy-MM-dd'T'HH:mm:ss.SSS with optional timezone"
        ) from error
