"""Wire stories: one text republished by several outlets, found by MinHash/LSH over word shingles."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash, MinHashLSH

# Measured on Reuters-21578 (bench/wire_dupes.py, docs/benchmarks.md "Wire-story duplicates"): longer shingles share
# less of the templates of look-alike items (dividends, Fed operations, market reports), so 6 words find more
# republications than 3-5 at the same false-merge rate. At 0.55, 0.57 % of the 19,779 articles are merged into a
# different story (5 words at 0.5: 1.00 %) and 82 % of lightly edited republications are found (all of those of 150
# words or more). 256 permutations were no better than 128. Signatures stored under other settings must be recomputed.
PERMUTATIONS = 128
SHINGLE_WORDS = 6
THRESHOLD = 0.55  # estimated Jaccard similarity of word shingles at or above which two texts are one story
# Texts under 50 words (dividend lines, price reports) are neither matched nor matched against: at 0.55 that halves
# the false merges (113 -> 52 articles of 19,779) for only the republications of items that short (found 27 % anyway).
MIN_WORDS = 50
SCHEME = "affine32"  # datasketch 2's default hashing scheme, named so stored signatures are read back the same way
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class WirePolicy:
    """How texts are compared: shingle length in words, MinHash permutations, the similarity that makes one story."""

    shingle_words: int = SHINGLE_WORDS
    permutations: int = PERMUTATIONS
    threshold: float = THRESHOLD
    min_words: int = MIN_WORDS

    def comparable(self, text: str) -> bool:
        """Whether a text is long enough to be told apart from a look-alike by its shingles."""
        return len(_WORD.findall(text)) >= self.min_words

    @property
    def key(self) -> str:
        """What a stored signature depends on: signatures made under another key are not compared."""
        return f"{self.shingle_words}w/{self.permutations}p/{SCHEME}"


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """The text's lower-cased runs of `size` words (the words themselves when it is shorter)."""
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[start : start + size]).encode() for start in range(len(words) - size + 1)}


def signature(text: str, policy: WirePolicy = WirePolicy()) -> MinHash:
    """The text's MinHash."""
    minhash = MinHash(num_perm=policy.permutations, scheme=SCHEME)
    minhash.update_batch(list(shingles(text, policy.shingle_words)))
    return minhash


def to_bytes(minhash: MinHash) -> bytes:
    """A MinHash as stored."""
    return np.asarray(minhash.hashvalues, dtype=np.uint64).tobytes()


def from_bytes(data: bytes, policy: WirePolicy = WirePolicy()) -> MinHash:
    """A stored MinHash."""
    return MinHash(num_perm=policy.permutations, hashvalues=np.frombuffer(data, dtype=np.uint64).copy(), scheme=SCHEME)


class WireIndex:
    """The MinHashes of indexed articles, to find the one a new text republishes."""

    def __init__(self, policy: WirePolicy = WirePolicy()) -> None:
        self.policy = policy
        self._lsh = MinHashLSH(threshold=policy.threshold, num_perm=policy.permutations)
        self._signatures: dict[str, MinHash] = {}

    def __len__(self) -> int:
        return len(self._signatures)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._signatures

    def add(self, article_id: str, minhash: MinHash) -> None:
        """Remember an article's MinHash (replacing the one it had)."""
        self.remove(article_id)
        self._lsh.insert(article_id, minhash)
        self._signatures[article_id] = minhash

    def remove(self, article_id: str) -> None:
        """Forget an article."""
        if self._signatures.pop(article_id, None) is not None:
            self._lsh.remove(article_id)

    def signature_of(self, article_id: str) -> MinHash:
        """The MinHash remembered for an article."""
        return self._signatures[article_id]

    def match(self, minhash: MinHash, excluding: str = "") -> tuple[str, float] | None:
        """The remembered article most similar to this MinHash at or above the threshold, with its similarity."""
        scored = [
            (candidate, self._signatures[candidate].jaccard(minhash))
            for candidate in self._lsh.query(minhash)
            if candidate != excluding
        ]
        best = max(scored, key=lambda item: (item[1], item[0]), default=None)
        return best if best is not None and best[1] >= self.policy.threshold else None
