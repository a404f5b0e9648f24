"""A writer for the crash trials: adds, replaces and deletes articles and compacts, one write at a time, printing
`begin` before and `ack` after each write returns, until it is killed. MIX is `upsert` (mostly adds and
replacements), `compact` (half of the steps forced compactions, everything merged into one segment) or `delete`.
Run: python -m tests.crash_worker DIR SEED MIX"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from index.articles import make_article
from index.build import update_index
from index.chunking import ChunkingPolicy
from index.compaction import compact_index
from index.embedder import HashingEmbedder
from index.store import IndexSnapshot, index_exists
from qa.types import Article

POOL = 40  # article ids the writer draws from


def article(number: int, version: int) -> Article:
    """Article `number` in `version`: several chunks whose every sentence names both, so a mix would show."""
    sentences = " ".join(
        f"Harbour {number} version {version} sentence {line} says the ferry for pier {number} sailed {line + version} times."
        for line in range(24)
    )
    return make_article(f"harbour-{number}", f"Harbour {number} v{version}", sentences, "crash", None)


def stored_ids(directory: Path, embedder: HashingEmbedder) -> list[str]:
    """Ids of the articles in the live state."""
    if not index_exists(directory):
        return []
    snapshot = IndexSnapshot.open(directory, embedder.name, embedder.dimension)
    try:
        return [stored.id for stored in snapshot.articles(limit=10_000)]
    finally:
        snapshot.close()


def say(*words: object) -> None:
    """One line to the parent, flushed at once."""
    print(*words, flush=True)


def main(directory: Path, seed: int, mix: str) -> None:
    """Write until killed."""
    rng = random.Random(seed)
    embedder, policy = HashingEmbedder(), ChunkingPolicy(max_tokens=48)
    present = set(stored_ids(directory, embedder))
    compacting, deleting = {"upsert": (0.15, 0.35), "compact": (0.5, 0.6), "delete": (0.1, 0.5)}[mix]
    step = 0
    while True:
        step += 1
        roll = rng.random() if present else 1.0  # an empty index first gets an article
        if roll < compacting:
            say("begin compact")
            compact_index(directory, force=mix == "compact")
            say("ack compact")
            continue
        if roll < deleting and present:
            victim = rng.choice(sorted(present))
            say("begin delete", victim)
            update_index(directory, embedder, policy, deletes=[victim])
            present.discard(victim)
            say("ack delete", victim)
            continue
        number, version = rng.randrange(POOL), seed * 1000 + step
        say("begin upsert", f"harbour-{number}", version)
        update_index(directory, embedder, policy, [article(number, version)], compact=rng.random() < 0.5)
        present.add(f"harbour-{number}")
        say("ack upsert", f"harbour-{number}", version)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
