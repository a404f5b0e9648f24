"""Settings, read from QA_* environment variables (and a .env file) by every entry point."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.embedder import DEFAULT_MODEL


def default_seeds_dir() -> Path:
    """The shipped seeds: ./seeds when present, else the ones next to the installed source tree."""
    local = Path("seeds")
    return local if local.is_dir() else Path(__file__).resolve().parent.parent / "seeds"


class Settings(BaseSettings):
    """Everything a user can configure; see the README's Configuration section."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    index_dir: Path = Field(default=Path(".qa/index"), description="Where the index is stored.")
    seeds_dir: Path = Field(default_factory=default_seeds_dir, description="Articles indexed by default.")
    model: str = Field(default=DEFAULT_MODEL, description="Embedding model: the bundled default, a name or a path.")
    chunk_tokens: int = Field(default=160, ge=16, le=512, description="Largest chunk, in model tokens.")
    chunk_overlap: int = Field(default=1, ge=0, le=5, description="Sentences shared by consecutive chunks.")
    top_k: int = Field(default=5, ge=1, le=100, description="Passages returned by default.")
    max_question_chars: int = Field(default=2000, ge=10, description="Longest accepted question.")
    answer_sentences: int = Field(default=2, ge=1, le=3, description="Sentences in an extractive answer.")
