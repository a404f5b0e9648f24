"""Settings, read from QA_* environment variables (and a .env file) by every entry point."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.backends import Backend
from index.chunking import ChunkContext
from index.embedder import DEFAULT_MODEL
from index.vector_store import VectorStoreConfig, VectorStoreKind


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
    embed_backend: Backend = Field(default="onnx", description="Embedding runtime: onnx (fp32), onnx-int8 or torch.")
    onnx_cache_dir: Path | None = Field(
        default=None, description="Where ONNX exports of the model are cached (default ~/.cache/grounded-qa/onnx)."
    )
    chunk_tokens: int = Field(default=160, ge=16, le=512, description="Largest chunk, in model tokens.")
    chunk_overlap: int = Field(default=1, ge=0, le=5, description="Sentences shared by consecutive chunks.")
    chunk_context: ChunkContext = Field(
        default="title+heading", description="What of its article a chunk is embedded with: none, title, title+heading, title+heading+lead."
    )
    top_k: int = Field(default=5, ge=1, le=100, description="Passages returned by default.")
    max_question_chars: int = Field(default=2000, ge=10, description="Longest accepted question.")
    answer_sentences: int = Field(default=3, ge=1, le=3, description="Sentences in an extractive answer.")
    min_confidence: float = Field(
        default=0.3, ge=-1.0, le=1.0,
        description="Abstain when the probability that the sources answer (qa/abstention_model.json) is below this.",
    )
    keyword_weight: float = Field(default=0.3, ge=0.0, le=1.0, description="Weight of BM25 in hybrid retrieval.")
    recency_weight: float = Field(default=4.0, ge=0.0, description="Bonus for recent articles when a question has as_of.")
    as_of_today: bool = Field(
        default=True, description="Ask questions as of today unless an as-of date is given (turn off for a pure archive)."
    )
    recency_half_life_days: float = Field(default=14.0, gt=0, description="Days after which the recency bonus halves.")
    conversation_ttl_seconds: float = Field(default=3600.0, gt=0, description="Idle time after which a conversation is forgotten.")
    llm_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL (e.g. http://127.0.0.1:8080/v1) for generative answers."
    )
    llm_model: str = Field(default="local", description="Model name sent to the generative endpoint.")
    llm_api_key: SecretStr | None = Field(default=None, description="Bearer key for the generative endpoint.")
    llm_timeout_seconds: float = Field(default=20.0, gt=0, description="Give up on the generative endpoint after this.")
    fetch_allow_hosts: str = Field(
        default="",
        description="Comma-separated hosts that feeds and pages may be fetched from even though they are private, "
        "loopback or link-local (e.g. 127.0.0.1,intranet.local); every other such address is refused.",
    )
    fetch_timeout_seconds: float = Field(default=15.0, gt=0, description="Give up on a feed or page request after this.")
    fetch_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="Largest feed or page fetched.")
    fetch_host_delay_seconds: float = Field(
        default=1.0, ge=0, description="Least time between two requests to one host (robots.txt may ask for more)."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by several `qa serve` replicas (e.g. redis://10.0.0.5:6379/0): conversations, rate "
        "limits and Slack de-duplication live there instead of in each process's memory.",
    )
    dask_scheduler: str | None = Field(
        default=None,
        description="Where `qa index` chunks and embeds: a Dask scheduler (tcp://HOST:8786) or local:N for N local "
        "worker processes on 127.0.0.1; unset, in this process.",
    )
    vector_store: VectorStoreKind = Field(
        default="faiss",
        description="Where chunk vectors are searched: faiss (segments in the index folder) or milvus (QA_MILVUS_URI).",
    )
    milvus_uri: str = Field(
        default="",
        description="With QA_VECTOR_STORE=milvus: a Milvus Lite file (a path ending in .db; empty: milvus.db in the "
        "index folder, one process at a time) or a Milvus server (http://HOST:19530).",
    )
    milvus_collection: str = Field(
        default="qa_chunks", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
        description="Collection name prefix (the store number is appended); give each index its own on a shared server.",
    )
    milvus_index: str = Field(
        default="FLAT", description="Milvus index type over the vectors: FLAT (exact, as FAISS here), HNSW, IVF_FLAT…"
    )
    milvus_token: SecretStr | None = Field(default=None, description="Milvus server token (user:password or API key).")
    query_cache_size: int = Field(
        default=10_000, ge=0, description="Question vectors kept for repeated questions (about 1.5 KB each); 0 turns the cache off."
    )
    embed_batch_max: int = Field(
        default=8, ge=1, le=256, description="Most questions embedded in one model call when they arrive together (1: no batching)."
    )
    embed_batch_wait_ms: float = Field(
        default=0.0, ge=0, le=100,
        description="How long a question that finds the model idle waits for others to share its call.",
    )
    watch_debounce_ms: int = Field(default=200, ge=0, description="A watched folder's changes are gathered this long.")

    @property
    def vector_store_config(self) -> VectorStoreConfig:
        """The vector store settings as the index layer takes them."""
        token = self.milvus_token.get_secret_value() if self.milvus_token else ""
        return VectorStoreConfig(self.vector_store, self.milvus_uri, self.milvus_collection, self.milvus_index, token)

    @property
    def allowed_fetch_hosts(self) -> tuple[str, ...]:
        """QA_FETCH_ALLOW_HOSTS as a list."""
        return tuple(host.strip().lower() for host in self.fetch_allow_hosts.split(",") if host.strip())
