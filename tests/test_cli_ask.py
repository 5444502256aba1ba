"""`newsbot ask`: Discord's rules for the text output, every field in --json, and streaming."""

from __future__ import annotations

import io
import json
import re
import unicodedata

import pytest

from bot.cli import ask, main
from index import Searcher
from index.errors import StoreUnavailableError
from index.ingest.outlets import outlet_of

from .conftest import MODEL_CACHE, SCORE_TOL, cli_for

FLAGSHIP = "ロシアの停戦条件は?"
QUESTIONS = [FLAGSHIP, "What did Putin concede?", "停戦交渉はどこまで進んだ?"]
QUESTIONS += ["米ロ首脳会談はいつ?", "30日間の停戦は何を対象にする?"]


@pytest.fixture
def config(shipped, tmp_path):
    """A settings file for the shipped articles' index; the session's model, not a second one."""
    path = tmp_path / "settings.toml"
    opts = shipped.options
    path.write_text(
        f'[index]\narticles_dir = "{opts.articles_dir}"\ndata_dir = "{opts.data_dir}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n',
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture
def cli(shipped):
    """`newsbot` with the session's model, not a second one."""
    return cli_for(shipped.embedder)


def columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def rows(text: str, width: int = 100) -> int:
    """Terminal rows the text takes at width columns (wide characters take two)."""
    return sum(max(1, -(-columns(line) // width)) for line in text.rstrip("\n").split("\n"))


def test_flagship_shows_the_answer_then_only_its_cited_sources(shipped, config, cli, capsys):
    assert cli(["--config", config, "ask", FLAGSHIP]) == 0
    out = capsys.readouterr().out
    assert rows(out) <= 12, out
    answer = shipped.ask(FLAGSHIP)
    cited = re.findall(r"\[(\d+)\]", out.split("\n\n")[1])
    numbers = list(dict.fromkeys(int(n) for n in cited))
    assert numbers == list(range(1, len(numbers) + 1))  # in citation order
    sources = re.findall(r"^\[(\d+)\] (.+)\n {4}(\S+)$", out, re.M)
    assert [int(n) for n, _, _ in sources] == numbers  # only the cited, each once
    urls = [url for _, _, url in sources]
    assert len(set(urls)) == len(urls)  # one per link (and article)
    named = answer.hits[0].outlet
    for _, meta, url in sources:
        outlet = meta.split(" · ")[0]
        assert outlet == outlet_of(url, named) and "、" not in outlet, meta  # its link's outlet
        assert meta.endswith(answer.hits[0].published)
    assert out.count(answer.hits[0].title) == 1  # the article's title once
    assert "score" not in out and answer.hits[0].text not in out  # no passages


def test_passages_only_with_the_flag(shipped, config, cli, capsys):
    assert cli(["--config", config, "ask", "--passages", FLAGSHIP]) == 0
    out = capsys.readouterr().out
    answer = shipped.ask(FLAGSHIP)
    assert all(h.text in out for h in answer.hits)
    assert out.count("--- [") == len(answer.hits)


def test_json_keeps_every_field(shipped, config, cli, capsys):
    assert cli(["--config", config, "ask", "--json", FLAGSHIP]) == 0
    got = json.loads(capsys.readouterr().out)
    want = shipped.ask(FLAGSHIP).to_dict()
    fields = {"question", "answer", "subject", "no_answer", "lang", "passages"}
    assert fields <= set(got) and set(got) == set(want)
    fields = {"article", "title", "section", "text", "sources", "published", "outlet", "score"}
    assert all(set(p) == fields for p in got["passages"])
    scores = [p.pop("score") for p in got["passages"]]
    assert scores == pytest.approx([p.pop("score") for p in want["passages"]], abs=1e-4 + SCORE_TOL)
    assert got == want


class FailsAfter:
    """The real Searcher, whose store is lost on the `fail_at`-th batch (as a dropped database
    raises); it records what had been printed when each batch was asked."""

    def __init__(self, real: Searcher, fail_at: int, capsys):
        self.real, self.fail_at, self.capsys = real, fail_at, capsys
        self.printed: list[int] = []
        self.out = ""

    def batch_ask(self, questions, k=None, **kwargs):
        self.out += self.capsys.readouterr().out
        self.printed.append(len([x for x in self.out.split("\n") if x.startswith(("Q: ", "{"))]))
        if len(self.printed) == self.fail_at:
            raise StoreUnavailableError("lost the index database: server closed the connection")
        return self.real.batch_ask(questions, k, **kwargs)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_failure_midway_keeps_the_answers_printed_so_far(
    shipped, config, cli, capsys, monkeypatch, as_json
):
    monkeypatch.setattr(ask, "ASK_BATCH", 2)
    failing = FailsAfter(shipped, fail_at=3, capsys=capsys)
    args = ["--config", config, "ask", *(["--json"] if as_json else []), *QUESTIONS]
    assert main(args, open_searcher=lambda options, **kwargs: failing) == 2
    out, err = capsys.readouterr()
    out = failing.out + out
    assert failing.printed == [0, 2, 4]  # each batch's answers were out before the next began
    if as_json:
        printed = [json.loads(line)["question"] for line in out.splitlines()]
    else:
        printed = [x[3:] for x in out.splitlines() if x.startswith("Q: ")]
    assert printed == QUESTIONS[:4]
    assert err == (
        "newsbot: error: lost the index database: server closed the connection "
        f"(answered 4 of {len(QUESTIONS)})\n"
    )


def test_questions_from_stdin(shipped, config, cli, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{QUESTIONS[0]}\n\n{QUESTIONS[1]}\n"))
    assert cli(["--config", config, "ask", "--json", "-"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["question"] for line in out] == QUESTIONS[:2]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert cli(["--config", config, "ask", "-"]) == 2
    assert capsys.readouterr().err == "newsbot: error: no questions: stdin was empty\n"


def test_first_build_is_one_plain_line_and_its_bar(embedder, tmp_path, monkeypatch, capsys):
    """No index yet: `ask` says it builds one (not a WARNING), shows the bar, then answers."""
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "deer.md").write_text(
        "---\ntitle: 奈良公園の鹿\n---\n\n鹿せんべいは米ぬかと小麦粉で作られている。\n",
        encoding="utf-8",
    )
    path = tmp_path / "settings.toml"
    path.write_text(
        f'[index]\narticles_dir = "{articles}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'model_cache_dir = "{MODEL_CACHE}"\n',
        encoding="utf-8",
    )
    cli = cli_for(embedder)
    assert cli(["--config", str(path), "ask", "鹿せんべいの材料は?"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(f"building the index of {articles}\n\rEmbedding")
    assert "WARNING" not in err and err.count("\n") <= 2  # the line, the bar (and its end)
    assert out.startswith("Q: 鹿せんべいの材料は?") and "米ぬかと小麦粉" in out


FIRST_RUN = """
import sys
from bot.cli import main
sys.exit(main(["--config", sys.argv[1], "ask", sys.argv[2]]))
"""


@pytest.mark.slow
def test_first_run_prints_only_the_projects_own_lines(tmp_path):
    """A fresh model cache and data folder: converting, exporting and building say one line
    each step (the library warnings are in the log at DEBUG), then the answer."""
    import subprocess
    import sys

    from .conftest import ROOT

    path = tmp_path / "settings.toml"
    path.write_text(
        f'[index]\narticles_dir = "{ROOT / "articles"}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'model_cache_dir = "{tmp_path / "models"}"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", FIRST_RUN, str(path), FLAGSHIP],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [x for x in re.split(r"[\r\n]+", done.stderr) if x and not x.startswith("Embedding")]
    assert lines == [
        "preparing the model, once: about a minute",
        f"building the index of {ROOT / 'articles'}",
    ], done.stderr[-3000:]
    assert done.stdout.startswith(f"Q: {FLAGSHIP}\n")


class DropsTheDatabase:
    """A real PostgreSQL-backed Searcher whose server cuts every connection before the
    `drop_at`-th batch (as a restart does): the real StoreUnavailableError follows."""

    def __init__(self, real: Searcher, url: str, drop_at: int):
        self.real, self.url, self.drop_at, self.batches = real, url, drop_at, 0

    def batch_ask(self, questions, k=None, **kwargs):
        from .test_pg import drop_connections

        self.batches += 1
        if self.batches == self.drop_at:
            assert drop_connections(self.url) >= 1
        return self.real.batch_ask(questions, k, **kwargs)


def test_a_dropped_database_midway_keeps_the_answers_printed(
    embedder, pg_url, tmp_path, config, cli, capsys, monkeypatch
):
    from index.options import StoreOptions

    from .conftest import make_options
    from .test_faults import QUESTIONS as TINY_QUESTIONS
    from .test_pg import tiny_articles

    options = make_options(
        tmp_path, tiny_articles(tmp_path / "tiny"), store=StoreOptions("postgres", pg_url)
    )
    dropping = DropsTheDatabase(Searcher.open(options, embedder=embedder), pg_url, drop_at=2)
    monkeypatch.setattr(ask, "ASK_BATCH", 2)
    questions = TINY_QUESTIONS * 2
    argv = ["--config", config, "ask", "--json", *questions]
    assert main(argv, open_searcher=lambda options, **kwargs: dropping) == 2
    out, err = capsys.readouterr()
    assert [json.loads(line)["question"] for line in out.splitlines()] == questions[:2]
    assert err.startswith("newsbot: error: lost the index database")
    assert err.endswith(f"(answered 2 of {len(questions)})\n") and err.count("\n") == 1


class BugOn:
    """The shipped Searcher, but asking one question hits a bug (an error no rule expects)."""

    def __init__(self, real, question: str):
        self.real, self.question = real, question

    def __getattr__(self, name):
        return getattr(self.real, name)

    def batch_ask(self, questions, k=None, **kwargs):
        if self.question in questions:
            raise RuntimeError("a bug on one question")
        return self.real.batch_ask(questions, k, **kwargs)

    def ask(self, question, k=None, **kwargs):
        return self.batch_ask([question], k, contexts=[kwargs.pop("context", None)], **kwargs)[0]


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_a_bug_on_one_question_gives_its_error_line_and_the_next_is_answered(
    shipped, config, capsys, monkeypatch, command
):
    buggy = BugOn(shipped, QUESTIONS[1])
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{q}\n" for q in QUESTIONS[:3])))
    args = ["--config", config, command, "--json", *(["-"] if command == "ask" else [])]
    assert main(args, open_searcher=lambda options, **kwargs: buggy) == 0
    out, err = capsys.readouterr()
    printed = [json.loads(line)["question"] for line in out.splitlines()]
    assert printed == [QUESTIONS[0], QUESTIONS[2]]
    assert err == (
        "newsbot: error on this question: RuntimeError: a bug on one question "
        "(run with -v for the traceback)\n"
    )


TBS_LINK = "https://newsdig.tbs.co.jp/articles/-/1729431"


@pytest.mark.parametrize("typed", ["TBS", "tbs news dig", "ＴＢＳ", "newsdig.tbs.co.jp"])
def test_an_outlet_as_typed_keeps_only_its_sections_and_links(shipped, config, capsys, typed):
    """The seed is one article from three outlets: TBS's filter cites TBS's link alone."""
    assert main(["--config", config, "ask", "--json", "--outlet", typed, FLAGSHIP]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert not answer["no_answer"] and answer["passages"]
    assert {u for h in answer["passages"] for u in h["sources"]} == {TBS_LINK}
    assert "プーチンの譲歩とトランプ政権の対応" not in {h["section"] for h in answer["passages"]}


def test_an_unknown_outlet_is_refused_with_the_outlets_there_are(shipped, config, capsys):
    assert main(["--config", config, "ask", "--outlet", "朝日", FLAGSHIP]) == 2
    err = capsys.readouterr().err
    assert "「朝日」" in err and "毎日新聞" in err and "TBS NEWS DIG" in err
