"""Wire-story duplicates: the shingle size and threshold at which qa.sources.wire finds a story republished by another
outlet without merging two different stories, measured on Reuters-21578 (19,779 articles).

Positives: --sample Reuters articles (fixed --seed) republished the way another outlet runs a wire story, at three
strengths (STRENGTHS): a dateline and credit ("LONDON (AP) - "), a byline, a reporting/editing/copyright footer, the
Reuters sign-off and ticker tags dropped, the last paragraphs trimmed, a few words of a paragraph or more edited
(Reuters abbreviations spelled out, synonyms, words dropped or added), the text re-wrapped. Every corpus article is in
the index; a republication is found when match() returns its original (or a copy of it filed again).
Negatives: every corpus article queried against all the others (match(..., excluding=itself)). Reuters-21578 holds
the same story filed twice (exact copies, refiles with a word or a figure changed) and many templated items
(earnings tables, dividends, Fed operations, commodity reports) that look alike but are different stories; `Judge`
tells them apart by the text, the headline, the filing date and the figures, and a match counts as a false merge only
when it joins two different stories. Identical bodies under headlines naming different companies (the same dividend
boilerplate for two companies) are counted apart: no threshold on the body can separate them.
Signatures are of the body (article text), not the headline, which republishers rewrite. Each setting is also measured
with texts under --min-words neither indexed nor matched. The pick is the least cost: missed share of republications
(mean over strengths) + --weight x the share of corpus articles falsely merged (among settings within COST_NOISE of
the least, the shortest shingles); the picks at other weights are printed. About 5 minutes on 2 cores.

Run: python -m bench.wire_dupes [--sample 1000] [--seed 7] [--shingles 3,4,5,6,7,8,10] [--thresholds 0.3,0.35,...,0.9]
     [--permutations 128] [--min-words 50] [--weight 30] [--json bench/results/wire_dupes.json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import textwrap
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from datasketch import MinHash, MinHashLSH

from bench.machine import describe, write_results
from qa.sources.wire import WireIndex, WirePolicy, shingles, signature

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "eval" / "reuters21578" / "corpus.jsonl"
THRESHOLDS = [round(0.3 + 0.05 * step, 2) for step in range(13)]
# A false merge (two stories become one: a story's own facts are lost, another's are answered for it) is taken to cost
# 10 missed republications (a story indexed twice); with a quarter of a feed's articles being wire copies, a false-merge
# rate over all articles weighs 10 x 0.75 / 0.25 = 30 times a miss rate over republications.
FALSE_MERGE_WEIGHT = 30
WEIGHTS = (5, 10, 20, 30, 50, 100)  # the picks at other weights, printed too
# Cost differences this small are within the spread of one setting's cost over --seed values (up to 0.009): not worth
# longer shingles, which every edited word breaks more of (and the synthetic edits here are sparse).
COST_NOISE = 0.01
LENGTHS = ((0, 50, "<50 words"), (50, 150, "50-149"), (150, 10**9, "150+"))
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
_TICKER = re.compile(r"<([A-Z0-9][A-Z0-9.]{0,9})>")
_TAG = re.compile(r"<([^<>]{1,80})>")
_SIGN_OFF = re.compile(r"\s*\breuter\b[.\s^M]*$", re.IGNORECASE)
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_EARNINGS = re.compile(r"^\s*(oper(ating)?\s+)?(shr|net)\b", re.IGNORECASE | re.MULTILINE)
_DIVIDEND = re.compile(r"\b(qtly|qtrly|mthly|monthly|quarterly|semi-annual|annual|semi-annually)\s+(div|dividend)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Story:
    """One corpus article."""

    id: str
    title: str
    text: str
    date: str


@dataclass(frozen=True)
class Strength:
    """How hard a republisher edits: share of the end trimmed, paragraphs edited, words changed in each, footer size."""

    name: str
    trim: tuple[float, float]
    paragraphs: tuple[int, int]
    edits: tuple[int, int]
    footer_lines: int
    strip_tags: bool


STRENGTHS = (
    Strength("light", (0.0, 0.0), (1, 1), (1, 2), 1, False),
    Strength("typical", (0.10, 0.30), (1, 2), (2, 4), 2, True),
    Strength("heavy", (0.25, 0.40), (2, 3), (4, 6), 4, True),
)

OUTLETS = (
    ("AP", "Copyright 2026 The Associated Press. All rights reserved. This material may not be published, broadcast, rewritten or redistributed."),
    ("Reuters", "Our Standards: The Thomson Reuters Trust Principles."),
    ("AFP", "Copyright 2026 Agence France-Presse. All rights reserved."),
    ("Bloomberg", "To contact the reporter on this story, email the newsroom. Copyright 2026 Bloomberg L.P."),
    ("dpa", "Copyright 2026 dpa Deutsche Presse-Agentur GmbH. Reprinted with permission."),
)
CITIES = ("LONDON", "NEW YORK", "WASHINGTON", "TOKYO", "FRANKFURT", "CHICAGO", "PARIS", "HONG KONG", "SYDNEY", "TORONTO")
PEOPLE = ("Jane Smith", "Tom Miles", "Marcus Webb", "Ana Lopez", "Kenji Sato", "Ruth Keller", "David Brunnstrom", "Lin Wei")
MONTHS = ("Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec")
# What outlets change in a Reuters paragraph: its house abbreviations spelled out, a word for another.
REWORDING = {
    "mln": "million", "bln": "billion", "dlrs": "dollars", "dlr": "dollar", "pct": "percent", "said": "says",
    "vs": "versus", "shr": "share", "shrs": "shares", "qtr": "quarter", "mths": "months", "revs": "revenues",
    "avg": "average", "corp": "Corporation", "ltd": "Limited", "company": "firm", "rose": "climbed", "fell": "dropped",
    "increase": "rise", "announced": "said", "expects": "anticipates", "government": "administration",
    "officials": "authorities", "reported": "posted", "agreed": "consented", "sources": "people", "told": "informed",
}
FILLERS = ("also", "now", "earlier", "reportedly", "on Tuesday", "this week", "meanwhile")


def load_corpus(path: Path = CORPUS) -> list[Story]:
    """The corpus articles, in file order."""
    with path.open(encoding="utf-8") as handle:
        return [Story(row["id"], row.get("title") or "", row["text"], row.get("date") or "") for row in map(json.loads, handle)]


def word_count(text: str) -> int:
    """How many \\w+ words the text has."""
    return len(_WORD.findall(text))


def paragraphs(text: str) -> list[str]:
    """A Reuters body's paragraphs (indented lines start one), unwrapped, the REUTER sign-off dropped."""
    parts = [" ".join(part.split()) for part in re.split(r"\n\s{2,}|\n\s*\n", text)]
    parts = [part for part in parts if part]
    if parts:
        parts[-1] = _SIGN_OFF.sub("", parts[-1]).strip()
    return [part for part in parts if part] or [" ".join(text.split())]


def without_tags(paragraph: str) -> str:
    """The paragraph with ticker tags dropped and other <...> marks unwrapped, as other outlets print it."""
    return re.sub(r"\s{2,}", " ", _TAG.sub(lambda tag: "" if _TICKER.fullmatch(tag.group(0)) else tag.group(1), paragraph)).strip()


def trimmed(parts: list[str], share: float) -> list[str]:
    """The paragraphs with about `share` of the words cut from the end: at the paragraph or sentence end nearest that
    cut, or mid-sentence when none is near (one long paragraph)."""
    if share <= 0:
        return parts
    words = [(index, word) for index, part in enumerate(parts) for word in part.split()]
    keep = round(len(words) * (1 - share))
    ends = [position + 1 for position, (index, word) in enumerate(words[:-1])
            if word.endswith((".", "!", "?", '."')) or words[position + 1][0] != index]
    cut = min(ends, key=lambda end: abs(end - keep), default=keep)
    if abs(cut - keep) > 0.5 * share * len(words):
        cut = keep
    kept: dict[int, list[str]] = defaultdict(list)
    for index, word in words[: max(1, cut)]:
        kept[index].append(word)
    return [" ".join(part) for part in kept.values()]


def edited(paragraph: str, count: int, rng: random.Random) -> str:
    """The paragraph with `count` words changed: reworded where a REWORDING word stands, else a word dropped or added."""
    words = paragraph.split()
    candidates = [index for index, word in enumerate(words) if word.lower().strip(".,;:\"'") in REWORDING]
    for index in rng.sample(candidates, min(count, len(candidates))):
        core = words[index].strip(".,;:\"'")
        words[index] = words[index].replace(core, REWORDING[core.lower()])
    for _ in range(count - min(count, len(candidates))):
        if len(words) > 3 and rng.random() < 0.5:
            del words[rng.randrange(1, len(words))]
        else:
            words.insert(rng.randrange(1, len(words) + 1), rng.choice(FILLERS))
    return " ".join(words)


def republished(story: Story, strength: Strength, rng: random.Random, related: str) -> tuple[str, str]:
    """A headline and body another outlet might run the story under, at this strength."""
    outlet, copyright_line = rng.choice(OUTLETS)
    city = rng.choice(CITIES)
    parts = paragraphs(story.text)
    if strength.strip_tags:
        parts = [part for part in map(without_tags, parts) if part]
    parts = trimmed(parts, rng.uniform(*strength.trim))
    for index in rng.sample(range(len(parts)), min(len(parts), rng.randint(*strength.paragraphs))):
        parts[index] = edited(parts[index], rng.randint(*strength.edits), rng)
    dateline = rng.choice((f"{city} ({outlet}) - ", f"{city}, {rng.choice(MONTHS)} {rng.randint(1, 28)} ({outlet}) - ", f"({outlet}) - "))
    parts[0] = dateline + parts[0]
    reporter, editor, other = rng.sample(PEOPLE, 3)
    footer = [f"(Reporting by {reporter} in {city.title()}; Additional reporting by {other}; Editing by {editor})"
              if strength.footer_lines > 2 else f"Reporting by {reporter}; Editing by {editor}",
              copyright_line, f"Related: {without_tags(related).title()}", "Sign up for our morning briefing, delivered to your inbox."]
    if strength.footer_lines > 1:
        parts.insert(0, f"By {reporter}")
    parts += footer[: strength.footer_lines]
    width = rng.choice((0, 60, 72, 80))
    body = "\n\n".join(textwrap.fill(part, width) if width else part for part in parts)
    headline = f"{without_tags(story.title).title() or 'Update'} - {outlet}"
    return headline, body


def length_bucket(words: int) -> str:
    """The LENGTHS bucket of a word count."""
    return next(name for low, high, name in LENGTHS if low <= words < high)


def kind_of(story: Story) -> str:
    """earnings (Shr/Net tables), dividend, or other."""
    if _DIVIDEND.search(story.text):
        return "dividend"
    return "earnings" if _EARNINGS.search(story.text) else "other"


class Facts(NamedTuple):
    """What the judge compares of an article."""

    body: str  # whitespace-normalised
    headline: frozenset[str]  # its words (the first ten of the body when it has no title)
    figures: frozenset[str]  # digit runs (thousands separators dropped) and number words as digits
    companies: frozenset[str]  # the headline's tickers, exchange suffix dropped (<PARC.O> is PARC)
    filed: date | None


class Judge:
    """Whether two corpus articles are one story: the ground truth the index is scored against."""

    def __init__(self, stories: Sequence[Story]) -> None:
        self.stories = {story.id: story for story in stories}
        self._facts: dict[str, Facts] = {}
        self._shingles: dict[str, set[bytes]] = {}

    def facts(self, story_id: str) -> Facts:
        """The article's Facts (computed once)."""
        if story_id not in self._facts:
            story = self.stories[story_id]
            headline = story.title or " ".join(story.text.split()[:10])
            words = _WORD.findall(story.text.lower())
            self._facts[story_id] = Facts(
                " ".join(story.text.split()),
                frozenset(_WORD.findall(_TAG.sub(" ", headline.lower()))),
                frozenset(_DIGITS.findall(_THOUSANDS.sub("", story.text))) | {_NUMBER_WORDS[word] for word in words if word in _NUMBER_WORDS},
                frozenset(ticker.split(".")[0] for ticker in _TICKER.findall(story.title)),
                date.fromisoformat(story.date[:10]) if story.date else None,
            )
        return self._facts[story_id]

    def _trigram_jaccard(self, first: str, second: str) -> float:
        """Exact Jaccard similarity of the two bodies' 3-word shingles."""
        for story_id in (first, second):
            if story_id not in self._shingles:
                self._shingles[story_id] = shingles(self.stories[story_id].text, 3)
        left, right = self._shingles[first], self._shingles[second]
        return len(left & right) / max(1, len(left | right))

    def relation(self, first: str, second: str) -> str:
        """identical (the same body), identical_other_company (the same body under headlines naming different
        tickers: dividend or earnings boilerplate), refile (the same story filed again with small changes: within 3
        days, like headline or near-identical body, no figure of one missing from the other, no other company) or
        different."""
        a, b = self.facts(first), self.facts(second)
        other_company = bool(a.companies and b.companies and not a.companies & b.companies)
        if a.body == b.body:
            return "identical_other_company" if other_company else "identical"
        close = a.filed is not None and b.filed is not None and abs((a.filed - b.filed).days) <= 3
        if close and not other_company and (a.figures <= b.figures or b.figures <= a.figures):
            if len(a.headline & b.headline) / max(1, len(a.headline | b.headline)) >= 0.5 or self._trigram_jaccard(first, second) >= 0.8:
                return "refile"
        return "different"

    def same_story(self, first: str, second: str) -> bool:
        """One story filed twice (identical or refile)."""
        return first == second or self.relation(first, second) in ("identical", "refile")


@dataclass(frozen=True)
class Republication:
    """A positive: a corpus story as another outlet ran it."""

    original: str
    strength: str
    headline: str
    text: str
    words: int


def republications(stories: Sequence[Story], sample: int, seed: int) -> list[Republication]:
    """`sample` stories drawn with the seed, each republished at every strength."""
    rng = random.Random(seed)
    chosen = rng.sample(list(stories), min(sample, len(stories)))
    out = []
    for story in chosen:
        for strength in STRENGTHS:
            related = rng.choice(stories).title or "More news"
            headline, text = republished(story, strength, rng, related)
            out.append(Republication(story.id, strength.name, headline, text, word_count(story.text)))
    return out


def corpus_duplicates(stories: Sequence[Story], judge: Judge) -> dict[str, Any]:
    """Articles filed more than once with an identical body (whitespace normalised), by company and filing date."""
    groups: dict[str, list[Story]] = defaultdict(list)
    for story in stories:
        groups[" ".join(story.text.split())].append(story)
    pairs = [(a, b) for group in groups.values() for index, a in enumerate(group) for b in group[index + 1 :]]
    relations = Counter(judge.relation(a.id, b.id) for a, b in pairs)
    return {
        "groups": sum(1 for group in groups.values() if len(group) > 1),
        "articles": sum(len(group) for group in groups.values() if len(group) > 1),
        "pairs": len(pairs),
        "same_company": relations["identical"],
        "other_company": relations["identical_other_company"],
        "same_day": sum(1 for a, b in pairs if a.date[:10] == b.date[:10]),
        "other_company_examples": [
            [a.id, a.title, b.id, b.title, " ".join(a.text.split())[:100]]
            for a, b in pairs if judge.relation(a.id, b.id) == "identical_other_company"
        ][:20],
    }


def candidate_pairs(ids: Sequence[str], signatures: Sequence[MinHash], policy: WirePolicy, judge: Judge) -> dict[str, int]:
    """The hard negatives: every pair of articles an LSH query at policy.threshold surfaces, by relation."""
    lsh = MinHashLSH(threshold=policy.threshold, num_perm=policy.permutations)
    for article_id, minhash in zip(ids, signatures, strict=True):
        lsh.insert(article_id, minhash)
    pairs = {tuple(sorted((article_id, other))) for article_id, minhash in zip(ids, signatures, strict=True)
             for other in lsh.query(minhash) if other != article_id}
    counts = Counter(judge.relation(a, b) for a, b in pairs)
    return {"pairs": len(pairs), **{name: counts[name] for name in ("identical", "refile", "identical_other_company", "different")}}


def mean_us(seconds: float, count: int) -> float:
    """Microseconds per item."""
    return round(seconds / max(count, 1) * 1e6, 1)


def measure(stories: Sequence[Story], positives: Sequence[Republication], judge: Judge, shingle_words: int,
            permutations: int, thresholds: Sequence[float], min_words: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every figure for one shingle size at each threshold (and again with texts under min_words neither indexed nor
    matched), and the hard negatives surfaced at the lowest threshold."""
    base = WirePolicy(shingle_words, permutations, min(thresholds))
    started = time.perf_counter()
    signatures = [signature(story.text, base) for story in stories]
    signature_us = mean_us(time.perf_counter() - started, len(stories))
    positive_signatures = [signature(positive.text, base) for positive in positives]
    ids = [story.id for story in stories]
    kinds = {story.id: kind_of(story) for story in stories}
    lengths = {story.id: length_bucket(word_count(story.text)) for story in stories}
    hard = candidate_pairs(ids, signatures, base, judge)
    rows = []
    for threshold in thresholds:
        index = WireIndex(WirePolicy(shingle_words, permutations, threshold))
        started = time.perf_counter()
        for article_id, minhash in zip(ids, signatures, strict=True):
            index.add(article_id, minhash)
        add_us = mean_us(time.perf_counter() - started, len(ids))
        started = time.perf_counter()
        found = [index.match(minhash, excluding=article_id) for article_id, minhash in zip(ids, signatures, strict=True)]
        query_us = mean_us(time.perf_counter() - started, len(ids))
        row: dict[str, Any] = {"shingle_words": shingle_words, "permutations": permutations, "threshold": threshold,
                               "signature_us": signature_us, "add_us": add_us, "query_us": query_us}
        row.update(negatives(ids, found, judge, kinds, lengths, len(ids)))
        row.update(positives_found(positives, [index.match(minhash) for minhash in positive_signatures], judge))
        if min_words:
            row["floor"] = with_floor(index.policy, ids, signatures, positives, positive_signatures, judge, kinds, lengths, min_words)
        rows.append(row)
        print(json.dumps({key: row[key] for key in ("shingle_words", "threshold", "recall", "false_merges", "query_us")}), flush=True)
    return rows, hard


def with_floor(policy: WirePolicy, ids: Sequence[str], signatures: Sequence[MinHash], positives: Sequence[Republication],
               positive_signatures: Sequence[MinHash], judge: Judge, kinds: dict[str, str], lengths: dict[str, str],
               min_words: int) -> dict[str, Any]:
    """The same figures when texts under min_words are neither indexed nor matched (their republications count as missed)."""
    long = [(article_id, minhash) for article_id, minhash in zip(ids, signatures, strict=True)
            if word_count(judge.stories[article_id].text) >= min_words]
    index = WireIndex(policy)
    for article_id, minhash in long:
        index.add(article_id, minhash)
    found = [index.match(minhash, excluding=article_id) for article_id, minhash in long]
    matched = [index.match(minhash) if word_count(positive.text) >= min_words else None
               for positive, minhash in zip(positives, positive_signatures, strict=True)]
    figures = {"min_words": min_words, **negatives([article_id for article_id, _ in long], found, judge, kinds, lengths, len(ids)),
               **positives_found(positives, matched, judge)}
    return figures


def negatives(ids: Sequence[str], found: Sequence[tuple[str, float] | None], judge: Judge, kinds: dict[str, str],
              lengths: dict[str, str], corpus_size: int) -> dict[str, Any]:
    """The corpus queried against itself: articles matched to a copy, to an identical body of another company,
    or (a false merge) to a different story (its rate over corpus_size articles), and the false merges by kind and length."""
    relations: Counter[str] = Counter()
    wrong: list[tuple[str, str, float]] = []
    for article_id, match in zip(ids, found, strict=True):
        if match is None:
            continue
        relation = judge.relation(article_id, match[0])
        relations[relation] += 1
        if relation == "different":
            wrong.append((article_id, match[0], match[1]))
    pairs = {tuple(sorted((a, b))) for a, b, _ in wrong}
    return {
        "matched_copy": relations["identical"] + relations["refile"],
        "matched_identical_other_company": relations["identical_other_company"],
        "false_merges": len(wrong),
        "false_merge_rate": round(len(wrong) / corpus_size, 5),
        "false_merge_pairs": len(pairs),
        "false_merges_by_kind": dict(Counter(kinds[a] for a, _, _ in wrong)),
        "false_merges_by_length": dict(Counter(lengths[a] for a, _, _ in wrong)),
        "false_merge_examples": [
            {"pair": [a, b], "similarity": round(similarity, 3), "titles": [judge.stories[a].title, judge.stories[b].title],
             "dates": [judge.stories[a].date, judge.stories[b].date]}
            for (a, b), similarity in sorted({tuple(sorted((a, b))): similarity for a, b, similarity in wrong}.items(), key=lambda item: -item[1])
        ],
    }


def positives_found(positives: Sequence[Republication], found: Sequence[tuple[str, float] | None], judge: Judge) -> dict[str, Any]:
    """Recall of the republications by strength (and by the original's length), and those merged into another story."""
    hits: dict[str, list[bool]] = defaultdict(list)
    by_length: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    misdirected: Counter[str] = Counter()
    for positive, match in zip(positives, found, strict=True):
        hit = match is not None and judge.same_story(positive.original, match[0])
        misdirected[positive.strength] += match is not None and not hit
        hits[positive.strength].append(hit)
        by_length[positive.strength][length_bucket(positive.words)].append(hit)
    return {
        "recall": {name: round(statistics.fmean(values), 4) for name, values in hits.items()},
        "misdirected": {name: misdirected[name] for name in hits},
        "recall_by_length": {name: {bucket: [round(statistics.fmean(values), 4), len(values)] for bucket, values in buckets.items()}
                             for name, buckets in by_length.items()},
    }


def cost(row: dict[str, Any], weight: float = FALSE_MERGE_WEIGHT) -> float:
    """Missed republications (mean over strengths) plus `weight` times the false-merge rate."""
    return round(1 - statistics.fmean(row["recall"].values()) + weight * row["false_merge_rate"], 4)


def best(rows: Sequence[dict[str, Any]], weight: float, figures: str = "") -> dict[str, Any]:
    """The row of least cost at this weight (of its `figures` part, e.g. "floor", when named); among the rows within
    COST_NOISE of it, the one with the shortest shingles."""
    def of(row: dict[str, Any]) -> dict[str, Any]:
        """The figures the cost is taken of."""
        return row[figures] if figures else row

    least = min(cost(of(row), weight) for row in rows)
    near = [row for row in rows if cost(of(row), weight) <= least + COST_NOISE]
    return min(near, key=lambda row: (row["shingle_words"], cost(of(row), weight), of(row)["false_merges"], -row["threshold"]))


def recall_cells(row: dict[str, Any]) -> list[str]:
    """Recall light / typical / heavy, three decimals."""
    return [f"{row['recall'][strength.name]:.3f}" for strength in STRENGTHS]


def print_table(rows: Sequence[dict[str, Any]], chosen: dict[str, Any], weight: float) -> None:
    """The grid as a Markdown table, the chosen row in bold."""
    floor = rows[0].get("floor", {}).get("min_words")
    print("\n| shingle | threshold | recall light | typical | heavy | misdirected | false merges (articles) | rate | pairs | "
          "identical body, other company | signature µs | query µs | cost |"
          + (f" ≥{floor} words: recall light / typical / heavy | false merges | cost |" if floor else ""))
    print("| ---: " * (13 + (3 if floor else 0)) + "|")
    for row in rows:
        cells = [row["shingle_words"], f"{row['threshold']:.2f}", *recall_cells(row), sum(row["misdirected"].values()),
                 row["false_merges"], f"{100 * row['false_merge_rate']:.2f} %", row["false_merge_pairs"],
                 row["matched_identical_other_company"], row["signature_us"], row["query_us"], f"{cost(row, weight):.3f}"]
        if floor:
            cells += [" / ".join(recall_cells(row["floor"])), row["floor"]["false_merges"], f"{cost(row['floor'], weight):.3f}"]
        text = [str(cell) for cell in cells]
        if row is chosen:
            text = [f"**{cell}**" for cell in text]
        print("| " + " | ".join(text) + " |")


def sensitivity(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The setting each false-merge weight picks, with and without the word floor."""
    out = []
    for weight in WEIGHTS:
        pick = best(rows, weight)
        entry: dict[str, Any] = {"weight": weight, "pick": [pick["shingle_words"], pick["threshold"]], "recall": pick["recall"],
                                 "false_merges": pick["false_merges"]}
        if "floor" in rows[0]:
            floored = best(rows, weight, "floor")
            entry["floor_pick"] = [floored["shingle_words"], floored["threshold"]]
            entry["floor_recall"], entry["floor_false_merges"] = floored["floor"]["recall"], floored["floor"]["false_merges"]
        out.append(entry)
    return out


def parse_floats(text: str) -> list[float]:
    """Comma-separated numbers."""
    return [float(part) for part in text.split(",") if part]


def main(argv: Iterable[str] | None = None) -> None:
    """Measure the grid, print the table and the chosen setting, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=1000, help="Stories republished as positives (each at every strength).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shingles", default="3,4,5,6,7,8,10")
    parser.add_argument("--thresholds", default=",".join(str(value) for value in THRESHOLDS))
    parser.add_argument("--permutations", type=int, default=128)
    parser.add_argument("--min-words", type=int, default=50, help="Also measure with texts under this many words left out (0: not).")
    parser.add_argument("--weight", type=float, default=FALSE_MERGE_WEIGHT, help="What a false merge costs, in missed republications.")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args(None if argv is None else list(argv))
    if not arguments.corpus.exists():
        raise SystemExit(f"{arguments.corpus} not found: this benchmark reads ../shared/eval/reuters21578")
    stories = load_corpus(arguments.corpus)
    judge = Judge(stories)
    positives = republications(stories, arguments.sample, arguments.seed)
    duplicates = corpus_duplicates(stories, judge)
    print(json.dumps({key: value for key, value in duplicates.items() if key != "other_company_examples"}), flush=True)
    rows, hard = [], {}
    for size in (int(part) for part in arguments.shingles.split(",")):
        measured, hard[size] = measure(stories, positives, judge, size, arguments.permutations, parse_floats(arguments.thresholds),
                                        arguments.min_words)
        rows += measured
    for row in rows:
        row["cost"] = cost(row, arguments.weight)
        if "floor" in row:
            row["floor"]["cost"] = cost(row["floor"], arguments.weight)
    chosen = best(rows, arguments.weight)
    print_table(rows, chosen, arguments.weight)
    picks = sensitivity(rows)
    print(f"\nhard negatives (pairs an LSH query at {min(parse_floats(arguments.thresholds))} surfaces): {json.dumps(hard)}")
    print(f"chosen: {chosen['shingle_words']}-word shingles, threshold {chosen['threshold']} "
          f"(cost = missed share + {arguments.weight} x false-merge rate = {chosen['cost']})")
    print(f"recall by original length at the chosen setting: {json.dumps(chosen['recall_by_length'])}")
    print(f"false merges there by kind {chosen['false_merges_by_kind']}, by length {chosen['false_merges_by_length']}")
    print("picks by weight: " + json.dumps(picks))
    if arguments.json:
        for row in rows:  # every false-merge pair of the chosen setting only, to keep the file small
            for figures in (row, row.get("floor", {})):
                if row is not chosen:
                    figures.pop("false_merge_examples", None)
        write_results(arguments.json, {
            "machine": describe(), "corpus": str(arguments.corpus), "articles": len(stories), "sample": arguments.sample,
            "seed": arguments.seed, "false_merge_weight": arguments.weight, "picks_by_weight": picks, "corpus_duplicates": duplicates,
            "hard_negatives": hard, "chosen": {key: chosen[key] for key in ("shingle_words", "permutations", "threshold")},
            "rows": rows,
        })


if __name__ == "__main__":
    main()
