"""One notion of "now" for the whole service: naive UTC, the same on SQLite and PostgreSQL."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time as naive UTC (how every timestamp is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


def epoch(moment: datetime) -> int:
    """Seconds since the epoch of a naive-UTC timestamp."""
    return int(moment.replace(tzinfo=UTC).timestamp())
