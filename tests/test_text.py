"""Paragraph, sentence and heading splitting keep exact offsets."""

from index.text import Span, is_heading, paragraphs, sentences
from tests.conftest import SEEDS


def test_sentences_keep_offsets_and_skip_abbreviations() -> None:
    text = "Mr. Smith went to Washington. He met the U.S. envoy at 3 p.m. today! Did it work? Yes."
    found = list(sentences(text, 0, len(text)))
    assert [span.text for span in found] == [
        "Mr. Smith went to Washington.",
        "He met the U.S. envoy at 3 p.m. today!",
        "Did it work?",
        "Yes.",
    ]
    assert all(text[span.start : span.end] == span.text for span in found)


def test_paragraphs_split_at_blank_lines() -> None:
    text = "  First para.\nstill first.\n\n\n Second para.  \n"
    assert [span.text for span in paragraphs(text)] == ["First para.\nstill first.", "Second para."]


def test_headings_are_short_unpunctuated_lines() -> None:
    assert is_heading(Span(0, 6, "Global Concerns Rise"))
    assert not is_heading(Span(0, 6, "The conflict has raised alarms."))
    assert not is_heading(Span(0, 6, " ".join(["word"] * 20)))
    assert not is_heading(Span(0, 6, "two\nlines"))


def test_seed_headings_are_found() -> None:
    text = next(SEEDS.glob("*.txt")).read_text(encoding="utf-8")
    headings = [span.text for span in paragraphs(text) if is_heading(span)]
    assert "Russia Advocates Diplomatic Resolution" in headings
    assert "Global Concerns Rise" in headings
