"""Time phrases in questions: what window each phrasing means, as of a Friday, 20 May 2022."""

from __future__ import annotations

import time
from datetime import date

import pytest

from qa.timeframe import find_time, warm_up
from qa.types import TimeWindow

AS_OF = date(2022, 5, 20)  # a Friday
D = date

PHRASINGS: list[tuple[str, date | None, date | None]] = [
    # absolute days
    ("what did the Fed decide on May 4, 2022?", D(2022, 5, 4), D(2022, 5, 4)),
    ("what happened on 4 May 2022?", D(2022, 5, 4), D(2022, 5, 4)),
    ("news of 2022-05-04 about oil", D(2022, 5, 4), D(2022, 5, 4)),
    ("what happened on 5/4/2022 in Kyiv?", D(2022, 5, 4), D(2022, 5, 4)),
    ("what was said on the 4th of May 2022?", D(2022, 5, 4), D(2022, 5, 4)),
    ("What happened May 4th, 2022 in Paris?", D(2022, 5, 4), D(2022, 5, 4)),
    ("what did Biden announce on March 16?", D(2022, 3, 16), D(2022, 3, 16)),
    ("who resigned on Sept. 3?", D(2021, 9, 3), D(2021, 9, 3)),  # no year: the last 3 September before as-of
    ("what happened on December 25?", D(2021, 12, 25), D(2021, 12, 25)),
    # weeks
    ("what happened in the week of May 2, 2022?", D(2022, 5, 2), D(2022, 5, 8)),
    ("inflation news in the week starting April 4, 2022", D(2022, 4, 4), D(2022, 4, 10)),
    ("which bills passed the week ending May 15?", D(2022, 5, 9), D(2022, 5, 15)),
    ("what did the Senate vote on during the week of 2022-03-07?", D(2022, 3, 7), D(2022, 3, 13)),
    # months and parts of months
    ("who won the election in January 2020?", D(2020, 1, 1), D(2020, 1, 31)),
    ("what happened in May?", D(2022, 5, 1), D(2022, 5, 31)),
    ("what did NATO decide in October?", D(2021, 10, 1), D(2021, 10, 31)),
    ("strikes during Feb 2021", D(2021, 2, 1), D(2021, 2, 28)),
    ("what did Trump say in mid-October 2020?", D(2020, 10, 11), D(2020, 10, 20)),
    ("floods in early March 2022", D(2022, 3, 1), D(2022, 3, 10)),
    ("what happened in late April 2022?", D(2022, 4, 21), D(2022, 4, 30)),
    ("what did Zelensky say in mid-March?", D(2022, 3, 11), D(2022, 3, 20)),
    ("the market at the end of January 2022", D(2022, 1, 21), D(2022, 1, 31)),
    ("news from the beginning of April 2022", D(2022, 4, 1), D(2022, 4, 10)),
    # years, seasons, quarters
    ("what did the Fed do in 2020?", D(2020, 1, 1), D(2020, 12, 31)),
    ("how many people died during 2021?", D(2021, 1, 1), D(2021, 12, 31)),
    ("the vaccine rollout in early 2021", D(2021, 1, 1), D(2021, 5, 1)),
    ("what happened in mid-2021?", D(2021, 5, 2), D(2021, 8, 31)),
    ("wildfires in the summer of 2021", D(2021, 6, 1), D(2021, 8, 31)),
    ("what happened in winter 2020?", D(2020, 12, 1), D(2021, 2, 28)),
    ("GDP in the third quarter of 2021", D(2021, 7, 1), D(2021, 9, 30)),
    ("Apple's Q1 2022 earnings", D(2022, 1, 1), D(2022, 3, 31)),
    # ranges
    ("what happened between March 1 and March 5, 2022?", D(2022, 3, 1), D(2022, 3, 5)),
    ("what happened between March 1 and 5, 2022?", D(2022, 3, 1), D(2022, 3, 5)),
    ("protests from March 3 to March 9, 2022", D(2022, 3, 3), D(2022, 3, 9)),
    ("what happened March 1-5, 2022?", D(2022, 3, 1), D(2022, 3, 5)),
    ("who led the polls between 2019 and 2021?", D(2019, 1, 1), D(2021, 12, 31)),
    ("news from January to March 2022", D(2022, 1, 1), D(2022, 3, 31)),
    ("what has happened since March?", D(2022, 3, 1), None),
    ("what happened before 2020?", None, D(2019, 12, 31)),
    ("what happened after May 5?", D(2022, 5, 6), None),
    ("what did they agree until April 2022?", None, D(2022, 4, 30)),
    # relative to the as-of date
    ("what happened today?", D(2022, 5, 20), D(2022, 5, 20)),
    ("what did the mayor say this morning?", D(2022, 5, 20), D(2022, 5, 20)),
    ("what did Russia say about the GCC yesterday?", D(2022, 5, 19), D(2022, 5, 19)),
    ("what happened the day before yesterday?", D(2022, 5, 18), D(2022, 5, 18)),
    ("which movie topped the box office this week?", D(2022, 5, 14), D(2022, 5, 20)),
    ("who resigned last week?", D(2022, 5, 7), D(2022, 5, 13)),
    ("what happened over the past week?", D(2022, 5, 14), D(2022, 5, 20)),
    ("who won the race last weekend?", D(2022, 5, 14), D(2022, 5, 15)),  # on a weekday: the one just past
    ("what happened over the weekend?", D(2022, 5, 14), D(2022, 5, 15)),
    ("jobs report this month", D(2022, 5, 1), D(2022, 5, 20)),
    ("last month's jobs report", D(2022, 4, 1), D(2022, 4, 30)),
    ("how much did prices rise this year?", D(2022, 1, 1), D(2022, 5, 20)),
    ("what happened last year?", D(2021, 1, 1), D(2021, 12, 31)),
    ("what did the Senate pass on Monday?", D(2022, 5, 16), D(2022, 5, 16)),
    ("what did Apple unveil on Friday?", D(2022, 5, 20), D(2022, 5, 20)),
    ("who won last Friday?", D(2022, 5, 13), D(2022, 5, 13)),
    ("what happened 3 days ago?", D(2022, 5, 17), D(2022, 5, 17)),
    ("what happened two weeks ago?", D(2022, 5, 3), D(2022, 5, 9)),
    ("what was decided a month ago?", D(2022, 4, 5), D(2022, 5, 5)),
    ("what happened a few days ago?", D(2022, 5, 17), D(2022, 5, 17)),
    ("what happened in the last 3 days?", D(2022, 5, 17), D(2022, 5, 20)),
    ("how have prices moved over the past two weeks?", D(2022, 5, 6), D(2022, 5, 20)),
    ("what happened in the past month?", D(2022, 4, 20), D(2022, 5, 20)),
    ("grocery prices over the last 12 months", D(2021, 5, 20), D(2022, 5, 20)),
    ("who recently joined the board?", D(2022, 4, 20), D(2022, 5, 20)),
    ("what is the latest on Ukraine?", D(2022, 5, 6), D(2022, 5, 20)),
    ("what are oil prices doing these days?", D(2022, 4, 20), D(2022, 5, 20)),
]

NOT_TIME = [
    "What is the capital of France?",
    "prices may rise next quarter",  # the verb, not the month
    "who will host the 2024 Democratic National Convention?",  # a year naming an event
    "who sits on the January 6 committee?",  # a date naming a committee
    "how did COVID-19 spread?",
    "what happened to the Boeing 737 Max?",
    "who gets $2,000 checks?",
    "music of the 1990s",
    "what happened on February 30, 2022?",  # no such day
    "what happened in the year 99999?",
    "what will happen in 2030?",  # wholly after the as-of date
    "Cyber Monday deals",  # a weekday naming a sale
    "who plays this weekend?",  # on a Friday: the coming weekend, when no article can have been published
    "what will the vaccination rate be by July 4?",  # a deadline, not a period to search
]


@pytest.mark.parametrize(("question", "since", "until"), PHRASINGS, ids=[row[0] for row in PHRASINGS])
def test_each_phrasing_means_its_window(question: str, since: date | None, until: date | None) -> None:
    found = find_time(question, AS_OF)
    assert found is not None, question
    assert (found.window.since, found.window.until) == (since, until)
    assert found.window.phrase and found.window.phrase.lower() in question.lower()


def test_there_are_at_least_sixty_phrasings() -> None:
    assert len(PHRASINGS) >= 60


@pytest.mark.parametrize("question", NOT_TIME)
def test_words_that_only_look_like_time_are_left_alone(question: str) -> None:
    assert find_time(question, AS_OF) is None


def test_the_question_is_searched_without_its_time_words() -> None:
    assert find_time("which movie topped the box office this week?", AS_OF).remainder == "which movie topped the box office?"  # type: ignore[union-attr]
    assert find_time("in mid-October 2020 what did Trump say", AS_OF).remainder == "what did Trump say"  # type: ignore[union-attr]
    only_a_date = find_time("May 12, 2022", AS_OF)
    assert only_a_date is not None and only_a_date.remainder == "May 12, 2022"  # nothing else to search for


def test_without_an_as_of_date_only_dates_that_name_their_year_count() -> None:
    assert find_time("which movie topped the box office this week?", None) is None
    assert find_time("what happened on March 16?", None) is None
    found = find_time("what happened in the week of May 2, 2022?", None)
    assert found is not None and (found.window.since, found.window.until) == (D(2022, 5, 2), D(2022, 5, 8))


def test_a_follow_up_moves_the_previous_window() -> None:
    week = TimeWindow(D(2022, 5, 2), D(2022, 5, 8), "the week of May 2, 2022")
    before = find_time("and the week before?", AS_OF, previous=week)
    assert before is not None and (before.window.since, before.window.until) == (D(2022, 4, 25), D(2022, 5, 1))
    month = TimeWindow(D(2022, 1, 1), D(2022, 1, 31), "January 2022")
    after = find_time("what about the following month?", AS_OF, previous=month)
    assert after is not None and (after.window.since, after.window.until) == (D(2022, 2, 1), D(2022, 2, 28))
    alone = find_time("and the week before?", AS_OF)
    assert alone is not None and (alone.window.since, alone.window.until) == (D(2022, 5, 7), D(2022, 5, 13))


@pytest.mark.parametrize(
    "question",
    ["February 30", "the year 99999", "May 12, 2022", "2022-05-12", "Черный вторник 2022 и 東京 in May 2021 😀",
     "in " * 5000 + "May 2022", "between March 40 and March 50", "on 99/99/2022", "\x00\ud800 last week"],
)
def test_hostile_phrases_never_raise(question: str) -> None:
    found = find_time(question, AS_OF)
    assert found is None or found.window.since is None or found.window.since <= AS_OF


def test_parsing_costs_little() -> None:
    warm_up()
    questions = [question for question, _, _ in PHRASINGS] + NOT_TIME
    timings = []
    for question in questions * 3:
        started = time.perf_counter()
        find_time(question, AS_OF)
        timings.append(time.perf_counter() - started)
    timings.sort()
    assert timings[len(timings) // 2] < 0.05  # a loose guard against pathological regexes; bench/timeframe.py measures


def test_weekends_depend_on_the_day_asked() -> None:
    sunday = D(2022, 5, 22)
    for question, since in (("this weekend", D(2022, 5, 21)), ("last weekend", D(2022, 5, 14)), ("over the weekend", D(2022, 5, 21))):
        found = find_time(f"what happened {question}?", sunday)
        assert found is not None and (found.window.since, found.window.until) == (since, since + (D(2022, 5, 22) - D(2022, 5, 21)))
