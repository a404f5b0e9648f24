"""Windows of days in words a reader can check: "12–18 May 2022", "May 2022", "since 1 March 2022"."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date

from qa.types import Passage, TimeWindow


def day_text(day: date) -> str:
    """'3 May 2022'."""
    return f"{day.day} {calendar.month_name[day.month]} {day.year}"


def window_text(window: TimeWindow) -> str:
    """The window's days, as short as is exact: a day, a whole month or year, or a range."""
    since, until = window.since, window.until
    if since and until:
        if since == until:
            return day_text(since)
        if (since.month, since.day, until.month, until.day) == (1, 1, 12, 31):
            return str(since.year) if since.year == until.year else f"{since.year}–{until.year}"
        whole_month = since.day == 1 and until.day == calendar.monthrange(until.year, until.month)[1]
        if whole_month and (since.year, since.month) == (until.year, until.month):
            return f"{calendar.month_name[since.month]} {since.year}"
        if (since.year, since.month) == (until.year, until.month):
            return f"{since.day}–{until.day} {calendar.month_name[since.month]} {since.year}"
        if since.year == until.year:
            return f"{since.day} {calendar.month_name[since.month]} – {day_text(until)}"
        return f"{day_text(since)} – {day_text(until)}"
    if since:
        return f"since {day_text(since)}"
    if until:
        return f"up to {day_text(until)}"
    return "any date"


def searched_text(window: TimeWindow) -> str:
    """What a reader is told about the period searched: 'Searched articles from 12–18 May 2022'."""
    described = window_text(window)
    return f"Searched articles {described}" if described.startswith(("since", "up to")) else f"Searched articles from {described}"


def outside_window_note(window: TimeWindow, closest: list[date]) -> str:
    """Said when no article found lies in the window: which period was asked, and when the closest ones are from."""
    asked = window_text(window)
    period = asked if asked.startswith(("since", "up to")) else f"from {asked}"
    if not closest:
        return f"No article {period} answers this."
    dates = " and ".join(day_text(day) for day in closest)
    return f"No article {period} answers this; the closest found are from {dates}."


def window_note(window: TimeWindow | None, passages: Sequence[Passage], nearest: Sequence[Passage] = ()) -> str:
    """'' when there is no window or some passage is from it; else what a reader must know: none is, and when the
    closest ones are from (those passages' dates, or, when they have none, the dates of `nearest`)."""
    if window is None or not passages:
        return ""
    dated = sorted({passage.date for passage in passages if passage.date}, key=window.distance)
    if dated and window.distance(dated[0]) == 0:
        return ""
    dated = dated or sorted({passage.date for passage in nearest if passage.date}, key=window.distance)
    return outside_window_note(window, sorted(dated[:2]))
