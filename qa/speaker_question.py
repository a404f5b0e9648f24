"""Whose words a question asks for: "what did Russia say about the GCC?", "how did Iran respond?", "what was
Putin's reaction?", "did the Kremlin comment on…?", "what does Moscow fear…?", "according to the ministry…", "who
said…?"; and whether a sentence's speaker is that one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.places import country_of
from index.speakers import SentenceNote

_VERB = (
    r"(?:say|said|saying|says|tell|told|telling|announce|announced|claim|claimed|warn|warned|respond|responded|react|"
    r"reacted|reply|replied|think|thought|argue|argued|state|stated|propose|proposed|want|wanted|demand|demanded|"
    r"promise|promised|pledge|pledged|describe|described|insist|insisted|add|added|note|noted|"
    r"believe|believed|feel|felt|fear|feared|expect|expected|hope|hoped|confirm|confirmed|deny|denied|admit|admitted|"
    r"suggest|suggested|accuse|accused|critici[sz]e|critici[sz]ed|condemn|condemned|praise|praised|welcome|welcomed|"
    r"urge|urged|write|wrote|tweet|tweeted|post|posted|reveal|revealed|explain|explained|predict|predicted)"
)
_SPOKE = r"(?:comment|commented|speak|spoke|talk|talked|weigh\s+in|weighed\s+in|respond|responded|react|reacted|reply|replied)"
_WHO = r"(?P<who>[\w][\w’'.\- ]{0,60}?)"
_PATTERNS = (
    re.compile(rf"\b(?:what|how)\s+(?:did|does|do|has|have|had|is|are|was|were|will|would)\s+{_WHO}\s+{_VERB}\b", re.IGNORECASE),
    re.compile(rf"^\s*(?:did|does|has|have|had|was|were|is)\s+{_WHO}\s+{_SPOKE}\b", re.IGNORECASE),
    re.compile(
        r"\b(?P<who>(?:[A-Z][\w.\-]*\s+){0,3}[A-Z][\w.\-]*)['’]s\s+"
        r"(?i:response|reaction|reply|position|stance|view|views|statement|comments?|remarks?|message|warning|words|"
        r"claims?|demands?|criticism|answer|concerns?|assessment|verdict|explanation|account|version|pledge|promise)\b"
    ),
    _ACCORDING := re.compile(r"\baccording\s+to\s+(?P<who>[^,?.;]{1,60})", re.IGNORECASE),
)
_RELATIVE = frozenset({"who", "that", "which", "whom", "whose", "where", "when"})
_MAX_NAME_WORDS = 6
_FOLLOWING = frozenset({"he", "she", "they"})
_ARTICLE_WORDS = frozenset({"the", "a", "an"})
_ANYONE = re.compile(rf"^\s*who\s+{_VERB}\b", re.IGNORECASE)
_ARTICLES = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_GENERIC = frozenset(
    {"it", "they", "he", "she", "you", "we", "i", "people", "this", "that", "report", "article", "story", "study", "survey", "poll", "data", "law", "bill"}
)


@dataclass(frozen=True)
class AskedSpeaker:
    """The speaker a question asks about ("" for 'who said…?': anyone), the country that name stands for, and whether
    the question asks for their words ("what did X say?", strict) or only names them as a source ("…, according to
    X?", where the answer may be any sentence)."""

    who: str
    country: str | None
    strict: bool = True


def asked_speaker(question: str, previous: str = "") -> AskedSpeaker | None:
    """The speaker whose words the question asks for, or None when it asks for no one's words; 'he', 'she' or
    'they' in a follow-up ("what did he say about it?") is the speaker the previous answer quoted, when it quoted one."""
    if _ANYONE.search(question):
        return AskedSpeaker("", None)
    for pattern in _PATTERNS:
        match = pattern.search(question)
        if match:
            who = _ARTICLES.sub("", match.group("who").strip(" ,’'"))
            if previous and who.lower() in _FOLLOWING:
                return AskedSpeaker(previous, _country_in(previous))
            words = who.lower().split()
            if who and words[0] not in _GENERIC | _ARTICLE_WORDS and len(words) <= _MAX_NAME_WORDS and not _RELATIVE & set(words):
                return AskedSpeaker(who, _country_in(who), strict=pattern is not _ACCORDING)
    return None


def speaks_for(asked: AskedSpeaker, note: SentenceNote | None) -> bool:
    """Whether a sentence's statement is by the asked speaker: the same person or body, or one who answers for the
    same country ('Russia' is answered by Putin, Moscow, the Kremlin or Russia's Foreign Ministry)."""
    if note is None or not note.speaker:
        return False
    if not asked.who:
        return True
    if asked.country and note.affiliation == asked.country:
        return True
    asked_words = {word for word in re.findall(r"\w+", asked.who.lower())}
    speaker_words = {word for word in re.findall(r"\w+", note.speaker.lower())}
    return bool(asked_words & speaker_words) and (speaker_words <= asked_words or asked_words <= speaker_words)


def mentions(asked: AskedSpeaker, texts: Sequence[str]) -> bool:
    """Whether any text names the asked speaker (every word of the name), or, for a country, any of its names or
    places that stand for it ('Russia' is mentioned by 'Moscow', 'Russian' or 'the Kremlin')."""
    words = re.findall(r"\w+", asked.who.lower())
    for text in texts:
        lowered = text.lower()
        if words and all(re.search(rf"\b{re.escape(word)}", lowered) for word in words):
            return True
        if asked.country and any(country_of(word) == asked.country for word in re.findall(r"[\w’'.]+", text)):
            return True
    return False


def _country_in(who: str) -> str | None:
    """The country a speaker phrase names ("Russia", "the Russian president", "Moscow"), if any."""
    whole = country_of(who)
    if whole:
        return whole
    return next((country for word in re.findall(r"[\w’'.]+", who) if (country := country_of(word))), None)
