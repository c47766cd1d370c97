"""Settings, read from `QA_*` environment variables (and nothing at import time).

Top-level fields map to `QA_<FIELD>` (for example `QA_DATA_DIR`); nested sections use a
double underscore: `QA_INGEST__WORKERS=2`, `QA_RETRIEVAL__RRF_K=60`.

`data_dir` never depends on the folder a command runs from unless the user says so: it is
`QA_DATA_DIR` when set (a relative value is taken from the current folder and made
absolute), else the source checkout's `indexes/` when the package runs from one, else the
per-user data directory (`platformdirs.user_data_dir("qa-service")`); see
`qa_service.data_dir`. It is found when settings are built, never at import.

Build a `Settings()` only in a composition root (the API app factory, the CLI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa_service.data_dir import absolute, default_data_dir

DEFAULT_EMBEDDING_MODEL = "use-multilingual-v3"
MIN_PROMPT_TOKENS = 1024  # instructions, the question and a few sentences of passages

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "AnswerSettings",
    "ChunkingSettings",
    "ConversationSettings",
    "IngestSettings",
    "LimitSettings",
    "RetrievalSettings",
    "Settings",
    "VectorSettings",
]


class ChunkingSettings(BaseModel):
    """How page text is cut into passages. Changing these applies to new documents only."""

    target_chars: int = Field(
        default=2200,
        ge=100,
        le=8000,
        description="Preferred chunk length in characters; whole sentences are packed up to it.",
    )
    overlap_sentences: int = Field(
        default=1,
        ge=0,
        le=5,
        description="Sentences repeated from the end of one chunk at the start of the next.",
    )
    min_chars: int = Field(
        default=150,
        ge=0,
        description="A page-final remainder shorter than this joins the page's previous chunk.",
    )


class IngestSettings(BaseModel):
    """Limits and resources for turning uploaded PDFs into index entries."""

    workers: int = Field(
        default=2, ge=1, le=64,
        description="PDF parser worker processes; a job parses this many files ahead while "
                    "it embeds and publishes in order (on 2 cores, 2 workers ingested "
                    "`make bench`'s PDFs 1.23x as fast as 1).")
    worker_memory_mb: int = Field(
        default=2048, ge=128, description="Address-space limit of each parser worker (MiB)."
    )
    parse_timeout_base_s: float = Field(
        default=30.0, gt=0, description="Parsing budget per document: this many seconds ..."
    )
    parse_timeout_per_page_s: float = Field(
        default=2.0, ge=0, description="... plus this many seconds per page ..."
    )
    parse_timeout_max_s: float = Field(
        default=600.0, gt=0, description="... and never more than this per document."
    )
    max_file_mb: float = Field(
        default=100.0, gt=0,
        description="Larger uploads are refused (413); larger local files end `too_large`.",
    )
    max_pages: int = Field(
        default=2000, ge=1, description="Documents with more pages end with status `too_large`."
    )
    max_text_chars: int = Field(
        default=20_000_000, ge=1000,
        description="Documents with more extracted text end with status `too_large` "
        "(parsing stops as soon as it passes this).",
    )
    embed_batch_size: int = Field(
        default=64, ge=1, description="Chunks embedded per model call during ingestion."
    )
    ocr: Literal["auto", "off"] = Field(
        default="auto",
        description="`auto`: pages whose text layer is empty or unusable are read by OCR "
        "(Tesseract), where it is installed; `off`: never.",
    )
    ocr_languages: str = Field(
        default="kor+eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract languages for OCR, joined by '+' (each needs its "
        "tesseract-ocr-<lang> package).",
    )
    ocr_dpi: float = Field(
        default=200.0, ge=72, le=600, description="Resolution pages are drawn at for OCR."
    )
    ocr_threads: int = Field(
        default=2, ge=1, le=16, description="Tesseract processes each parser worker runs at "
        "once: the pages of one scanned document are read in parallel.",
    )
    ocr_page_timeout_s: float = Field(
        default=60.0, gt=0, description="OCR of one page stops after this many seconds (the "
        "page is reported, the rest of the document goes on).",
    )
    ocr_max_megapixels: float = Field(
        default=40.0, gt=0, description="A page larger than this at `ocr_dpi` is drawn at a "
        "lower resolution (never under 50 dpi).",
    )
    ocr_max_image_mb: float = Field(
        default=300.0, gt=0, description="A page whose images decode to more (megabytes, read "
        "from their headers) is not OCR'd (a scan bomb); it is reported.",
    )
    page_positions: bool = Field(
        default=True,
        description="Record where each character of a page's text is drawn (pdfium), so "
        "that GET .../pages/{n}/boxes can highlight a citation; adds about 15% to parsing.",
    )
    page_image_timeout_s: float = Field(
        default=20.0, gt=0, le=600,
        description="Drawing one page for GET .../pages/{n}/image (in a parser worker, within "
        "`worker_memory_mb`, `ocr_max_megapixels` and `ocr_max_image_mb`) stops after this "
        "many seconds, and the request is refused (413).",
    )

    ray: bool = Field(
        default=False,
        description="Jobs prepare their files (parse, OCR, chunk, embed) on a Ray cluster and "
        "publish them here, in order (`qa ingest --ray` for one command); needs the `ray` "
        "extra.")
    ray_address: str = Field(
        default="",
        description="The Ray cluster: empty starts a local one of `ray_workers` CPUs; `auto`, "
        "`host:6379` or `ray://host:10001` joins a running one, whose nodes have this "
        "package installed.")
    ray_workers: int = Field(
        default=2, ge=1, le=4096,
        description="Ray actors preparing files at once, one CPU each (each loads the "
        "embedding model and runs one parser worker process).")

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1_000_000)


class VectorSettings(BaseModel):
    """When a knowledge base's vector search goes approximate, and how.

    Below `approximate_from` chunks every question reads every sentence vector (exact).
    From there on the store also keeps a FAISS IVF-SQ8 index over the sentence vectors,
    built and swapped in the background after ingestion: a question reads `nprobe` of its
    lists (fewer where those would hold more than `probe_vectors` vectors), takes the
    chunks of its `candidates` best sentences (and the exact best of what was written since
    the index was built) and scores them exactly. Measured by `make bench`; see the
    README's "Large knowledge bases".
    """

    approximate_from: int = Field(
        default=20_000, ge=0,
        description="Chunks from which a knowledge base gets its approximate index; 0 builds "
        "it for every knowledge base (`make eval-approximate` checks quality that way).")
    rebuild_fraction: float = Field(
        default=0.1, gt=0, le=1,
        description="Rebuild the index when this share of the chunks was written or removed "
        "since it was built (those are searched exactly meanwhile).")
    candidates: int = Field(
        default=300, ge=10, le=10_000,
        description="Best sentences taken from the index per question (at least 12 x k); "
        "their chunks are scored exactly by their best sentence vector.")
    nprobe: int = Field(default=192, ge=1, le=8192,
                        description="Inverted lists read per question, at most: recall "
                        "against latency.")
    probe_vectors: int = Field(
        default=100_000, ge=0,
        description="Fewer lists are read where `nprobe` of them would hold more than about "
        "this many sentence vectors (a 1M-chunk knowledge base's lists are long); 0: always "
        "`nprobe`.")
    max_lists: int = Field(default=8192, ge=16, le=65_536,
                           description="At most this many inverted lists (new builds: about "
                           "4 sqrt(vectors)).")


class RetrievalSettings(BaseModel):
    """Hybrid retrieval: lexical (BM25) and dense candidates, fused.

    `zscore` (the default, chosen by measurement on the SQuAD and KorQuAD dev sets):
    each candidate list's scores are standardized over that list, a candidate missing from
    a list gets the list's lowest z-score, and the fused score is the weighted sum.
    `rrf`: weighted reciprocal rank fusion, sum of weight / (rrf_k + rank).
    """

    fusion: Literal["zscore", "rrf"] = Field(default="zscore", description="Fusion method.")
    candidates: int = Field(
        default=50, ge=1, le=1000, description="Candidates taken from each side before fusion."
    )
    lexical_postings: int = Field(
        default=100_000, ge=0,
        description="BM25 reads at most about this many postings per search: the query's "
        "terms are matched rarest first, and a term whose postings would pass the budget is "
        "left out (the rarest is always kept). FTS5 scores every row that holds any matched "
        "term, so on a large knowledge base a question full of common words would otherwise "
        "cost in proportion to the whole knowledge base (about 2 microseconds a posting "
        "here). Common words matter to some questions (a company's name is in every chunk "
        "of its filings): see the README's \"Large knowledge bases\" for what each budget "
        "costs. 0: no budget.",
    )
    lexical_weight: float = Field(default=0.7, ge=0, description="Weight of the BM25 side.")
    dense_weight: float = Field(default=0.3, ge=0, description="Weight of the dense side.")
    rrf_k: float = Field(default=60.0, gt=0, description="Rank offset for `rrf` fusion.")
    cross_lingual_weight: float = Field(
        default=0.5, ge=0,
        description="A passage in another language than the question (Korean or English) "
        "that BM25 did not find scores by its dense z-score alone, at this weight, instead "
        "of taking BM25's lowest score: their words cannot match. 0 turns this off.",
    )
    translate: bool = Field(
        default=True,
        description="Also search a question's words in the knowledge base's other language "
        "(Korean for an English question, English for a Korean one): each word's nearest "
        "indexed terms of that language by the embedding model's vectors "
        "(`qa_service.bridge`). The terms' vectors are computed once and kept with the "
        "knowledge base (term-vectors.bin).",
    )
    translation_score: float = Field(
        default=0.2, description="A term is a word's translation when their CSLS score "
        "(twice the cosine, less each one's mean cosine to its 10 nearest terms of the "
        "other language) is at least this.",
    )
    translations_per_word: int = Field(
        default=2, ge=0, le=10, description="Translations of a question's word, at most, "
        "by the vectors (the glossary's come on top).")
    glossary: bool = Field(
        default=True,
        description="With `translate`, also translate the labels that invoices, financial "
        "statements and forms print by a bilingual glossary (`qa_service.glossary`: total "
        "-> 합계, due -> 기한, 부가세 -> vat), ahead of the vectors' nearest terms.",
    )
    document_weight: float = Field(
        default=0.0, ge=0,
        description="Weight of the document prior: a chunk also scores by how much of the "
        "fused evidence its document gathers (its best few chunks), so one stray passage "
        "of another document ranks below a document that matches throughout.",
    )
    name_weight: float = Field(
        default=0.5, ge=0,
        description="Weight of a document's identity match: a question that names a "
        "document (company, year, filing, title words in its file name, title or first-page "
        "headings) ranks that document's passages higher. 0 turns this off.",
    )
    name_share: float = Field(
        default=0.5, ge=0, le=1,
        description="A document counts as named when its identity match is at least this "
        "share of the best match.",
    )
    statement_weight: float = Field(
        default=2.0, ge=0,
        description="A question that asks for a financial statement by name (\"from the "
        "income statement\", \"balance sheet\", \"free cash flow\", \"현금흐름표\") or by "
        "a line item only it reports (\"total current liabilities\", \"cost of goods "
        "sold\") ranks that statement's passages this much higher (in z-score units), in "
        "the documents it names when it names any. 0 turns this off.",
    )
    named_documents: int = Field(
        default=3, ge=0, le=50,
        description="Candidates are also taken from this many of the best-named documents.",
    )
    max_k: int = Field(default=100, ge=1, description="Largest `k` a search may ask for.")


class AnswerSettings(BaseModel):
    """How `ask` answers: passages retrieved, answer size, abstention and support checks."""

    k: int = Field(default=5, ge=1, le=50, description="Passages retrieved for an answer.")
    max_sentences: int = Field(
        default=2, ge=1, le=10, description="Extractive answers quote at most this many sentences."
    )
    max_chars: int = Field(
        default=400, ge=50, le=4000, description="... and at most this many characters."
    )
    abstain_below: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description=(
            "Extractive answers abstain when the answerability (the probability that the "
            "passages answer) is below this (0 never abstains, 1 always does); see README "
            "'Answering' for the trade-off."
        ),
    )
    support_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description=(
            "LLM answers: a cited sentence is kept when this share of its content words "
            "(IDF-weighted) appears in the passage it cites."
        ),
    )


class ConversationSettings(BaseModel):
    """Follow-up questions: an ask with earlier turns (`messages` on /ask) is first
    rewritten into one standalone question, which retrieval and the answer use."""

    condenser: Literal["auto", "rules", "llm"] = Field(
        default="auto",
        description="Who rewrites a follow-up: `rules` (no LLM: the previous question's "
        "subject, names and year carried into a follow-up that lacks them), `llm` (the "
        "configured LLM, falling back to the rules when it fails; needs QA_LLM_BASE_URL), "
        "or `auto`: `llm` when QA_LLM_BASE_URL is set, else `rules`.",
    )
    max_turns: int = Field(
        default=12, ge=1, le=100,
        description="Only the last this many earlier messages (user and assistant) are read.",
    )
    llm_timeout: float = Field(
        default=20.0, gt=0,
        description="Seconds the LLM may take to rewrite a question before the rules' "
        "rewrite is used instead.",
    )


class LimitSettings(BaseModel):
    """Request limits of the HTTP API (the CLI, which works on the data directory, has none).

    Rate limits are per key and per server process: a token bucket that holds a minute's
    worth of requests and refills continuously; over it, 429 with `Retry-After`."""

    asks_per_minute: int = Field(
        default=60, ge=0, description="Asks per key per minute; 0 = unlimited."
    )
    uploads_per_minute: int = Field(
        default=20, ge=0, description="Upload requests per key per minute; 0 = unlimited."
    )
    max_request_mb: float = Field(
        default=500.0, gt=0,
        description="Largest upload request body (all files together), counted as it streams.",
    )
    max_files: int = Field(default=100, ge=1, description="Most files in one upload request.")
    max_body_kb: float = Field(
        default=256.0, gt=0, description="Largest body of any other request (JSON)."
    )


class Settings(BaseSettings):
    """Everything the service and the CLI can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="QA_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return absolute(value)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description=(
            "Where knowledge bases live on disk, always absolute (a relative QA_DATA_DIR is "
            "taken from the current folder). Unset: the source checkout's `indexes/` when "
            "the package runs from one, else the per-user data directory "
            "(`platformdirs.user_data_dir('qa-service')`: on Linux "
            "`$XDG_DATA_HOME/qa-service`, by default `~/.local/share/qa-service`); never "
            "the current folder's `indexes/`."
        ),
    )
    embedding_model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description=(
            "Embedding model for new knowledge bases: a packaged name "
            "(`use-multilingual-v3`, `all-minilm-l6-v2`), or any sentence-transformers "
            "model name or local path."
        ),
    )
    embedding_threads: int = Field(
        default=0, ge=0, description="Threads for the embedding model; 0 = half the cores."
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the HTTP server binds.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="`qa serve`'s log level: INFO logs job starts and finishes, resumed jobs "
        "and each request.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`qa serve`'s log lines: `text` (time, level, logger, message) or `json` "
        "(one object per line, for log collectors).",
    )
    auth: Literal["on", "off"] = Field(
        default="on",
        description=(
            "API keys on every route but /health. `off` is accepted only when `host` is a "
            "loopback address (127.0.0.1, ::1, localhost); the server refuses to start otherwise."
        ),
    )
    admin_key: SecretStr | None = Field(
        default=None,
        min_length=16,
        description=(
            "The admin key (at least 16 characters). When unset, the first start generates "
            "one, stores only its hash and prints it once; `qa keys rotate-admin` makes a new one."
        ),
    )
    limits: LimitSettings = Field(default_factory=LimitSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    vectors: VectorSettings = Field(default_factory=VectorSettings)
    index: Literal["faiss", "milvus"] = Field(
        default="faiss",
        description="Where knowledge bases keep their vectors and BM25: `faiss` (FAISS "
        "segments and SQLite FTS5 in each knowledge base's folder; nothing else to run) or "
        "`milvus` (collections in Milvus: QA_MILVUS_URI). A data directory holds knowledge "
        "bases of one engine; one of the other is refused.")
    milvus_uri: str = Field(
        default="",
        description="With QA_INDEX=milvus: a path ending in `.db` runs Milvus Lite embedded "
        "(one process per file: a `qa serve` and a `qa ingest` cannot share it), "
        "`http://host:19530` a Milvus server or cluster. Empty: `milvus.db` in the data "
        "directory.")
    milvus_token: SecretStr | None = Field(
        default=None, description="A Milvus server's token (`user:password`, or an API key).")
    milvus_user: str = Field(default="", description="A Milvus server's user.")
    milvus_password: SecretStr | None = Field(default=None,
                                              description="That user's password.")
    milvus_db: str = Field(default="", description="The Milvus database (empty: `default`).")
    milvus_index_type: str = Field(
        default="",
        description="The Milvus index of the dense vectors, for knowledge bases created from "
        "now on. Empty: FLAT (exact) on Milvus Lite, IVF_SQ8 on a server. IVF_FLAT, IVF_SQ8, "
        "FLAT, DISKANN, ... as Milvus names them. HNSW (and AUTOINDEX where it builds HNSW, as "
        "Milvus Lite's does) can miss chunks whose best vector is identical to another "
        "chunk's (README).")
    milvus_search_params: dict[str, int | float | str] = Field(
        default_factory=dict,
        description='What a dense search passes the index, as JSON (e.g. {"nprobe": 64}). '
        'Empty: {"nprobe": 32} for IVF indexes, {"ef": 1024} for HNSW, none otherwise.')
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    conversation: ConversationSettings = Field(default_factory=ConversationSettings)
    llm_base_url: str | None = Field(
        default=None,
        description=(
            "Base URL of an OpenAI-compatible chat completions API (OpenAI, Azure OpenAI, "
            "vLLM, llama.cpp server, Ollama: e.g. http://127.0.0.1:11434/v1). When set, "
            "`ask` uses the LLM by default; when unset, answers are extractive."
        ),
    )
    llm_model: str = Field(default="", description="Model name sent to the LLM API.")
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for the LLM API (local servers usually need none)."
    )
    llm_timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for the LLM before giving up."
    )
    llm_fallback: bool = Field(
        default=True,
        description=(
            "When the LLM is unreachable, times out or fails, answer extractively "
            "(mode `extractive-fallback`) instead of returning 502/504."
        ),
    )
    llm_max_tokens: int = Field(default=800, ge=16, description="Longest LLM answer, in tokens.")
    llm_context_tokens: int = Field(
        default=4096, ge=1024,
        description=(
            "The LLM's context window, in tokens: the prompt plus `llm_max_tokens` never "
            "exceed it (passages are cut to the sentences that matter for the question). Set "
            "it to the context the server gives the model (Ollama: `num_ctx`, llama.cpp: "
            "`--ctx-size`)."
        ),
    )
    llm_passage_tokens: int = Field(
        default=1200, ge=64,
        description=(
            "At most this many tokens of passage text in a prompt, best sentences first, "
            "even when the context holds more: small local models answer better, and sooner, "
            "from less text."
        ),
    )
    llm_temperature: float = Field(default=0.0, ge=0, le=2, description="LLM sampling temperature.")

    @model_validator(mode="after")
    def _reply_fits(self) -> Settings:
        if self.llm_context_tokens < self.llm_max_tokens + MIN_PROMPT_TOKENS:
            raise ValueError(
                f"QA_LLM_CONTEXT_TOKENS ({self.llm_context_tokens}) leaves no room for a "
                f"prompt after QA_LLM_MAX_TOKENS ({self.llm_max_tokens}): it must be at least "
                f"QA_LLM_MAX_TOKENS + {MIN_PROMPT_TOKENS}"
            )
        return self
