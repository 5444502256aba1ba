"""Background texts outside any coverage: the 'not covered' check compares against them."""

from __future__ import annotations

import hashlib
from pathlib import Path

_TEXT = (Path(__file__).with_name("anchors.txt")).read_text(encoding="utf-8")
ANCHORS = [line.strip() for line in _TEXT.splitlines() if line.strip() and not line.startswith("#")]
# Recorded in the manifest so an index built with other anchors is refreshed.
ANCHORS_DIGEST = hashlib.sha256("\n".join(ANCHORS).encode()).hexdigest()[:16]
