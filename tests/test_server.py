"""Serving side: the OpenAI-compatible server (through the official client), its error handling,
metrics, cancellation and a short concurrent load; the bench and profile tools on a tiny model."""
from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time

import httpx
import pytest
import torch

from conftest import tiny_target
from dspark.drafters import NgramDrafter
from dspark.engine import EngineConfig
from dspark.generate import generate
from dspark.models.config import ModelConfig
from dspark.models.decoder import TargetModel
from dspark.sampling import SamplingParams

CHAT_PROMPT = "Write a short poem about the sea."
TEXT_PROMPT = "The quick brown fox jumps over the lazy dog. The quick brown"


def default_init_model(tied: bool) -> TargetModel:
    """PyTorch's default initialisation (not tiny_model's wide spread): 2 layers, SmolLM2's vocabulary."""
    cfg = ModelConfig(arch="llama", vocab_size=49152, hidden_size=32, intermediate_size=64, num_layers=2,
                      num_heads=4, num_kv_heads=2, head_dim=8, eos_token_ids=[2], tie_word_embeddings=tied)
    torch.manual_seed(0)
    return TargetModel(cfg).eval()


@pytest.fixture(scope="module")
def target():
    """Tied embeddings: the random model repeats itself, so the n-gram drafter's drafts get accepted."""
    return tiny_target(default_init_model(tied=True))


@pytest.fixture(scope="module")
def varied_target():
    """Untied embeddings: varied text (and almost no accepted drafts)."""
    return tiny_target(default_init_model(tied=False))


@contextlib.contextmanager
def serve(app):
    """Run the app with uvicorn in a background thread on a free 127.0.0.1 port."""
    import uvicorn
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert thread.is_alive() and time.time() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def make_app(target, policy="fixed", max_batch=4, max_len=512, **kw):
    from dspark.server import create_app
    return create_app(target, NgramDrafter(gamma=4), EngineConfig(max_batch=max_batch, max_len=max_len, policy=policy),
                      **kw)


@pytest.fixture(scope="module")
def server(target):
    app = make_app(target, max_len=8192)
    with serve(app) as url:
        yield url, app


def wait_idle(app, timeout=10.0) -> bool:
    worker = app.state.worker
    deadline = time.time() + timeout
    while time.time() < deadline:
        if worker.num_running() == 0 and worker.num_waiting() == 0:
            return True
        time.sleep(0.02)
    return False


# --- the OpenAI client --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["looping", "varied"])
def test_openai_client_matches_generate(kind, target, varied_target):
    target = target if kind == "looping" else varied_target
    with serve(make_app(target, max_len=512)) as url:
        check_openai_client(target, url)


def check_openai_client(target, url):
    import openai
    expected = generate(target, NgramDrafter(gamma=4), CHAT_PROMPT, SamplingParams(0.0), 40)
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused")

    stream = client.chat.completions.create(model="tiny-smol", messages=[{"role": "user", "content": CHAT_PROMPT}],
                                            max_tokens=40, temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    parts, reasons, usage = [], [], None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            if ch.delta.content:
                parts.append(ch.delta.content)
            if ch.finish_reason:
                reasons.append(ch.finish_reason)
    assert "".join(parts) == expected["text"]
    assert len(parts) > 1                                   # it really streamed
    assert reasons == ["length" if expected["finish_reason"] == "length" else "stop"]
    assert usage.completion_tokens == expected["num_new_tokens"]
    assert usage.prompt_tokens == expected["prompt_tokens"]

    resp = client.chat.completions.create(model="tiny-smol", messages=[{"role": "user", "content": CHAT_PROMPT}],
                                          max_tokens=40, temperature=0)
    assert resp.choices[0].message.content == expected["text"]
    assert resp.choices[0].message.role == "assistant"
    assert resp.usage.completion_tokens == expected["num_new_tokens"]

    plain = generate(target, NgramDrafter(gamma=4), TEXT_PROMPT, SamplingParams(0.0), 30, chat=False)
    comp = client.completions.create(model="tiny-smol", prompt=TEXT_PROMPT, max_tokens=30, temperature=0)
    assert comp.choices[0].text == plain["text"]
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model="tiny-smol", prompt=TEXT_PROMPT, max_tokens=30, temperature=0, stream=True) if c.choices)
    assert streamed == plain["text"]

    # multi-message chat goes through the chat template as a whole
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": CHAT_PROMPT}]
    ids = target.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
    ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    multi = generate(target, NgramDrafter(gamma=4), ids, SamplingParams(0.0), 20)
    resp = client.chat.completions.create(model="tiny-smol", messages=msgs, max_tokens=20, temperature=0)
    assert resp.choices[0].message.content == multi["text"]
    assert resp.usage.prompt_tokens == len(ids)

    # seeded sampling is reproducible
    a, b = (client.completions.create(model="tiny-smol", prompt=TEXT_PROMPT, max_tokens=12, temperature=1.0,
                                      seed=7).choices[0].text for _ in range(2))
    assert a == b
    models = client.models.list()
    assert [m.id for m in models.data] == ["tiny-smol"]


# --- errors ----------------------------------------------------------------------------------

def assert_openai_error(r: httpx.Response, status: int, param=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if param is not None:
        assert err["param"] == param
    return err


def test_invalid_requests_get_4xx_and_server_keeps_serving(target, server):
    url, app = server
    chat = url + "/v1/chat/completions"
    msgs = [{"role": "user", "content": "hi"}]
    with httpx.Client(timeout=30) as c:
        assert_openai_error(c.post(chat, content=b"{not json", headers={"content-type": "application/json"}), 400)
        assert_openai_error(c.post(chat, json=[1, 2]), 400)
        err = assert_openai_error(c.post(chat, json={"model": "gpt-9", "messages": msgs}), 404, "model")
        assert err["code"] == "model_not_found"
        assert_openai_error(c.post(chat, json={"model": "tiny-smol", "messages": msgs, "max_tokens": -5}), 400,
                            "max_tokens")
        assert_openai_error(c.post(chat, json={"model": "tiny-smol", "messages": msgs, "max_tokens": 0}), 400,
                            "max_tokens")
        long_prompt = "word " * 9000
        err = assert_openai_error(c.post(chat, json={"model": "tiny-smol", "max_tokens": 5,
                                                     "messages": [{"role": "user", "content": long_prompt}]}),
                                  400, "messages")
        assert err["code"] == "context_length_exceeded"
        err = assert_openai_error(c.post(url + "/v1/completions", json={"model": "tiny-smol", "prompt": "hi",
                                                                          "max_tokens": 9000}), 400, "max_tokens")
        assert err["code"] == "context_length_exceeded"
        assert_openai_error(c.post(chat, json={"model": "tiny-smol", "messages": msgs, "temperature": "hot"}), 400,
                            "temperature")
        assert_openai_error(c.post(chat, json={"model": "tiny-smol", "messages": "hi"}), 400, "messages")
        assert_openai_error(c.post(chat, json={"model": "tiny-smol", "messages": [{"role": "robot", "content": "x"}]}),
                            400, "messages")
        assert_openai_error(c.post(chat, json={"model": "tiny-smol", "messages": msgs, "max_tokens": 2.5}), 400,
                            "max_tokens")
        assert_openai_error(c.post(chat, json={"model": "tiny-smol", "messages": msgs, "stream": "yes"}), 400,
                            "stream")
        assert_openai_error(c.post(url + "/v1/completions", json={"model": "tiny-smol", "prompt": [10**9]}), 400,
                            "prompt")
        assert_openai_error(c.get(url + "/v1/nothing"), 404)
        # one rule for empty input on both endpoints (and in `dspark generate`)
        for body, param in (({"messages": [{"role": "user", "content": ""}]}, "messages"),
                            ({"messages": [{"role": "system", "content": " "}, {"role": "user", "content": []}]},
                             "messages")):
            assert "is empty" in assert_openai_error(c.post(chat, json=body), 400, param)["message"]
        for prompt in ("", "  \n"):
            err = assert_openai_error(c.post(url + "/v1/completions", json={"prompt": prompt}), 400, "prompt")
            assert "is empty" in err["message"]
        # typed bodies: an unknown key is named, not ignored
        err = assert_openai_error(c.post(chat, json={"messages": msgs, "max_token": 5}), 400, "max_token")
        assert "unknown field" in err["message"]
        r = c.post(chat, json={"model": "tiny-smol", "messages": msgs, "max_tokens": 5, "temperature": 0})
        assert r.status_code == 200 and r.json()["choices"][0]["finish_reason"] in ("length", "stop")
    assert wait_idle(app)


def test_engine_failure_fails_requests_in_flight_and_recovers(target, server):
    url, app = server
    worker = app.state.worker
    assert wait_idle(app)

    def boom():
        raise RuntimeError("injected failure")
    worker.engine.step = boom            # the worker replaces a failed engine with a fresh one
    body = {"model": "tiny-smol", "prompt": "hi", "max_tokens": 4, "temperature": 0}
    with httpx.Client(timeout=30) as c:
        err = assert_openai_error(c.post(url + "/v1/completions", json=body), 500)
        assert "injected failure" in err["message"] and err["type"] == "server_error"
        r = c.post(url + "/v1/completions", json={**body, "stream": True})
        assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")
        assert c.get(url + "/health").status_code == 200
    assert worker.counters.engine_errors == 1


def test_api_key(target):
    import openai
    with serve(make_app(target, api_key="s3cret")) as url:
        with httpx.Client(timeout=30) as c:
            body = {"model": "tiny-smol", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
            err = assert_openai_error(c.post(url + "/v1/chat/completions", json=body), 401)
            assert err["code"] == "invalid_api_key"
            assert_openai_error(c.post(url + "/v1/chat/completions", json=body,
                                       headers={"Authorization": "Bearer wrong"}), 401)
            assert_openai_error(c.get(url + "/v1/models", headers={"Authorization": "Bearer wrong"}), 401)
            r = c.post(url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer s3cret"})
            assert r.status_code == 200
            assert c.get(url + "/health").status_code == 200
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "/v1", api_key="nope").models.list()
        assert openai.OpenAI(base_url=url + "/v1", api_key="s3cret").models.list().data[0].id == "tiny-smol"


# --- metrics, health, models -------------------------------------------------------------------

def test_metrics_health_models(target, server):
    url, app = server
    with httpx.Client(timeout=30) as c:
        assert c.get(url + "/health").json() == {"status": "ok"}
        models = c.get(url + "/v1/models").json()
        assert models["object"] == "list" and models["data"][0]["id"] == "tiny-smol"
        assert models["data"][0]["verification"] == "block"      # how sampled drafts are judged
        assert c.get(url + "/v1/models/tiny-smol").json()["id"] == "tiny-smol"
        r = c.post(url + "/v1/completions", json={"model": "tiny-smol", "prompt": TEXT_PROMPT, "max_tokens": 16,
                                                  "temperature": 0})
        assert r.status_code == 200
        m = c.get(url + "/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    from dspark.bench import parse_prometheus
    text = m.text
    values = parse_prometheus(text)
    for name in ("dspark_requests_total", "dspark_requests_running", "dspark_requests_waiting",
                 "dspark_prompt_tokens_total", "dspark_generation_tokens_total", "dspark_draft_tokens_proposed_total",
                 "dspark_draft_tokens_accepted_total", "dspark_tau", "dspark_tokens_per_step",
                 "dspark_verification_budget", "process_resident_memory_bytes"):
        assert name in values, name
        assert f"# TYPE {name} " in text
    assert 'dspark_draft_accepted_per_position_total{model="tiny-smol",position="1"}' in text
    assert values["dspark_generation_tokens_total"] >= 16
    assert values["dspark_draft_tokens_accepted_total"] <= values["dspark_draft_tokens_proposed_total"]
    assert values["dspark_tau"] >= 1.0
    for line in text.splitlines():        # every sample line is "name{labels} number"
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


# --- cancellation and load -----------------------------------------------------------------------

def test_disconnect_frees_slot(target, server, monkeypatch):
    url, app = server
    worker = app.state.worker
    assert wait_idle(app)
    cancelled = worker.counters.finished["cancelled"]
    # At least 2 ms a step, so that 8000 tokens outlast the client however busy the machine is (a
    # starved client once found the request already finished); the instance attribute is what the
    # worker thread calls next.
    step = worker.engine.step
    monkeypatch.setattr(worker.engine, "step", lambda: (time.sleep(0.002), step())[1])
    body = {"model": "tiny-smol", "prompt": TEXT_PROMPT, "max_tokens": 8000, "temperature": 0, "stream": True}
    with httpx.Client(timeout=30) as c:
        with c.stream("POST", url + "/v1/completions", json=body) as r:
            assert r.status_code == 200
            got = 0
            for line in r.iter_lines():
                if line.startswith("data:") and json.loads(line[5:])["choices"][0]["text"]:
                    got += 1
                    if got == 2:
                        break
            assert worker.num_running() == 1
    # the connection is closed: the slot is freed without generating the remaining tokens
    assert wait_idle(app, timeout=5.0)
    assert worker.counters.finished["cancelled"] == cancelled + 1

    # a non-streaming client that gives up is noticed too (polled once a second)
    with httpx.Client(timeout=0.5) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.post(url + "/v1/completions", json={**body, "stream": False})
    assert wait_idle(app, timeout=5.0)
    assert worker.counters.finished["cancelled"] == cancelled + 2


def test_concurrent_streaming_load(target):
    app = make_app(target, policy="dspark", max_batch=8, max_len=512)
    clients, duration = 16, 3.0
    outcome = {"ok": 0, "errors": [], "texts": 0}

    async def client(k: int, url: str, http: httpx.AsyncClient):
        t0 = time.time()
        i = 0
        while time.time() - t0 < duration:
            body = {"model": "tiny-smol", "messages": [{"role": "user", "content": f"Question {k}.{i}: count to ten"}],
                    "max_tokens": 4 + (7 * k + 3 * i) % 40, "stream": True,
                    "temperature": 0 if k % 2 else 0.8, "seed": k * 100 + i}
            i += 1
            try:
                async with http.stream("POST", url + "/v1/chat/completions", json=body) as r:
                    if r.status_code != 200:
                        outcome["errors"].append(f"HTTP {r.status_code}")
                        continue
                    done = False
                    async for line in r.aiter_lines():
                        if line == "data: [DONE]":
                            done = True
                        elif line.startswith("data:"):
                            obj = json.loads(line[5:])
                            if "error" in obj:
                                outcome["errors"].append(obj["error"]["message"])
                    if done:
                        outcome["ok"] += 1
                    else:
                        outcome["errors"].append("lost: no [DONE]")
            except httpx.HTTPError as e:
                outcome["errors"].append(repr(e))

    async def main(url):
        async with httpx.AsyncClient(timeout=180, limits=httpx.Limits(max_connections=32)) as http:
            await asyncio.gather(*(client(k, url, http) for k in range(clients)))

    with serve(app) as url:
        asyncio.run(main(url))
        assert wait_idle(app)
        counters = app.state.worker.counters
    assert outcome["errors"] == []
    assert outcome["ok"] >= clients
    fin = counters.finished
    assert fin["stop"] + fin["length"] == outcome["ok"] and fin["error"] == 0 and fin["cancelled"] == 0


# --- pieces --------------------------------------------------------------------------------------

def test_stop_strings_are_held_back_and_cut(target):
    from dspark.server import OutputText
    tok = target.tokenizer
    ids = tok("Hello world, this is the end. More text", add_special_tokens=False)["input_ids"]
    out = OutputText(tok, ["the end"])
    sent = "".join(out.feed([t], final=False) for t in ids)
    assert out.stopped and sent == "Hello world, this is " and "the end" not in sent
    plain = OutputText(tok, [])
    assert "".join(plain.feed([t], final=False) for t in ids) + plain.feed([], final=True) == \
        tok.decode(ids, skip_special_tokens=True)


def test_stop_strings_through_the_server(target, server):
    import openai
    url, app = server
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused")
    full = client.completions.create(model="tiny-smol", prompt=TEXT_PROMPT, max_tokens=12, temperature=0)
    text = full.choices[0].text
    stop = text[len(text) // 3: len(text) // 3 + 4]
    want = text[:text.index(stop)]
    resp = client.completions.create(model="tiny-smol", prompt=TEXT_PROMPT, max_tokens=12, temperature=0, stop=[stop])
    assert resp.choices[0].text == want and resp.choices[0].finish_reason == "stop"
    chunks = list(client.completions.create(model="tiny-smol", prompt=TEXT_PROMPT, max_tokens=12, temperature=0,
                                            stop=stop, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == want
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert wait_idle(app)


def test_bench_inprocess_writes_csv_and_plots(target, tmp_path):
    from dspark import bench
    data = tmp_path / "prompts.jsonl"
    data.write_text("\n".join(json.dumps({"turns": [f"Tell me about topic {i}", "and more"]}) for i in range(4)))
    requests = bench.load_jsonl(data, target.encode_prompt, num=4, max_prompt_tokens=200, max_tokens=8)
    rows = bench.bench_engine(target, NgramDrafter(gamma=4), requests, ["none", "dspark"], [1, 2],
                              num_requests=3, log=lambda m: None)
    assert len(rows) == 4
    for r in rows:
        assert r["requests"] == 3 and r["errors"] == 0 and r["output_tokens"] > 0
        assert r["throughput_tok_s"] > 0
    none = [r for r in rows if r["policy"] == "none"]
    assert all(r["verify_budget"] == 0 and r["tau"] == 1 for r in none)
    paths = bench.write_outputs(rows, tmp_path / "out", baseline="none")
    assert paths["csv"].read_text().splitlines()[0].startswith("policy,concurrency")
    assert len(paths["csv"].read_text().splitlines()) == 5
    for k in ("frontier", "budget"):
        assert paths[k].stat().st_size > 1000 and paths[k].read_bytes()[:4] == b"\x89PNG"
    table = bench.format_table(rows, "none")
    assert "1.00" in table


def test_throughput_at_matched_per_user_speed():
    """The baseline's throughput at another policy's per-user speed is read off its Fig. 7 curve,
    between the two levels that bracket it, never extrapolated; the table prints the ratio."""
    from dspark import bench

    def row(policy, c, thr, user):
        return {"policy": policy, "concurrency": c, "requests": 1, "errors": 0, "throughput_tok_s": thr,
                "per_user_tps_mean": user, "ttft_mean_s": 0.1, "itl_mean_ms": 5.0, "tau": 1.0, "verify_budget": 0.0}
    rows = [row("mtp1", 1, 100.0, 100.0), row("mtp1", 4, 300.0, 50.0), row("mtp1", 16, 400.0, 25.0),
            row("dspark", 1, 130.0, 120.0), row("dspark", 4, 400.0, 75.0), row("dspark", 16, 600.0, 30.0)]
    assert bench.frontier_throughput(rows, "mtp1", 75.0) == pytest.approx(200.0)
    assert bench.frontier_throughput(rows, "mtp1", 30.0) == pytest.approx(380.0)
    assert bench.frontier_throughput(rows, "mtp1", 120.0) is None        # faster per user than mtp1 ever ran
    assert bench.frontier_throughput(rows, "mtp1", 10.0) is None
    lines = {tuple(l.split()[:2]): l.split() for l in bench.format_table(rows, "mtp1").splitlines()[2:-1]}
    assert lines[("4", "dspark")][-1] == "2.00" and lines[("16", "dspark")][-1] == "1.58"
    assert lines[("1", "dspark")][-1] == "-" and lines[("4", "mtp1")][-1] == "1.00"


def test_bench_against_a_server_url(target, server):
    from dspark import bench
    url, app = server
    requests = [bench.BenchRequest(f"Say something about {w}", [], 6) for w in ("cats", "dogs", "owls")]
    rows = bench.bench_url(url, requests, [1, 2], num_requests=3, log=lambda m: None)
    assert [r["concurrency"] for r in rows] == [1, 2]
    for r in rows:
        assert r["requests"] == 3 and r["errors"] == 0 and 0 < r["output_tokens"] <= 18
        assert r["tau"] >= 1 and r["steps"] > 0          # from the server's /metrics


def test_bench_sharegpt_reader_stops_at_the_cut():
    from dspark.sharegpt import iter_json_array
    text = json.dumps([{"a": 1}, {"b": [2, 3]}, {"c": "x"}])
    assert [obj for _, obj in iter_json_array(text[:-10])] == [{"a": 1}, {"b": [2, 3]}]
    assert [obj for _, obj in iter_json_array(text)] == [{"a": 1}, {"b": [2, 3]}, {"c": "x"}]


def test_step_times_are_made_non_decreasing():
    """A profile's medians where noise put a size above a larger one become their pooled mean (the
    least-squares monotone fit); monotone ones stay as measured."""
    from dspark.profile import non_decreasing
    assert non_decreasing([5.3, 6.3, 6.9, 7.9, 8.8, 10.1, 13.4, 11.9, 14.3]) == pytest.approx(
        [5.3, 6.3, 6.9, 7.9, 8.8, 10.1, 12.65, 12.65, 14.3])
    assert non_decreasing([3.0, 1.0, 2.0, 5.0]) == pytest.approx([2.0, 2.0, 2.0, 5.0])
    assert non_decreasing([1.0, 2.0, 2.0, 4.0]) == [1.0, 2.0, 2.0, 4.0]
    assert non_decreasing([]) == []


def test_profile_sps_and_cache(target, tmp_path, monkeypatch):
    from dspark import profile
    from dspark.schedule import SPSTable
    table = profile.profile_sps(target.model, [1, 2, 4], context=16, max_seqs=2, repeats=1, warmup=0,
                                one_sequence_tokens=[1, 3, 6])
    assert table.tokens == [1, 2, 4] and all(s > 0 for s in table.steps_per_second)
    assert table.one_sequence.tokens == [1, 3, 6] and all(s > 0 for s in table.one_sequence.steps_per_second)
    assert table.meta["context"] == 16 and table.meta["threads"] == torch.get_num_threads()
    for curve in (table, table.one_sequence):            # more tokens never take less time
        assert all(a >= b for a, b in zip(curve.steps_per_second, curve.steps_per_second[1:]))
    monkeypatch.setenv("DSPARK_HOME", str(tmp_path))
    calls = []
    real = profile.profile_sps

    def counting(*a, **k):
        calls.append(1)
        return real(*a, tokens=[1, 2], context=8, repeats=1, warmup=0)
    monkeypatch.setattr(profile, "profile_sps", counting)
    t1 = profile.sps_table_for(target, "cpu", "float32", 1, log=lambda m: None)
    t2 = profile.sps_table_for(target, "cpu", "float32", 1, log=lambda m: None)
    assert len(calls) == 1 and t1.tokens == t2.tokens == [1, 2]
    assert (tmp_path / "sps" / "tiny-smol-cpu-float32-t1.json").exists()
    assert t2.meta["model"] == "tiny-smol"
    # a cached table from before the one-sequence curve is measured again, once
    path = tmp_path / "sps" / "tiny-smol-cpu-float32-t1.json"
    SPSTable(t2.tokens, t2.steps_per_second, t2.meta).save(path)
    t3 = profile.sps_table_for(target, "cpu", "float32", 1, log=lambda m: None)
    t4 = profile.sps_table_for(target, "cpu", "float32", 1, log=lambda m: None)
    assert len(calls) == 2 and t3.one_sequence is not None and t4.one_sequence.tokens == t3.one_sequence.tokens
    # a table profiled on a busy machine is measured again once the machine is quiet, not before
    SPSTable(t4.tokens, t4.steps_per_second, {**t4.meta, "load_average": 99.0, "cpu_count": 2},
             t4.one_sequence).save(path)
    monkeypatch.setattr(profile, "current_load", lambda: (99.0, 2))
    assert profile.sps_table_for(target, "cpu", "float32", 1, log=lambda m: None).meta["load_average"] == 99.0
    assert len(calls) == 2
    monkeypatch.setattr(profile, "current_load", lambda: (0.5, 2))
    logged = []
    t5 = profile.sps_table_for(target, "cpu", "float32", 1, log=logged.append)
    assert len(calls) == 3 and t5.meta["load_average"] == 0.5 and "busy machine" in logged[0]
    assert SPSTable.load(path).meta["load_average"] == 0.5
    # a table measured on another build of the C kernels is measured again, once
    monkeypatch.setattr(profile, "kernels_of", lambda model: "a-newer-build")
    logged.clear()
    t6 = profile.sps_table_for(target, "cpu", "float32", 1, log=logged.append)
    t7 = profile.sps_table_for(target, "cpu", "float32", 1, log=logged.append)
    assert len(calls) == 4 and t6.meta["kernels"] == t7.meta["kernels"] == "a-newer-build"
    assert "another build" in logged[0]


def test_profile_measures_bent_sizes_again(target):
    """A stall that hits one size's first measurements (here 3 rows of one sequence, 30 ms each time
    through the first rounds) bends its median above the larger sizes'; profile_sps measures the
    sizes that came out bent again and keeps the lower median, so the table follows the sizes'
    real order instead of pricing 3 rows like a stall."""
    from dspark import profile

    class Stalled:
        """target.model, but its first `stalls` forwards of 3 rows in one sequence take 30 ms more."""
        def __init__(self, model, stalls):
            self.model, self.stalls = model, stalls

        def __getattr__(self, name):
            return getattr(self.model, name)

        def __call__(self, batch, cache, **kw):
            if batch.tokens.shape[0] == 3 and int(batch.row_slot.unique().numel()) == 1 and self.stalls > 0:
                self.stalls -= 1
                time.sleep(0.03)
            return self.model(batch, cache, **kw)

    model = Stalled(target.model, stalls=3)
    table = profile.profile_sps(model, [1, 2, 4], context=16, max_seqs=2, repeats=3, warmup=0,
                                one_sequence_tokens=[1, 2, 3, 4])
    assert model.stalls == 0
    assert {3, 4} <= set(table.meta["one_sequence_remeasured"])        # (noise may bend more)
    assert table.meta["one_sequence_ms_per_step"][2] < 15      # 3 rows no longer priced as the stall
    assert profile.bent({1: 1.0, 2: 3.0, 3: 2.0, 4: 2.5}, [1, 2, 3, 4]) == [2, 3, 4]
    assert profile.bent({1: 1.0, 2: 2.0}, [1, 2]) == []


def test_profile_keeps_a_quiet_table_when_busy(target, tmp_path, monkeypatch, capsys):
    """`dspark profile` on a busy machine does not replace a table measured on a quiet one (the
    table `dspark serve` reads), unless --force; progress goes to stderr."""
    import dspark.models.loader as loader
    from dspark import profile
    from dspark.cli import main
    from dspark.schedule import SPSTable
    monkeypatch.setattr(loader, "load_target", lambda *a, **k: target)
    out = tmp_path / "sps.json"
    SPSTable([1, 2], [10.0, 9.0], {"load_average": 0.1, "cpu_count": 2}).save(out)
    real = profile.profile_sps

    def busy(*a, **k):
        table = real(*a, **k)
        table.meta.update(load_average=99.0, cpu_count=2)
        return table
    monkeypatch.setattr(profile, "profile_sps", busy)
    args = ["profile", "--tokens", "1,2", "--context", "8", "--repeats", "1", "--warmup", "0", "--output", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "kept" in err and "--force" in err and "forward" in err
    assert SPSTable.load(out).steps_per_second == [10.0, 9.0]
    assert SPSTable.load(tmp_path / "sps.busy.json").meta["load_average"] == 99.0
    assert main(args + ["--force"]) == 0
    assert SPSTable.load(out).meta["load_average"] == 99.0
