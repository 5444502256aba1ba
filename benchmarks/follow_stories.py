"""/follow's "one story, one alert": how far apart articles of one event and of different
events are, by the cosine of their article vectors (index/follow/stories.py).

# .venv/bin/python benchmarks/follow_stories.py [FOLDER...]

Default folders: tests/data/follow/stories (three outlets' versions of one event, two of
another, and same-subject other events: ryuo-a1..a3 vs meijin-c, fuji-b1..b2 vs fuji-d, named
<event><n>.md), tests/data/articles, articles/ and tests/data/latest (one subject in two years).
One event: files of the stories folder whose names differ only in a trailing number. Printed:
the lowest same-event cosine, the highest different-event cosine within the window
(WINDOW_DAYS) and overall, and the threshold SAME_STORY between them.
"""

from __future__ import annotations

import itertools
import re
import shutil
import sys
import tempfile
from pathlib import Path

from _common import ROOT, emit, options, parser, real_embedder, setup

sys.path.insert(0, str(ROOT))

from index import Searcher  # noqa: E402
from index.follow.stories import SAME_STORY, WINDOW_DAYS, article_vector, published_of  # noqa: E402

DEFAULT = [
    ROOT / "tests" / "data" / "follow" / "stories",
    ROOT / "tests" / "data" / "articles",
    ROOT / "articles",
    ROOT / "tests" / "data" / "latest",
]


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="*", type=Path, default=DEFAULT)
    args = p.parse_args()
    setup(args)
    work = Path(tempfile.mkdtemp(prefix="newsbot-stories-"))
    event = {}
    for folder in args.folders:
        for path in folder.glob("*.md"):
            shutil.copy(path, work / path.name)
            same = folder.name == "stories"
            event[path.name] = re.sub(r"\d+$", "", path.stem) if same else path.name
    opts = options(articles_dir=work, data_dir=work / "data")
    searcher = Searcher.open(opts, embedder=real_embedder(opts))
    index = searcher.index
    vec = {n: article_vector(index, n) for n in event}
    same, near, far = [], [], []
    for a, b in itertools.combinations(sorted(event), 2):
        cos = float(vec[a] @ vec[b])
        da, db = published_of(index, a), published_of(index, b)
        close = da and db and abs((da - db).days) <= WINDOW_DAYS
        (same if event[a] == event[b] else near if close else far).append((cos, a, b))
    figures = {
        "articles": len(event),
        "same-event pairs": len(same),
        "same-event lowest cosine": round(min(same)[0], 3),
        "other events within the window": len(near),
        "other-event highest cosine, within the window": round(max(near)[0], 3),
        "other-event highest cosine, any date": round(max(near + far)[0], 3),
        "threshold SAME_STORY": SAME_STORY,
        "same-event pairs merged": sum(c >= SAME_STORY for c, *_ in same),
        "other-event pairs merged (window and threshold)": sum(c >= SAME_STORY for c, *_ in near),
    }
    emit("follow: one story, one alert", figures, args.json)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
