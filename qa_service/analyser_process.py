"""The Korean analyser in a process of its own, lent to a server while its own copy loads.

Kiwi takes seconds to load and holds the interpreter lock meanwhile, so a server that loads
it at start answers nothing else for those seconds, and one that loads it on the first
Korean question makes that question wait. `qa serve` therefore starts this process first
thing (`AnalyserProcess.start`): it loads Kiwi on the machine's other core while the server
imports its modules and loads the embedding model. Until the server's own analyser has
loaded (once the server is idle: `qa_service.api.activity`), its `Tokenizer` sends Korean
text here and reads the morphemes back; then it closes this process.

Protocol, one line each way per text: the parent writes the text as a JSON string; the
child answers a JSON list of `[form, tag, start, end]`, Kiwi's analysis as the server's own
analyser gives it (the same package and options: `qa_service.tokens.new_kiwi`). The child
writes `ready` once Kiwi has loaded and analysed a first text, and ends when its input
closes, so it never outlives the server that started it. Anything unexpected (the child
died, answered nonsense, or took longer than `timeout_s`) ends the loan: the process is
killed and the caller analyses in-process, as it would without one.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time

__all__ = ["AnalyserProcess", "Morpheme"]

log = logging.getLogger(__name__)

Morpheme = tuple[str, str, int, int]  # form, tag (with its sub-tag: "VV-R"), start, end
READY = b"ready"
LOAD_TIMEOUT_S = 60.0  # loading Kiwi takes 1-3 s; a child still loading after this is stuck
ANALYSE_TIMEOUT_S = 30.0


class AnalyserProcess:
    """A child process running Kiwi; thread-safe (one analysis at a time)."""

    def __init__(self, process: subprocess.Popen[bytes], load_timeout_s: float = LOAD_TIMEOUT_S,
                 timeout_s: float = ANALYSE_TIMEOUT_S) -> None:
        self._process: subprocess.Popen[bytes] | None = process
        self._load_timeout_s = load_timeout_s
        self._timeout_s = timeout_s
        self._ready = False
        self._buffer = b""
        self._lock = threading.Lock()

    @classmethod
    def start(cls, **timeouts: float) -> AnalyserProcess:
        """Start loading Kiwi in a child process (returns at once)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "qa_service.analyser_process"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return cls(process, **timeouts)

    @property
    def alive(self) -> bool:
        return self._process is not None

    def analyse(self, text: str) -> list[Morpheme] | None:
        """Kiwi's analysis of `text`, waiting for the child to finish loading if it has
        not; None when the loan has ended (the caller analyses in-process)."""
        with self._lock:
            process = self._process
            if process is None or process.stdin is None or process.stdout is None:
                return None
            try:
                if not self._ready:
                    if self._line(process, self._load_timeout_s) != READY:
                        raise RuntimeError("it did not say it was ready")
                    self._ready = True
                process.stdin.write(json.dumps(text).encode() + b"\n")
                process.stdin.flush()
                answer = json.loads(self._line(process, self._timeout_s))
                return [(str(form), str(tag), int(start), int(end))
                        for form, tag, start, end in answer]
            except (OSError, ValueError, TypeError, RuntimeError) as exc:
                log.warning("the Korean analyser process failed (%s); analysing in-process",
                            exc)
                self._end()
                return None

    def close(self) -> None:
        """End the loan: close the child's input (it exits) and reap it."""
        with self._lock:
            self._end()

    def _end(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _line(self, process: subprocess.Popen[bytes], timeout_s: float) -> bytes:
        """The child's next line, without its newline; RuntimeError past `timeout_s` or at
        the end of its output."""
        assert process.stdout is not None
        fd = process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RuntimeError(f"no answer within {timeout_s:g} s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError("it exited")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line


def serve_analyses() -> None:
    """The child's side (see the module): load Kiwi, say `ready`, answer line by line."""
    from qa_service.tokens import new_kiwi

    kiwi = new_kiwi()
    kiwi.tokenize("모델을 미리 불러옵니다")  # Kiwi finishes loading in its first analysis
    out = sys.stdout.buffer
    out.write(READY + b"\n")
    out.flush()
    for line in sys.stdin.buffer:
        analysed = kiwi.tokenize(json.loads(line))
        out.write(json.dumps([[t.form, t.tag, t.start, t.end] for t in analysed],
                             ensure_ascii=False).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    serve_analyses()
