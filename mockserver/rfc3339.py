"""RFC 3339 date-times, all of them: ``T`` or ``t``, ``Z`` or ``z``, any fraction, any offset. No IO.

The spec's ``format: date-time`` accepts exactly these, so a value the mock accepted when it was
stored always parses when it is used.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["format_utc", "parse"]

_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def format_utc(epoch: float) -> str:
    """Epoch seconds as the admin API shows times: UTC, milliseconds, ``+00:00``."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def parse(text: str) -> datetime:
    """The aware datetime of an RFC 3339 ``date-time``; ValueError if ``text`` is not one.

    A leap second (``:60``) is read as the first instant of the next minute.
    """
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text[:100]!r} is not an RFC 3339 date-time such as 2030-01-01T00:00:00Z")
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    if match.group(8):
        zone = UTC
    else:
        hours, minutes = int(match.group(10)), int(match.group(11))
        if hours > 23 or minutes > 59:
            raise ValueError(f"{text[:100]!r}: the offset is out of range")
        offset = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-offset if match.group(9) == "-" else offset)
    leap = second == 60
    try:
        moment = datetime(year, month, day, hour, minute, 59 if leap else second, micros, tzinfo=zone)
        return moment + timedelta(seconds=1) if leap else moment
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{text[:100]!r} is not a date-time: {exc}") from None
