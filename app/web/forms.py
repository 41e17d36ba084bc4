"""Reading the dashboard's query strings: the calls list's filters and an agent page's periods.
A value that does not parse is dropped with a message shown above the list (never a 500)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from app.catalogue import STANDARD_KEYS
from app.service.dashboard import SORT_KEYS
from app.status import COMPUTED, FAILED, PENDING

PER_PAGE_CHOICES = (25, 50, 100)
STATUSES = (PENDING, COMPUTED, FAILED)
SUCCESS = {"yes": True, "no": False, "unknown": None}
MAX_QUERY = 200


@dataclass
class ListQuery:
    filters: dict = field(default_factory=dict)
    sort: str = "time"
    descending: bool = True
    page: int = 1
    per_page: int = 25
    problems: list[str] = field(default_factory=list)
    form: dict = field(default_factory=dict)     # what the form shows back


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _positive(text: str, default: int) -> int:
    try:
        return max(1, min(int(text), 100_000))
    except ValueError:
        return default


def parse_list(args) -> ListQuery:
    q = ListQuery()
    q.form = {k: args.get(k, "") for k in ("agent", "status", "from", "to", "success", "failing", "q", "sort", "dir")}
    if args.get("agent"):
        if args["agent"].isdigit() and len(args["agent"]) < 19:
            q.filters["agent_id"] = int(args["agent"])
        else:
            q.problems.append("Unknown agent.")
    if args.get("status"):
        if args["status"] in STATUSES:
            q.filters["status"] = args["status"]
        else:
            q.problems.append("Unknown status.")
    for name, shift in (("from", 0), ("to", 1)):  # `to` is inclusive: up to the end of that day
        if args.get(name):
            try:
                q.filters[name] = _start_of(_day(args[name])) + timedelta(days=shift)
            except ValueError:
                q.problems.append(f"'{name}' must be a date (YYYY-MM-DD).")
    if args.get("success"):
        if args["success"] in SUCCESS:
            q.filters["success"] = SUCCESS[args["success"]]
        else:
            q.problems.append("Unknown success filter.")
    failing = args.get("failing", "")
    if failing in STANDARD_KEYS:
        q.filters["failing_standard"] = failing
    elif failing.startswith("custom:") and failing[7:].isdigit() and len(failing) < 26:
        q.filters["failing_custom"] = int(failing[7:])
    elif failing:
        q.problems.append("Unknown metric.")
    text = args.get("q", "").strip()
    if text:
        q.filters["q"] = text[:MAX_QUERY].replace("\x00", "")
    q.sort = args.get("sort") if args.get("sort") in SORT_KEYS else "time"
    q.descending = args.get("dir") != "asc"
    q.page = _positive(args.get("page", "1"), 1)
    per_page = _positive(args.get("per_page", "25"), 25)
    q.per_page = per_page if per_page in PER_PAGE_CHOICES else 25
    return q


DEFAULT_PERIOD_DAYS = 30


@dataclass
class Periods:
    period: tuple[datetime, datetime]
    compare: tuple[datetime, datetime] | None
    form: dict
    problems: list[str]


def _range(args, start_key: str, end_key: str, problems: list[str]) -> tuple[datetime, datetime] | None:
    if not args.get(start_key) and not args.get(end_key):
        return None
    try:
        start, end = _day(args.get(start_key, "")), _day(args.get(end_key, ""))
    except ValueError:
        problems.append("Dates must be YYYY-MM-DD, both ends given.")
        return None
    if end < start or (end - start).days > 366:
        problems.append("A period runs forward and spans at most a year.")
        return None
    return _start_of(start), _start_of(end) + timedelta(days=1)


def parse_periods(args, today: date | None = None) -> Periods:
    """The agent page's period (default: the last 30 days, today included) and the optional
    period to compare it with (`cfrom`, `cto`)."""
    problems: list[str] = []
    today = today or datetime.now(UTC).date()
    period = _range(args, "from", "to", problems)
    if period is None:
        period = (_start_of(today - timedelta(days=DEFAULT_PERIOD_DAYS - 1)), _start_of(today) + timedelta(days=1))
    compare = _range(args, "cfrom", "cto", problems)
    form = {"from": period[0].date().isoformat(), "to": (period[1] - timedelta(days=1)).date().isoformat(),
            "cfrom": compare[0].date().isoformat() if compare else "",
            "cto": (compare[1] - timedelta(days=1)).date().isoformat() if compare else ""}
    return Periods(period, compare, form, problems)
