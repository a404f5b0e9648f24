"""Turn a freshly built segment store into the layout an earlier format wrote, to test reading and converting it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from index.files import live_file_names
from index.manifest import MANIFEST_NAME, read_manifest

GENERATION = 7
_KEYED_BY_CONTENT = """
ALTER TABLE embeddings RENAME TO numbered_embeddings;
ALTER TABLE sentence_vectors RENAME TO numbered_sentence_vectors;
CREATE TABLE embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE sentence_vectors (
    key TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (key, start)
) WITHOUT ROWID;
INSERT INTO embeddings SELECT key, vector FROM numbered_embeddings;
INSERT INTO sentence_vectors SELECT e.key, s.start, s."end", s.vector
    FROM numbered_sentence_vectors AS s JOIN numbered_embeddings AS e ON e.id = s.embedding;
DROP TABLE numbered_sentence_vectors;
DROP TABLE numbered_embeddings;
"""  # vectors keyed by chunk key, as generations before format 5 kept them


def as_generation(directory: Path, format_version: int = 4) -> None:
    """Rewrite a one-segment store as generation GENERATION of format 4 (vectors keyed by chunk key; 3: without
    sentence notes; 2: keywords in an FTS5 table and no keyword folder)."""
    manifest = read_manifest(directory)
    database = directory / f"gen-{GENERATION:06d}.sqlite"
    store = sqlite3.connect(manifest.database_path(directory))
    store.execute("VACUUM INTO ?", (str(database),))
    [(kind, trained)] = store.execute("SELECT kind, trained FROM segments").fetchall()
    store.close()
    live = live_file_names(directory)
    segment = next(directory / name for name in live if name.endswith(".faiss"))
    keyword = next(directory / name for name in live if ".kw-" in name)
    shutil.copyfile(segment, directory / f"gen-{GENERATION:06d}.faiss")
    shutil.copytree(keyword, directory / f"gen-{GENERATION:06d}.keyword")
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode = DELETE")
    with connection:
        articles, chunks = (connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("articles", "chunks"))
        for table in ("segments", "tombstones", "store_state", "article_outlets"):
            connection.execute(f"DROP TABLE {table}")
        connection.executescript(_KEYED_BY_CONTENT)
        if format_version < 4:
            connection.execute("DELETE FROM sentence_notes")
        if format_version < 3:
            connection.execute("CREATE VIRTUAL TABLE chunk_terms USING fts5(title, heading, text, tokenize='porter unicode61')")
            connection.execute("INSERT INTO chunk_terms (rowid, title, heading, text) SELECT rowid, '', heading, text FROM chunks")
    connection.close()
    if format_version < 3:
        shutil.rmtree(directory / f"gen-{GENERATION:06d}.keyword")
    for path in directory.glob("store-*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    data = json.loads((directory / MANIFEST_NAME).read_text())
    data.update(generation=GENERATION, format_version=format_version, articles=articles, chunks=chunks, faiss_kind=kind,
                trained_size=trained or chunks)
    (directory / MANIFEST_NAME).write_text(json.dumps(data))
