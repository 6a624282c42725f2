"""Regenerated data at scale: the shard store survives kills, refuses mixed settings, and every reader
(iter_rows, load_tokenized, regenerate's resume) sees the same conversations."""
import gzip
import json

import pytest

from deepspec.data.prompts import PromptRecord
from deepspec.data.regenerate import RegenSettings, open_sink, regenerate
from deepspec.data.shards import JsonlSink, ShardStore, iter_rows, verify_store
from deepspec.data.tokenize import load_tokenized
from dspark.errors import DSparkError

SETTINGS = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_new_tokens": 512, "seed": 0}
TARGET = {"name": "tiny", "arch": "llama", "vocab_size": 64, "hidden_size": 8, "num_layers": 2}


def row(i: int, tokens: int = 3) -> dict:
    # pre-tokenized rows: load_tokenized reads them without a tokenizer
    return {"id": f"c{i}", "input_ids": [1, 2 + i % 5, 3, 4], "loss_mask": [0, 1, 1, 1],
            "generation": {"num_tokens": tokens}}


class FakeBackend:
    """Answers every prompt with a fixed row; fails the ids it is told to."""

    def __init__(self, fail=()):
        self.fail, self.calls = set(fail), []

    def identity(self) -> dict:
        return TARGET

    def run(self, records, on_done, on_error):
        for r in records:
            self.calls.append(r.id)
            if r.id in self.fail:
                on_error(r.id, "boom")
            else:
                on_done({"id": r.id, "input_ids": [1, 2, 3], "loss_mask": [0, 1, 1],
                         "generation": {"num_tokens": 2}})


def records(n: int) -> list[PromptRecord]:
    return [PromptRecord(f"p{i}", [{"role": "user", "content": f"q{i}"}], "test", "chat") for i in range(n)]


def test_store_closes_shards_and_counts(tmp_path):
    store = ShardStore(tmp_path / "s", SETTINGS, TARGET, shard_size=3)
    for i in range(7):
        store.write(row(i, tokens=i))
    store.close()
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    # closing seals the open rows into a short last shard: everything written can be committed
    assert names == ["manifest.json", "shard-00000.jsonl.gz", "shard-00001.jsonl.gz", "shard-00002.jsonl.gz"]
    m = verify_store(tmp_path / "s")
    assert m["conversations"] == 7 and m["answer_tokens"] == sum(range(7))
    assert [s["conversations"] for s in m["shards"]] == [3, 3, 1] and m["open"]["conversations"] == 0
    assert [r["id"] for _, r in iter_rows(tmp_path / "s")] == [f"c{i}" for i in range(7)]
    samples = load_tokenized(tmp_path / "s", None, max_len=16)
    assert [s.id for s in samples] == [f"c{i}" for i in range(7)]


def test_store_resumes_and_refuses_other_settings(tmp_path):
    d = tmp_path / "s"
    store = ShardStore(d, SETTINGS, TARGET, shard_size=2)
    for i in range(3):
        store.write(row(i))
    store.close()
    again = ShardStore(d, SETTINGS, TARGET, shard_size=2)
    assert again.ids() == {"c0", "c1", "c2"}
    again.write(row(3))
    again.close()
    m = verify_store(d)
    assert m["conversations"] == 4 and [s["conversations"] for s in m["shards"]] == [2, 1, 1]
    assert not (d / "open.jsonl").exists()
    with pytest.raises(DSparkError, match="generation"):
        ShardStore(d, {**SETTINGS, "temperature": 1.0}, TARGET)
    with pytest.raises(DSparkError, match="target"):
        ShardStore(d, SETTINGS, {**TARGET, "name": "other"})


def test_store_repairs_every_kill_point(tmp_path):
    d = tmp_path / "s"
    store = ShardStore(d, SETTINGS, TARGET, shard_size=2)
    for i in range(2):
        store.write(row(i))      # shard-00000 closed
    store.write(row(2))
    store._f.close()             # a hard kill: close() never runs, c2 stays in open.jsonl
    # a kill while appending: half a line at the end of the open shard
    with (d / "open.jsonl").open("a") as f:
        f.write('{"id": "c3", "input_')
    # a kill inside close_shard after the manifest listed the shard, before the open file went
    dup = json.dumps(row(0))
    text = (d / "open.jsonl").read_text()
    (d / "open.jsonl").write_text(dup + "\n" + text)
    # a kill inside close_shard before the manifest listed the new shard file
    with gzip.open(d / "shard-00001.jsonl.gz", "wt") as g:
        g.write(json.dumps(row(2)) + "\n")
    store = ShardStore(d, SETTINGS, TARGET, shard_size=2)
    assert not (d / "shard-00001.jsonl.gz").exists()
    assert [r["id"] for _, r in iter_rows(d)] == ["c0", "c1", "c2"]
    store.write(row(3))
    store.close()
    assert [r["id"] for _, r in iter_rows(d)] == ["c0", "c1", "c2", "c3"]
    assert verify_store(d)["conversations"] == 4


def test_corrupt_shard_is_reported(tmp_path):
    d = tmp_path / "s"
    store = ShardStore(d, SETTINGS, TARGET, shard_size=1)
    store.write(row(0))
    store.close()
    (d / "shard-00000.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(DSparkError, match="checksum"):
        verify_store(d)
    with pytest.raises(DSparkError, match="gzip"):
        list(iter_rows(d))
    with pytest.raises(DSparkError, match="does not exist"):
        list(iter_rows(tmp_path / "missing"))


@pytest.mark.parametrize("out", ["regen.jsonl", "regen"])
def test_regenerate_resumes_without_duplicates(tmp_path, out):
    settings = RegenSettings()
    backend = FakeBackend(fail={"p1"})
    path = tmp_path / out
    stats = regenerate(records(5), open_sink(path, backend, settings, shard_size=2), backend, limit=3,
                       errors_path=tmp_path / "errors.jsonl")
    assert stats["written"] == 2 and stats["failed"] == 1 and backend.calls == ["p0", "p1", "p2"]
    backend = FakeBackend()
    stats = regenerate(records(5), open_sink(path, backend, settings, shard_size=2), backend)
    assert backend.calls == ["p1", "p3", "p4"] and stats["done_before"] == 2
    ids = [r["id"] for _, r in iter_rows(path)]
    assert sorted(ids) == [f"p{i}" for i in range(5)] and len(ids) == 5
    assert isinstance(open_sink(path, backend, settings), JsonlSink if out.endswith(".jsonl") else ShardStore)
    assert json.loads((tmp_path / "errors.jsonl").read_text())["id"] == "p1"
