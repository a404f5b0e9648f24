"""Follow-up resolution and the conversation store."""

from __future__ import annotations

from qa.chat import ConversationStore, Turn, needs_context, resolve_follow_up

GCC_TURN = Turn("What did Russia say about the GCC?", "What did Russia say about the GCC?", "He confirmed ... [1]")


def test_standalone_questions_are_left_alone() -> None:
    assert not needs_context("Who killed Khamenei in the February strike?")
    assert resolve_follow_up("Who killed Khamenei in the February strike?", [GCC_TURN]) == (
        "Who killed Khamenei in the February strike?"
    )


def test_pronouns_and_ellipsis_carry_the_previous_topic() -> None:
    for follow_up in ("And how did Iran respond?", "what did he say about it?", "why?", "What about Israel?"):
        assert needs_context(follow_up), follow_up
        resolved = resolve_follow_up(follow_up, [GCC_TURN])
        assert resolved.startswith(follow_up)
        assert "Russia" in resolved and "GCC" in resolved


def test_carried_terms_do_not_repeat_the_question_and_chain_across_turns() -> None:
    second = Turn("And Iran?", resolve_follow_up("And Iran?", [GCC_TURN]), "")
    third = resolve_follow_up("what did they say?", [GCC_TURN, second])
    assert "Iran" in third and "Russia" in third
    assert resolve_follow_up("And Russia?", [GCC_TURN]).count("Russia") == 1


def test_no_history_means_no_change() -> None:
    assert resolve_follow_up("what did he say?", []) == "what did he say?"


def test_conversations_expire_after_idle_ttl() -> None:
    now = [0.0]
    store = ConversationStore(ttl_seconds=60, clock=lambda: now[0])
    conversation = store.get_or_create(None)
    store.record(conversation, GCC_TURN)
    now[0] = 30
    assert store.get_or_create(conversation.id).turns == [GCC_TURN]
    now[0] = 95
    assert len(store) == 0
    assert store.get_or_create(conversation.id).turns == []


def test_capacity_drops_the_least_recently_used() -> None:
    store = ConversationStore(capacity=2)
    first, second = store.get_or_create("a"), store.get_or_create("b")
    store.record(first, GCC_TURN)
    store.record(second, GCC_TURN)
    store.get_or_create("a")
    store.get_or_create("c")
    assert len(store) == 2
    assert store.get_or_create("a").turns == [GCC_TURN]
    assert store.get_or_create("b").turns == []


def test_only_recent_turns_are_kept() -> None:
    store = ConversationStore()
    conversation = store.get_or_create("x")
    for number in range(15):
        store.record(conversation, Turn(f"q{number}", f"q{number}", ""))
    assert len(conversation.turns) == 10 and conversation.turns[-1].question == "q14"
