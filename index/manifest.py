"""The manifest: the single file that names the live index generation, replaced atomically."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError

FORMAT_VERSION = 5
SEGMENTS_FORMAT = 5
# 2: keywords in SQLite FTS5; 3: no sentence notes; 4: one immutable generation per write. `qa index` converts them
UPGRADABLE_FORMATS = frozenset({2, 3, 4})
READABLE_FORMATS = frozenset({4, 5})
NOTES_FORMAT = 4  # the format whose sentence notes the answering features (and the abstention model) read
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """What an index was built with and which files are live. From format 5 it names the segment store (its
    `generation` is the store's number, new only when a rebuild or a conversion starts another store): the counts and
    the kind of vector index live in the store's database, changed by every write. Before format 5 each write
    published a new generation of files with this manifest, counts included."""

    model: str
    dimension: int
    generation: int
    articles: int = 0
    chunks: int = 0
    faiss_kind: str = "flat"
    trained_size: int = 0
    chunk_tokens: int = 0
    precision: str = "fp32"
    format_version: int = FORMAT_VERSION

    @property
    def segmented(self) -> bool:
        """A segment store (format 5 on), changed in place, rather than one immutable generation of files."""
        return self.format_version >= SEGMENTS_FORMAT

    def database_path(self, directory: Path) -> Path:
        """The SQLite file of this store (or generation)."""
        prefix = "store" if self.segmented else "gen"
        return directory / f"{prefix}-{self.generation:06d}.sqlite"

    def vectors_path(self, directory: Path) -> Path:
        """The FAISS file of this generation."""
        return directory / f"gen-{self.generation:06d}.faiss"

    def keyword_path(self, directory: Path) -> Path:
        """The keyword (tantivy) folder of this generation."""
        return directory / f"gen-{self.generation:06d}.keyword"

    def files(self, directory: Path) -> tuple[Path, Path, Path]:
        """Everything this generation wrote: its database, vector file and keyword folder."""
        return self.database_path(directory), self.vectors_path(directory), self.keyword_path(directory)

    @property
    def upgradable(self) -> bool:
        """Written by an earlier version whose index the next `qa index` converts without re-embedding."""
        return self.format_version in UPGRADABLE_FORMATS

    def check_compatible(
        self, directory: Path, model: str, dimension: int, precision: str | None = None, upgrading: bool = False
    ) -> None:
        """Refuse an index of another format or model (and, for writers, of another precision), saying how to rebuild;
        a writer (upgrading) accepts a format it converts."""
        rebuild = f"rebuild it with `qa index --rebuild --index-dir {directory}`"
        if self.upgradable and not upgrading and self.format_version not in READABLE_FORMATS:
            raise IndexMismatchError(
                f"the index at {directory} was written by an earlier version (format {self.format_version}); run "
                f"`qa index --index-dir {directory}` once to convert it to format {FORMAT_VERSION} (nothing is re-embedded)"
            )
        if self.format_version not in READABLE_FORMATS and not (upgrading and self.upgradable):
            raise IndexMismatchError(
                f"the index at {directory} has format {self.format_version}, this version reads {FORMAT_VERSION}; {rebuild}"
            )
        if self.model != model or self.dimension != dimension:
            raise IndexMismatchError(
                f"the index at {directory} was built with model {self.model!r} ({self.dimension} dimensions) "
                f"but the configured model is {model!r} ({dimension}); {rebuild}, or set QA_MODEL={self.model}"
            )
        if precision is not None and precision != self.precision:
            backends = "onnx-int8" if self.precision == "int8" else "onnx or torch"
            raise IndexMismatchError(
                f"the index at {directory} holds {self.precision} vectors but the embedding backend makes {precision} "
                f"ones, and one index never mixes the two; {rebuild}, or set QA_EMBED_BACKEND to {backends}"
            )


def read_manifest(directory: Path) -> Manifest:
    """Read the manifest, with errors that say what to do."""
    path = directory / MANIFEST_NAME
    if not path.exists():
        raise IndexNotFoundError(f"no index at {directory}; build one with `qa index`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(**data)
    except (ValueError, TypeError) as error:
        raise IndexCorruptError(
            f"the index manifest {path} is damaged ({error}); rebuild with `qa index --rebuild --index-dir {directory}`"
        ) from error


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Publish a manifest atomically: write aside, fsync, rename, fsync the folder."""
    temporary = directory / f".{MANIFEST_NAME}.{os.getpid()}.tmp"
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(asdict(manifest), handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / MANIFEST_NAME)
    fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    """Make a rename in directory durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
