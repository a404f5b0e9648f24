"""English words too common to search for, shared by keyword search, answer terms and follow-up detection."""

from __future__ import annotations

STOPWORDS = frozenset(
    "a an and are as at be been being but by can could did do does for from had has have he her his how i if in "
    "into is it its me my not of on or our she so than that the their them then there these they this those "
    "to was we were what when where which while who whom whose why will with would you your about after before "
    "said says say".split()
)
