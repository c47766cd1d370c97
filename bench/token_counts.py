"""Capture a real model's token counts for the texts of `tests/answer/fixtures/token_counts.json`.

The test of the prompt budget (`tests/answer/test_context.py`) checks `estimate_tokens`
against the counts a real tokenizer gave for those texts. Recapture them (for example with
another model) from a running llama.cpp server (`../shared/tools/local-llm start`):

    python -m bench.token_counts --base-url http://127.0.0.1:28080 \
        tests/answer/fixtures/token_counts.json

Each entry's `text` is sent to the server's `/extras/tokenize/count` endpoint (llama-cpp-
python's server; llama.cpp's own server answers `/tokenize`), and its `tokens` and the
file's `model` are rewritten. Entries of kind `prompt` hold the chat prompt the answerer
builds (`system`, a blank line, `user`) for the entries named in `passages`.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from pathlib import Path
from typing import Any

from qa_service.answer.prompt import build_prompt
from qa_service.schemas import Passage


def _count(base_url: str, text: str) -> int:
    for path, key in (("/extras/tokenize/count", "count"), ("/tokenize", "tokens")):
        request = urllib.request.Request(  # noqa: S310 (the URL the user gave)
            base_url.rstrip("/") + path, data=json.dumps({"input": text, "content": text}
                                                         ).encode(),
            headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                body = json.load(response)
        except OSError:
            continue
        value = body[key]
        return value if isinstance(value, int) else len(value)
    raise SystemExit(f"no tokenize endpoint answered at {base_url}")


def prompt_text(question: str, texts: list[str]) -> str:
    passages = [Passage(chunk_id=i, document_id=f"doc{i}", filename=f"document-{i}.pdf",
                        page=i + 1, char_start=0, char_end=len(t), text=t, score=1.0)
                for i, t in enumerate(texts)]
    prompt = build_prompt(question, passages)
    return prompt.system + "\n\n" + prompt.user


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the server, without /v1")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct (Q4_K_M GGUF)")
    parser.add_argument("fixture", type=Path)
    args = parser.parse_args()
    data: dict[str, Any] = json.loads(args.fixture.read_text("utf-8"))
    texts = {entry["name"]: entry["text"] for entry in data["entries"]
             if entry["kind"] == "text"}
    for entry in data["entries"]:
        if entry["kind"] == "prompt":
            entry["text"] = prompt_text(entry["question"], [texts[n] for n in entry["passages"]])
        entry["tokens"] = _count(args.base_url, entry["text"])
    data["model"] = args.model
    args.fixture.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", "utf-8")
    for entry in data["entries"]:
        print(f"{entry['name']}: {len(entry['text'])} characters, {entry['tokens']} tokens")


if __name__ == "__main__":
    main()
