"""Which files of an index directory are live, and deleting the rest only once no reader can still be opening them."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index import database, segments
from index.manifest import Manifest, read_manifest
from index.segments import StoreState

READERS_LOCK = ".readers"
_INDEX_PREFIXES = ("gen-", "store-")
_DATABASE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


@contextmanager
def opening(directory: Path) -> Iterator[None]:
    """Held (shared) by a reader from reading the live state until it holds every file that state names; a file is
    deleted only under the exclusive lock, so never between the two. Readers of a folder they cannot write to
    (nothing deletes there then) go without."""
    try:
        handle = (directory / READERS_LOCK).open("a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def live_names(directory: Path, manifest: Manifest, state: StoreState | None) -> set[str]:
    """The names of the files and folders the live manifest and state use."""
    database_file = manifest.database_path(directory).name
    names = {database_file + suffix for suffix in _DATABASE_SIDE_FILES}
    if state is None:
        names |= {path.name for path in manifest.files(directory)}
        return names
    store = manifest.generation
    names |= {segments.segment_file(directory, store, segment.name).name for segment in state.segments}
    if state.keyword:
        names.add(segments.keyword_folder(directory, store, state.keyword).name)
    return names


def remove_garbage(directory: Path, manifest: Manifest | None, state: StoreState | None, wait: bool) -> list[Path]:
    """Delete index files and folders the live state does not name (all of them when nothing is live) and temporary
    files of interrupted writes; the caller holds the writer lock. Waits for readers that are opening the index,
    or, with wait False, gives up (returning nothing) if one is."""
    keep = live_names(directory, manifest, state) if manifest else set()
    garbage = [
        path for path in directory.iterdir()
        if (path.name.startswith(_INDEX_PREFIXES) and path.name not in keep)
        or (path.name.startswith(".") and path.name.endswith(".tmp"))
    ]
    if not garbage:
        return []
    with (directory / READERS_LOCK).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return []
        try:
            for path in garbage:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return garbage


def committed_state(directory: Path, manifest: Manifest) -> StoreState | None:
    """The last committed state of the store a manifest names (None for a generation of an earlier format)."""
    if not manifest.segmented:
        return None
    connection = database.connect_reader(manifest.database_path(directory))
    try:
        return segments.read_state(connection)
    finally:
        connection.close()


def live_file_names(directory: Path) -> set[str]:
    """The names of the index files and folders the published manifest and its committed state use."""
    manifest = read_manifest(directory)
    return live_names(directory, manifest, committed_state(directory, manifest))
