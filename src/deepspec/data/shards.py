"""Regenerated conversations at scale: a directory of gzip'd JSONL shards and a manifest, so hours of
`deepspec regenerate` can be committed as they grow and continued on another machine.

    DIR/manifest.json          what the set holds: conversations, answer tokens, the sampling
                               settings, the target's fingerprint and every closed shard's checksum
    DIR/shard-00000.jsonl.gz   closed shards of `shard_size` conversations, never rewritten
    DIR/open.jsonl             the shard being written, one line per finished conversation; sealed
                               into a shard when the run ends or is interrupted (after a hard kill,
                               the next run drops a cut last line and carries the rest on)

A run that finds the directory continues it: ids already present anywhere are skipped. A run with
other sampling settings or another target refuses, since mixing them would silently change what
the drafter learns. Readers (`iter_rows`, and through it `deepspec cache` and `deepspec train`)
take such a directory, a `.jsonl.gz` file or a plain `.jsonl` file alike.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Iterator

from dspark.errors import DSparkError
from dspark.files import atomic_path, write_text_atomic

FORMAT = "deepspec-regen-shards/1"
MANIFEST = "manifest.json"
OPEN = "open.jsonl"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, is_last_unterminated) of a .jsonl or .jsonl.gz file."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, EOFError) as e:
        raise DSparkError(f"{path} is not a readable gzip file: {e}") from None
    except UnicodeDecodeError as e:
        raise DSparkError(f"{path} is not UTF-8 text: {e}") from None
    lines = text.split("\n")
    for n, line in enumerate(lines, 1):
        if line.strip():
            yield n, line, n == len(lines) and not text.endswith("\n")


def shard_files(directory: Path) -> list[Path]:
    """The files of a shard directory in reading order: the closed shards the manifest lists, then
    the open one."""
    try:
        listed = json.loads((directory / MANIFEST).read_text())["shards"]
    except FileNotFoundError:
        listed = []
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise DSparkError(f"{directory / MANIFEST} is unreadable: {e}") from None
    files = [directory / s["file"] for s in listed]
    if (directory / OPEN).exists():
        files.append(directory / OPEN)
    return files


def iter_rows(path) -> Iterator[tuple[str, dict]]:
    """("file line N", object) for every conversation in a .jsonl / .jsonl.gz file or a shard
    directory. A malformed line is an error, except an unfinished last line (a writer still
    appending, or one that was killed), which is skipped with a warning."""
    path = Path(path)
    if path.is_dir():
        files = shard_files(path)
        if not files:
            raise DSparkError(f"{path} holds no conversation shards (shard-*.jsonl.gz or {OPEN})")
    elif path.is_file():
        files = [path]
    else:
        raise DSparkError(f"training data {path} does not exist")
    for f in files:
        for n, line, unfinished in _read_lines(f):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                if unfinished:
                    print(f"warning: {f}: skipping the unfinished last line {n}", file=sys.stderr)
                    continue
                raise DSparkError(f"{f} line {n}: malformed JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise DSparkError(f"{f} line {n}: expected a JSON object")
            yield f"{f} line {n}", row


def _answer_tokens(row: dict) -> int:
    return int((row.get("generation") or {}).get("num_tokens", 0))


class JsonlSink:
    """One plain JSONL file, appended to (the small-data form)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_partial_tail(self.path)
        self._f = None

    def ids(self) -> set[str]:
        return _ids(self.path) if self.path.exists() else set()

    def write(self, row: dict) -> None:
        if self._f is None:
            self._f = self.path.open("a", encoding="utf-8")
        self._f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


class ShardStore:
    """The shard directory described in the module docstring."""

    def __init__(self, directory, settings: dict, target: dict, shard_size: int = 1000):
        if shard_size < 1:
            raise DSparkError("shard_size must be at least 1")
        self.dir, self.shard_size = Path(directory), shard_size
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest = self._load_manifest(settings, target)
        self.open_path = self.dir / OPEN
        _drop_partial_tail(self.open_path)
        self._reconcile()
        self._open_count = sum(1 for _ in _read_lines(self.open_path)) if self.open_path.exists() else 0
        self._f = None

    def _load_manifest(self, settings: dict, target: dict) -> dict:
        path = self.dir / MANIFEST
        if not path.exists():
            if any(self.dir.glob("shard-*.jsonl.gz")):
                raise DSparkError(f"{self.dir} has shards but no {MANIFEST}; refusing to guess what they hold")
            return {"format": FORMAT, "target": target, "generation": settings, "conversations": 0,
                    "answer_tokens": 0, "shards": [], "open": {"conversations": 0, "answer_tokens": 0}}
        try:
            m = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise DSparkError(f"{path} is unreadable: {e}") from None
        if m.get("format") != FORMAT:
            raise DSparkError(f"{path}: format {m.get('format')!r}, expected {FORMAT!r}")
        for key, want in (("target", target), ("generation", settings)):
            if m.get(key) != want:
                raise DSparkError(f"{self.dir} was regenerated with {key} {m.get(key)} but this run has {want}; "
                                  f"use another --out directory (mixing them would change what a drafter learns)")
        return m

    def _reconcile(self) -> None:
        """After a kill inside close_shard: a shard file the manifest does not list yet is removed
        (its rows are still in the open file); open rows that a listed shard already holds go."""
        listed = {s["file"] for s in self.manifest["shards"]}
        for f in self.dir.glob("shard-*.jsonl.gz"):
            if f.name not in listed:
                f.unlink()
        if self.open_path.exists() and listed:
            closed: set[str] = set()
            for name in listed:
                closed |= _ids(self.dir / name)
            lines = [line for _, line, _ in _read_lines(self.open_path)]
            keep = [line for line in lines if _row_id(line) not in closed]
            if len(keep) != len(lines):
                with atomic_path(self.open_path) as tmp:
                    tmp.write_text("".join(line + "\n" for line in keep), encoding="utf-8")

    def ids(self) -> set[str]:
        ids: set[str] = set()
        for f in shard_files(self.dir):
            ids |= _ids(f)
        return ids

    def write(self, row: dict) -> None:
        if self._f is None:
            self._f = self.open_path.open("a", encoding="utf-8")
        self._f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._f.flush()
        self._open_count += 1
        if self._open_count >= self.shard_size:
            self.close_shard()

    def close_shard(self) -> None:
        """Compress the open shard into the next shard-NNNNN.jsonl.gz and record it in the manifest.
        Order matters for a kill: the shard file appears (atomically), then the manifest lists it,
        then the open file is removed; `_reconcile` repairs a kill between any two of these."""
        if self._f is not None:
            self._f.close()
            self._f = None
        if not self.open_path.exists() or self._open_count == 0:
            return
        rows = [json.loads(line) for _, line, _ in _read_lines(self.open_path)]
        name = f"shard-{len(self.manifest['shards']):05d}.jsonl.gz"
        with atomic_path(self.dir / name, durable=True) as tmp:
            with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as g:
                for row in rows:
                    g.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.manifest["shards"].append({"file": name, "conversations": len(rows),
                                        "answer_tokens": sum(_answer_tokens(r) for r in rows),
                                        "sha256": _sha256(self.dir / name)})
        self.open_path.unlink()
        self._open_count = 0
        self.write_manifest()

    def write_manifest(self) -> None:
        """Only written once the open rows are sealed (close_shard, close), so the counts are the
        closed shards' and "open" is empty."""
        m = self.manifest
        m["open"] = {"conversations": 0, "answer_tokens": 0}
        m["conversations"] = sum(s["conversations"] for s in m["shards"])
        m["answer_tokens"] = sum(s["answer_tokens"] for s in m["shards"])
        write_text_atomic(self.dir / MANIFEST, json.dumps(m, indent=2) + "\n", durable=True)

    def close(self) -> None:
        """End of a run (finished or interrupted): the open rows become a (possibly short) shard,
        so everything written so far can be committed; open.jsonl only exists while a run goes."""
        self.close_shard()
        self.write_manifest()


def verify_store(directory) -> dict:
    """Check every closed shard against the manifest (count and sha256); returns the manifest."""
    directory = Path(directory)
    m = json.loads((directory / MANIFEST).read_text())
    for s in m["shards"]:
        f = directory / s["file"]
        if not f.exists():
            raise DSparkError(f"{f} is listed in the manifest but missing")
        if _sha256(f) != s["sha256"]:
            raise DSparkError(f"{f} does not match its checksum in the manifest")
    return m


def _row_id(line: str) -> str | None:
    try:
        return json.loads(line)["id"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return None    # a line cut by a kill: its conversation is regenerated


def _ids(path: Path) -> set[str]:
    return {i for _, line, _ in _read_lines(path) if (i := _row_id(line)) is not None}


def _drop_partial_tail(path: Path) -> None:
    """Drop a partial last line left by a killed writer."""
    if path.exists() and path.stat().st_size:
        data = path.read_bytes()
        if not data.endswith(b"\n"):
            path.write_bytes(data[:data.rfind(b"\n") + 1])
