"""The retrieval settings the core needs, passed down from the one settings loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import OptionError
from .redact import remember_url

# The default model (encoders/default_model/convert.py converts it); kept here so that
# reading settings imports no model code.
DEFAULT_MODEL = "intfloat/multilingual-e5-small"
# The default model's backends (index/encoders/embedder.py).
ENCODERS = ("onnx", "torch")
# Where index versions live (index/storage/base.py).
BACKENDS = ("local", "postgres")

# Each rule is checked in one place. bot/settings.py checks what a user writes (types, ranges,
# folders, secrets), with the setting's name, before any work. These options check only their
# choices between code paths (encoder, backend), which a library caller can get wrong as well
# and which would otherwise quietly take another path; settings.py adds the setting's name.


def check_choice(setting: str, value: str, allowed: tuple[str, ...]) -> None:
    """Refuse a value that is not one of allowed (an OptionError carrying the setting)."""
    if value not in allowed:
        raise OptionError(setting, f"must be one of {', '.join(allowed)}, not {value!r}")


@dataclass(frozen=True)
class StoreOptions:
    """Where index versions live: a local folder (the default) or a PostgreSQL database."""

    backend: str = "local"  # "local" | "postgres"
    # The connection string: only from $NEWSBOT_DATABASE_URL (a secret, never in the file).
    url: str | None = field(default=None, repr=False)
    schema: str = "newsbot"  # the PostgreSQL schema holding newsbot's tables
    # HNSW breadth per query; at least `candidates`. The folder's HNSW breadth (store.EF_SEARCH):
    # at 50k passages the fused top 10 equalled exact search's for 200 of 200 questions, and
    # ranking took 0.7 x the time of 400 (benchmarks/README.md, 7).
    ef_search: int = 256
    # BM25 postings rows a process keeps per version (MB): the common n-grams' rows recur in
    # nearly every question and grow with the corpus; at 500k passages 256 MB halved ranking
    # time against 64 (benchmarks/README.md, 7). The bound on the bot's memory.
    postings_cache_mb: int = 256

    def __post_init__(self) -> None:
        check_choice("store.backend", self.backend, BACKENDS)
        remember_url(self.url)  # its password is masked in every message from here on


@dataclass(frozen=True)
class IndexOptions:
    """Everything that shapes indexing and search; defaults are the tuned values."""

    articles_dir: Path = Path("articles")
    data_dir: Path = Path("data")
    model: str = DEFAULT_MODEL
    # The default model's backend: "onnx" (serving, no torch) or "torch" (the reference).
    encoder: str = "onnx"
    query_prompt: str | None = None
    passage_prompt: str | None = None
    max_passage_chars: int = 400
    # Dense share of the fused score; lexical gets the rest (tuned on jsquad-dev).
    dense_weight: float = 0.45
    candidates: int = 100
    top_k: int = 5
    # The coverage answers when its best sentence beats the off-topic anchors by min_margin
    # (cosine), or when the top passage holds min_lexical of the question's words (idf-weighted).
    min_margin: float = 0.01
    min_lexical: float = 0.55
    # A question naming something no evidence passage holds is refused unless its best sentence
    # beats the anchors by name_margin (a name: ガザ, 韓国) or word_margin (a word: 支持率,
    # 弾劾); an English question over Japanese coverage needs crosslingual_margin, not
    # min_margin. See index/answer/judge.py.
    name_margin: float = 0.10
    word_margin: float = 0.04
    crosslingual_margin: float = 0.02
    # ... and these margins are lowered by present_bonus when every subject word is in the evidence.
    present_bonus: float = 0.01
    evidence_passages: int = 3
    answer_sentences: int = 3
    batch_size: int = 32
    threads: int = 0
    flat_max: int = 200_000
    max_article_bytes: int = 5_000_000
    max_question_chars: int = 2000
    # Where the converted default model is kept (default: data_dir/models).
    model_cache_dir: Path | None = None
    store: StoreOptions = field(default_factory=StoreOptions)

    def __post_init__(self) -> None:
        check_choice("index.encoder", self.encoder, ENCODERS)

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def model_cache(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"


@dataclass(frozen=True)
class FetchLimits:
    """How far a fetch may go; `allow_private` is for tests and intranet feeds only."""

    timeout_seconds: float = 10.0  # for the whole fetch, redirects included
    max_bytes: int = 5_000_000  # after decompression
    max_redirects: int = 3
    allow_private: bool = False
    user_agent: str = "newsbot/0.1 (news question bot)"
