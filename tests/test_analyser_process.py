"""The Korean analyser lent by a child process (`qa_service.analyser_process`): the same
morphemes as the in-process analyser, and every way the loan can end."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from qa_service.analyser_process import AnalyserProcess
from qa_service.tokens import Tokenizer

TEXTS = [
    "삼성전자의 2023년 매출액은 얼마인가요?",
    "간사이 국제공항은 오사카 만의 인공섬에 있다.",
    "MBC 100분 토론은 FY2017에 시작했다 \"따옴표\"와 줄바꿈\n둘째 줄",
    "자 산 총 계 5,466,312 백만원",
]


def fake_child(code: str) -> subprocess.Popen[bytes]:
    """A child that speaks (or fails to speak) the protocol as `code` says."""
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def test_a_lent_analyser_gives_the_in_process_analysis(tokenizer: Tokenizer) -> None:
    lent = AnalyserProcess.start()
    borrower = Tokenizer(lent)
    try:
        for text in TEXTS:
            assert borrower.morphemes(text) == tokenizer.morphemes(text)
            assert borrower.tokens(text) == tokenizer.tokens(text)
        assert not borrower.loaded and lent.alive  # all of it came from the child
        child = lent._process
        borrower.load()  # its own analyser now; the loan ends and the child exits
        assert borrower.loaded and not lent.alive
        assert child is not None and child.wait(5) == 0
        assert [borrower.tokens(t) for t in TEXTS] == [tokenizer.tokens(t) for t in TEXTS]
    finally:
        borrower.close()


def test_a_child_that_dies_ends_the_loan(tokenizer: Tokenizer) -> None:
    child = fake_child("import sys; print('ready', flush=True); sys.stdin.readline()")
    lent = AnalyserProcess(child)
    assert lent.analyse(TEXTS[0]) is None  # it exits on the first text
    assert not lent.alive and child.poll() is not None
    assert Tokenizer(lent).tokens(TEXTS[0]) == tokenizer.tokens(TEXTS[0])  # in-process


@pytest.mark.parametrize("code", [
    "import sys; print('ready', flush=True); sys.stdin.readline(); print('nonsense', flush=True)",
    "import sys; print('ready', flush=True); sys.stdin.readline(); print('[[1]]', flush=True)",
    "print('busy', flush=True); import time; time.sleep(30)",
])
def test_a_child_that_answers_nonsense_ends_the_loan(code: str) -> None:
    child = fake_child(code)
    lent = AnalyserProcess(child)
    assert lent.analyse(TEXTS[0]) is None
    assert not lent.alive and child.poll() is not None


def test_a_silent_child_times_out_and_is_killed() -> None:
    child = fake_child("import time; time.sleep(30)")
    lent = AnalyserProcess(child, load_timeout_s=0.3)
    started = time.monotonic()
    assert lent.analyse(TEXTS[0]) is None
    assert time.monotonic() - started < 10
    assert not lent.alive and child.poll() is not None


def test_a_tokenizer_whose_loan_failed_analyses_in_process(tokenizer: Tokenizer) -> None:
    lent = AnalyserProcess(fake_child("import sys; sys.exit(3)"))
    borrower = Tokenizer(lent)
    assert borrower.tokens(TEXTS[1]) == tokenizer.tokens(TEXTS[1])
    assert borrower.loaded and not lent.alive


def test_closing_ends_the_child() -> None:
    child = fake_child("import sys\nfor line in sys.stdin: pass")
    borrower = Tokenizer(AnalyserProcess(child))
    borrower.close()
    assert child.wait(5) == 0
    borrower.close()  # twice is fine
