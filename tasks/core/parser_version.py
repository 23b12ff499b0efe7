"""
The version of pglast (PostgreSQL's parser) installed, read from its package without loading it
(``importlib.metadata`` takes ~30 ms, importing pglast ~40 ms): what a split or a view rewriting
kept between runs was made with (:mod:`tasks.migrations.parsed`, :mod:`tasks.schema.versions`).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path


@functools.cache
def parser_version() -> str:
    spec = importlib.util.find_spec("pglast")
    try:
        text = Path(spec.origin).read_text() if spec and spec.origin else ""
    except OSError:
        text = ""
    found = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.MULTILINE)
    return found.group(1) if found else "unknown"
