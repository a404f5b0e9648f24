"""Where an index's chunk vectors are searched: its own FAISS segments (the default) or a Milvus collection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

VectorStoreKind = Literal["faiss", "milvus"]
VECTOR_STORES: tuple[VectorStoreKind, ...] = ("faiss", "milvus")
MILVUS_LITE_FILE = "milvus.db"


@dataclass(frozen=True)
class VectorStoreConfig:
    """Which vector store an index uses. Milvus: `milvus_uri` is a Milvus Lite file (a path ending in .db; empty means
    milvus.db in the index folder) or a server (http://host:19530); collections are named `milvus_collection` plus
    the store number; `milvus_index` is the Milvus index type (FLAT searches exactly, as the FAISS segments do)."""

    kind: VectorStoreKind = "faiss"
    milvus_uri: str = ""
    milvus_collection: str = "qa_chunks"
    milvus_index: str = "FLAT"
    milvus_token: str = ""

    @property
    def external(self) -> bool:
        """True when vectors are searched outside the index folder's FAISS segments."""
        return self.kind != "faiss"

    def uri_for(self, directory: Path) -> str:
        """The Milvus URI for an index folder (its own Milvus Lite file unless a URI is set)."""
        return self.milvus_uri or str(directory.resolve() / MILVUS_LITE_FILE)

    @property
    def lite(self) -> bool:
        """True when the URI names a Milvus Lite file rather than a server."""
        return not self.milvus_uri or self.milvus_uri.endswith(".db")
