"""Time in a question: the period a person names ("in the week of May 12, 2022", "last month", "on Monday",
"between March 1 and 5"), resolved against the question's as-of date to a window of days, and the question without it.

A grammar of our own finds the period shapes (week of, week ending, early/mid/late, between/from…to, since/before/
after, seasons, quarters, relative words); dateparser reads the dates inside them ("May 12, 2022", "12 May",
"2022-05-12", "Sept. 3") with the as-of date as its base, preferring the past. Impossible dates ("February 30") and
years beyond what news can have are ignored, so such words stay in the question as plain words.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from index.stopwords import STOPWORDS
from qa.types import TimeWindow

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_DATE = (
    rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}/\d{{1,2}}/(?:\d{{4}}|\d{{2}})"
    rf"|{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?|{_MONTH},?\s+{_YEAR}|\d{{4}}-\d{{1,2}}(?!\d))"
)
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a few": 3, "few": 3, "several": 4,
}
_COUNT = r"(?:\d{1,3}|a couple of|a few|few|several|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"
_UNIT = r"(?:day|week|month|year)s?"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_PART = r"(?:early|mid|middle of|late|end of|the end of|beginning of|the beginning of|start of|the start of)"
_SEASON = r"(?:spring|summer|autumn|fall|winter)"
_QUARTER = r"(?:q[1-4]|(?:the )?(?:first|second|third|fourth|1st|2nd|3rd|4th) quarter(?: of)?)"
_PREPOSITION = r"(?:in|on|during|over|from|for|of|at|around|throughout|as\s+of)\s+"
_LEAD = rf"(?:{_PREPOSITION})?"

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.IGNORECASE))
    for name, pattern in [
        ("between", rf"{_LEAD}between\s+(?P<a>{_DATE}|{_MONTH}|{_YEAR})\s+and\s+(?P<b>{_DATE}|{_MONTH}|{_YEAR}|{_DAY})"),
        ("range", rf"{_LEAD}(?:from\s+)?(?P<a>{_DATE}|{_MONTH}|{_YEAR})\s+(?:to|until|till|through|thru|-|–)\s+(?P<b>{_DATE}|{_MONTH}|{_YEAR}|{_DAY})"),
        ("day_range", rf"{_LEAD}(?P<month>{_MONTH})\s+(?P<a>{_DAY})\s*[-–]\s*(?P<b>{_DAY})(?:,?\s+(?P<year>{_YEAR}))?"),
        ("week_of", rf"{_LEAD}(?:the\s+)?week\s+(?P<kind>of|starting|beginning|ending|to|through)(?:\s+on)?\s+(?P<a>{_DATE})"),
        ("part", rf"{_LEAD}(?P<part>{_PART})[-\s]+(?P<a>{_MONTH}(?:,?\s+{_YEAR})?|{_YEAR})"),
        ("season", rf"{_LEAD}(?:the\s+)?(?P<season>{_SEASON})(?:\s+of)?\s+(?P<year>{_YEAR})"),
        ("quarter", rf"{_LEAD}(?P<quarter>{_QUARTER})\s+(?P<year>{_YEAR})"),
        ("since", rf"(?P<kind>since|after|before|until|till|up to)\s+(?P<a>{_DATE}|{_MONTH}|{_YEAR})"),
        ("date", rf"(?P<lead>{_PREPOSITION})?(?P<the>the\s+)?(?P<a>{_DATE})"),
        ("month", rf"(?:in|during|of|throughout)\s+(?P<a>{_MONTH})"),
        ("year", rf"{_PREPOSITION}(?:the\s+year\s+)?(?P<a>{_YEAR})(?!s\b|'s\b|-\d)"),
        ("yesterday", r"(?:the\s+day\s+before\s+)?yesterday"),
        ("shift", rf"(?:(?P<count>{_COUNT})|the|a)\s+(?P<unit>day|week|month|year)s?\s+(?P<direction>before|earlier|after|later)|the\s+(?P<order>following|next)\s+(?P<unit2>day|week|month|year)"),
        ("today", r"(?:(?:earlier|later)\s+)?(?:today|tonight|this\s+(?:morning|afternoon|evening))"),
        ("ago", rf"(?P<count>{_COUNT})\s+(?P<unit>{_UNIT})\s+ago"),
        ("past", rf"{_LEAD}(?:the\s+)?(?:past|last|previous)\s+(?P<count>{_COUNT})\s+(?P<unit>{_UNIT})"),
        ("relative", rf"{_LEAD}(?P<which>this|last|past|previous|the\s+past|the\s+last|the\s+previous|this\s+past|the\s+current|current|so\s+far\s+this)\s+(?P<unit>week|weekend|month|year)"),
        ("weekend", r"(?:over|on|at|during)\s+the\s+weekend"),
        ("weekday", rf"(?:on|last|this\s+past|past|this)\s+(?P<day>{_WEEKDAY})"),
        ("recent", r"(?:recently|lately|these\s+days|nowadays|latest|most\s+recent(?:ly)?|newest|right\s+now|currently|at\s+the\s+moment)"),
    ]
]
_ANY_BASE = date(2000, 1, 1)  # dateparser's base when the expression names its own year
_RECENT_DAYS = {"latest": 14, "most recent": 14, "most recently": 14, "newest": 14}
_DEFAULT_RECENT_DAYS = 30
_SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11)}
_CONTENT = re.compile(r"\w{3,}")


@dataclass(frozen=True)
class FoundTime:
    """A question's time window and the question with its time words removed."""

    window: TimeWindow
    remainder: str


_RELATIVE_KINDS = frozenset({"today", "yesterday", "ago", "past", "relative", "weekend", "weekday", "recent", "shift", "month"})


def find_time(question: str, as_of: date | None, previous: TimeWindow | None = None) -> FoundTime | None:
    """The period the question names, or None when it names none that is real. Relative words ("this week", "on
    Monday", "March 16" without a year) are read against as_of and need it; "the week before" moves the previous
    turn's window (or, without one, counts back from as_of). A window wholly after as_of is not a period a published
    article can be in ("the 2030 ban", "in 2026" asked in 2022): it is left as words."""
    taken: list[tuple[int, int, date | None, date | None]] = []
    for name, pattern in PATTERNS:
        if as_of is None and name in _RELATIVE_KINDS:
            continue
        for match in pattern.finditer(question):
            if any(start < match.end() and match.start() < end for start, end, _, _ in taken):
                continue
            window = _resolve(name, match, as_of, previous)
            if window is not None and not (as_of and window[0] and window[0] > as_of):
                taken.append((match.start(), match.end(), *window))
    if not taken:
        return None
    taken.sort()
    since_values = [since for _, _, since, _ in taken]
    until_values = [until for _, _, _, until in taken]
    since = None if None in since_values else min(value for value in since_values if value is not None)
    until = None if None in until_values else max(value for value in until_values if value is not None)
    phrase = " … ".join(_phrase(question[start:end]) for start, end, _, _ in taken)
    return FoundTime(TimeWindow(since, until, phrase), _remainder(question, [(start, end) for start, end, _, _ in taken]))


def _resolve(
    name: str, match: re.Match[str], as_of: date | None, previous: TimeWindow | None
) -> tuple[date | None, date | None] | None:
    """The (since, until) days a matched phrase means, or None when its dates are not real, a 'may' is the verb, or
    a date is an event's name ("the January 6 committee": no preposition, no year)."""
    groups = match.groupdict()
    if any(_is_verb_may(value) for value in (groups.get("a"), groups.get("b"))):
        return None
    if name == "date" and not re.search(_YEAR, groups["a"]) and (groups.get("the") or not groups.get("lead")):
        return None
    if name == "date" and not groups.get("lead") and groups.get("the"):
        return None
    if name == "shift":
        return _shifted(groups, as_of, previous)
    if name in ("between", "range"):
        second_text = _complete(groups["b"], groups["a"])
        first, second = _period(_with_year(groups["a"], second_text), as_of), _period(second_text, as_of)
        if first is None or second is None or second[1] < first[0]:
            return None
        return first[0], second[1]
    if name == "day_range":
        year = groups.get("year") or ""
        first = _period(f"{groups['month']} {groups['a']} {year}", as_of)
        second = _period(f"{groups['month']} {groups['b']} {year}", as_of)
        return None if first is None or second is None or second[0] < first[0] else (first[0], second[1])
    if name == "week_of":
        day = _period(groups["a"], as_of)
        if day is None:
            return None
        if groups["kind"].lower() in ("ending", "to", "through"):
            return day[1] - timedelta(days=6), day[1]
        return day[0], day[0] + timedelta(days=6)
    if name == "part":
        return _part(groups["part"].lower(), groups["a"], as_of)
    if name == "season":
        return _season(groups["season"].lower(), int(groups["year"]))
    if name == "quarter":
        number = next(int(character) for character in groups["quarter"].lower().replace("first", "1").replace("second", "2").replace("third", "3").replace("fourth", "4") if character.isdigit())
        year = int(groups["year"])
        return date(year, 3 * number - 2, 1), _month_end(year, 3 * number)
    if name == "since":
        period = _period(groups["a"], as_of)
        if period is None:
            return None
        kind = groups["kind"].lower()
        if kind == "since":
            return period[0], None
        if kind == "after":
            return period[1] + timedelta(days=1), None
        if kind == "before":
            return None, period[0] - timedelta(days=1)
        return None, period[1]
    if name in ("date", "month", "year"):
        return _period(groups["a"], as_of)
    return _relative(name, match, as_of)


def _shifted(groups: dict[str, str | None], as_of: date | None, previous: TimeWindow | None) -> tuple[date, date] | None:
    """'the week before', 'a day later', 'the following month': the previous window moved by one unit, or, with
    no previous window, the unit before or after as_of."""
    unit = (groups.get("unit") or groups.get("unit2") or "day").lower()
    forward = (groups.get("direction") or "").lower() in ("after", "later") or bool(groups.get("order"))
    step = (1 if forward else -1) * (_count(groups["count"]) if groups.get("count") else 1)
    if previous is not None and (previous.since or previous.until):
        since = previous.since or previous.until
        until = previous.until or previous.since
        assert since is not None and until is not None
        return _shift(since, unit, step), _shift(until, unit, step)
    if as_of is None:
        return None
    moved = _shift(as_of, unit, step)
    return (moved - timedelta(days=6), moved) if unit == "week" else (moved, moved) if unit == "day" else (_shift(moved, unit, 0), moved)


def _relative(name: str, match: re.Match[str], as_of: date) -> tuple[date, date] | None:
    """Windows of the words relative to the as-of date."""
    groups = match.groupdict()
    if name == "today":
        return as_of, as_of
    if name == "yesterday":
        back = 2 if match.group().lower().startswith("the") else 1
        return as_of - timedelta(days=back), as_of - timedelta(days=back)
    if name == "ago":
        count, unit = _count(groups["count"]), groups["unit"].lower().rstrip("s")
        if unit == "day":
            day = as_of - timedelta(days=count)
            return day, day
        middle = _shift(as_of, unit, -count)
        half = {"week": 3, "month": 15, "year": 182}[unit]
        return middle - timedelta(days=half), min(middle + timedelta(days=half), as_of)
    if name == "past":
        return _shift(as_of, groups["unit"].lower().rstrip("s"), -_count(groups["count"])), as_of
    if name == "relative":
        return _this_or_last(" ".join(groups["which"].lower().split()), groups["unit"].lower(), as_of)
    if name == "weekend":
        return _weekend(as_of, "over")
    if name == "weekday":
        words = match.group().lower().split()
        target = _WEEKDAYS.index(words[-1].rstrip("s"))
        back = (as_of.weekday() - target) % 7
        if back == 0 and words[0] in ("last", "past"):
            back = 7
        day = as_of - timedelta(days=back)
        return day, day
    if name == "recent":
        days = _RECENT_DAYS.get(" ".join(match.group().lower().split()), _DEFAULT_RECENT_DAYS)
        return as_of - timedelta(days=days), as_of
    return None


def _this_or_last(which: str, unit: str, as_of: date) -> tuple[date, date]:
    """this/last/past week, weekend, month or year. A week is the seven days up to the as-of date (news weeks do not
    start on Mondays), the one before it for 'last week'; months and years are calendar ones."""
    last = which in ("last", "previous", "the last", "the previous")
    rolling = which in ("past", "the past", "this past")
    if unit == "weekend":
        return _weekend(as_of, "last" if last or rolling else "this")
    if unit == "week":
        end = as_of - timedelta(days=7) if last else as_of
        return end - timedelta(days=6), end
    if rolling:
        return _shift(as_of, unit, -1), as_of
    if unit == "month":
        start = date(as_of.year, as_of.month, 1)
        if last:
            previous = start - timedelta(days=1)
            return date(previous.year, previous.month, 1), previous
        return start, as_of
    if last:
        return date(as_of.year - 1, 1, 1), date(as_of.year - 1, 12, 31)
    return date(as_of.year, 1, 1), as_of


def _weekend(as_of: date, which: str) -> tuple[date, date]:
    """A Saturday and Sunday. 'last weekend' is the latest one wholly before today; 'this weekend' is today's on a
    weekend and the coming one on a weekday (in the future, so no article can be from it); 'over the weekend' is
    today's on a weekend and the one just past on a weekday."""
    weekend_now = as_of.weekday() >= 5
    current = as_of - timedelta(days=as_of.weekday() - 5) if weekend_now else None
    past = as_of - timedelta(days=(as_of.weekday() - 5) % 7 + (7 if weekend_now else 0))
    if which == "last":
        saturday = past
    elif which == "this":
        saturday = current or as_of + timedelta(days=5 - as_of.weekday())
    else:
        saturday = current or past
    return saturday, saturday + timedelta(days=1)


def _part(part: str, text: str, as_of: date) -> tuple[date, date] | None:
    """early/mid/late (and start/end of) a month (thirds) or a year (thirds: Jan–Apr, May–Aug, Sep–Dec)."""
    period = _period(text, as_of)
    if period is None:
        return None
    start, end = period
    length = (end - start).days + 1
    if "early" in part or "beginning" in part or "start" in part:
        return start, start + timedelta(days=length // 3 - 1)
    if "mid" in part or "middle" in part:
        return start + timedelta(days=length // 3), start + timedelta(days=2 * length // 3 - 1)
    return start + timedelta(days=2 * length // 3), end


def _season(season: str, year: int) -> tuple[date, date]:
    """Meteorological seasons of the northern hemisphere; winter YEAR runs from December YEAR to February YEAR+1."""
    if season == "winter":
        return date(year, 12, 1), _month_end(year + 1, 2)
    first, last = _SEASONS[season]
    return date(year, first, 1), _month_end(year, last)


def _period(text: str, as_of: date | None) -> tuple[date, date] | None:
    """The days a date expression covers (a day, a month or a year) as dateparser reads it, or None; without an
    as-of date, only an expression that names its year."""
    cleaned = re.sub(r"(?<=\d)(st|nd|rd|th)\b", "", " ".join(text.split()), flags=re.IGNORECASE)
    if re.fullmatch(_YEAR, cleaned):
        year = int(cleaned)
        return date(year, 1, 1), date(year, 12, 31)
    named_year = bool(re.search(_YEAR, cleaned) or re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2}", cleaned))
    if as_of is None and not named_year:
        return None
    data = _parser(as_of or _ANY_BASE).get_date_data(cleaned)
    if data.date_obj is None:
        return None
    day = data.date_obj.date()
    if as_of and not named_year and day > as_of:
        day = _year_before(day, as_of)
    if data.period == "month":
        return date(day.year, day.month, 1), _month_end(day.year, day.month)
    if data.period == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    return day, day


def _with_year(first: str, second: str) -> str:
    """'May 6' in 'between May 6 and May 12, 2022' takes the second date's year."""
    if re.search(_YEAR, first) or not re.search(_MONTH, first, re.IGNORECASE):
        return first
    year = re.search(_YEAR, second)
    return f"{first} {year.group()}" if year else first


def _is_verb_may(text: str | None) -> bool:
    """A lower-case 'may' with no day or year beside it is the verb ('prices may rise'), not the month."""
    return text is not None and text.strip().rstrip(".") == "may"


def _year_before(day: date, as_of: date) -> date:
    """A date given without its year, moved back to the last time it fell on or before as_of."""
    while day > as_of:
        try:
            day = day.replace(year=day.year - 1)
        except ValueError:  # 29 February
            day = day.replace(year=day.year - 1, day=28)
    return day


def _complete(second: str, first: str) -> str:
    """'5' in 'between March 1 and 5' is a day of the first date's month (and year)."""
    if not re.fullmatch(_DAY, second.strip()):
        return second
    month = re.search(_MONTH, first, re.IGNORECASE)
    year = re.search(_YEAR, first)
    return f"{month.group() if month else ''} {second} {year.group() if year else ''}".strip()


@lru_cache(maxsize=64)
def _parser(as_of: date) -> DateDataParser:
    """dateparser reading English dates relative to as_of, preferring the past (imported on first use: most questions
    name no date, and a command-line `qa ask` should not pay for loading it)."""
    from dateparser.date import DateDataParser

    settings = {"RELATIVE_BASE": datetime(as_of.year, as_of.month, as_of.day), "PREFER_DATES_FROM": "past", "STRICT_PARSING": False}
    return DateDataParser(languages=["en"], settings=settings)


def _count(text: str) -> int:
    """A number written in digits or words."""
    lowered = " ".join(text.lower().split())
    return int(lowered) if lowered.isdigit() else _NUMBER_WORDS.get(lowered, 1)


def _shift(day: date, unit: str, count: int) -> date:
    """day moved by count units (days, weeks, months, years), month ends clamped."""
    if unit == "day":
        return day + timedelta(days=count)
    if unit == "week":
        return day + timedelta(weeks=count)
    months = count * (12 if unit == "year" else 1)
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _month_end(year: int, month: int) -> date:
    """The last day of a month."""
    return date(year, month, calendar.monthrange(year, month)[1])


def _phrase(text: str) -> str:
    """A matched phrase as shown to the reader: without its leading preposition."""
    return re.sub(rf"^{_LEAD}", "", text.strip(), flags=re.IGNORECASE) or text.strip()


def _remainder(question: str, spans: list[tuple[int, int]]) -> str:
    """The question without its time phrases; the whole question when nothing with meaning would be left."""
    pieces, position = [], 0
    for start, end in sorted(spans):
        pieces.append(question[position:start])
        position = end
    pieces.append(question[position:])
    text = " ".join("".join(pieces).split())
    text = re.sub(r"\s+([,.;:?!])", r"\1", text).strip(" ,;:-–")
    meaningful = any(word.lower() not in STOPWORDS for word in _CONTENT.findall(text))
    return text if meaningful else question


def warm_up() -> None:
    """Load dateparser's language data now rather than on the first question (a tenth of a second)."""
    find_time("on May 12, 2022", date(2022, 5, 20))
