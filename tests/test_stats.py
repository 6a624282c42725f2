"""One workload, four readers of the round statistics: `generate`, `deepspec eval`, `dspark bench` and
the server's /metrics (which `dspark bench --url` reads back) must report the same tau and the same
acceptance per position, because all of them read dspark.stats. The workload ends on an accepted
end-of-sequence draft, the case where the old definitions disagreed (bonus token, censored slots)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from conftest import tiny_target
from dspark.engine import EngineConfig
from dspark.sampling import SamplingParams
from dspark.stats import RoundRecord, RoundTotals, summarize, totals
from lossless import OracleDrafter, greedy_reference

pytestmark = pytest.mark.gpu

PROMPT = "List three colours."
MAX_TOKENS = 40


@pytest.fixture(scope="module")
def workload():
    """A tiny random model behind the SmolLM2 tokenizer whose end-of-sequence token is the 8th
    token it would generate greedily, so the run ends on an EOS the drafter proposed."""
    probe = tiny_target(name="tiny-stats", seed=4)
    ids = probe.encode_prompt(PROMPT)
    eos = greedy_reference(probe.model, ids, 8)[-1]
    return tiny_target(name="tiny-stats", seed=4, eos_token_ids=[eos]), ids


def test_generate_eval_bench_and_metrics_agree(workload):
    from deepspec.eval.evaluate import run_dataset
    from deepspec.eval.metrics import summarize as eval_summarize
    from dspark.bench import BenchRequest, bench_engine
    from dspark.generate import generate
    from dspark.server import create_app
    from dspark.server.metrics import parse_prometheus, read_totals
    target, ids = workload
    greedy = SamplingParams(0.0)

    gen = generate(target, OracleDrafter(target.model, error_rate=0.25, seed=1), PROMPT, greedy, MAX_TOKENS)
    records, _, _ = run_dataset(target, OracleDrafter(target.model, error_rate=0.25, seed=1), [PROMPT], lambda i: greedy, MAX_TOKENS, 1,
                                "fixed", "stats")
    ev = eval_summarize(records)
    row = bench_engine(target, OracleDrafter(target.model, error_rate=0.25, seed=1), [BenchRequest(PROMPT, ids, MAX_TOKENS)], ["fixed"], [1],
                       greedy, num_requests=1, warmup=False, log=lambda m: None)[0]
    app = create_app(target, OracleDrafter(target.model, error_rate=0.25, seed=1), EngineConfig(max_batch=1, max_len=512, policy="fixed"))
    with TestClient(app) as client:
        r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": PROMPT}],
                                                       "max_tokens": MAX_TOKENS, "temperature": 0})
        assert r.status_code == 200
        text = client.get("/metrics").text
    served, gauges = read_totals(text), parse_prometheus(text)

    # the workload exercises what the definitions are about
    assert gen["finish_reason"] == "eos" and any(r.eos for r in records)
    assert any(r.accepted == r.proposed for r in records) and any(r.accepted < r.proposed for r in records)
    assert r.json()["choices"][0]["finish_reason"] == "stop"

    tau = ev["tau"]
    assert gen["tau"] == pytest.approx(tau) and row["tau"] == pytest.approx(tau)
    assert served.tau == pytest.approx(tau) and gauges["dspark_tau"] == pytest.approx(tau)
    assert gen["rounds"] == ev["rounds"] == served.request_rounds
    assert gen["accept_rate"] == pytest.approx(ev["accept_rate"])
    assert served.accept_rate == pytest.approx(ev["accept_rate"])
    assert row["verify_budget"] == pytest.approx(served.verify_budget)
    assert gauges["dspark_verification_budget"] == pytest.approx(ev["draft_tokens_per_round"])


def test_totals_match_the_per_round_definitions():
    """Summing first (RoundTotals, what the engine and /metrics keep) and dividing last gives what
    the per-round functions give, including the censored slots after an accepted EOS."""
    rounds = [RoundRecord(4, 4, 5), RoundRecord(4, 1, 2), RoundRecord(4, 0, 1), RoundRecord(4, 2, 2, eos=True),
              RoundRecord(2, 2, 3)]
    s, t = summarize(rounds), totals(rounds)
    assert t.tau == pytest.approx(s["tau"]) == pytest.approx((5 + 2 + 1 + 2 + 3) / 5)
    assert t.accept_rate == pytest.approx(s["accept_rate"])
    assert s["accept_rate"][2] == pytest.approx(1 / 3)     # slot 3: 1 of 3, the EOS round is censored there
    assert t.verify_budget == pytest.approx(s["draft_tokens_per_round"]) == pytest.approx(18 / 5)
    later = totals(rounds + [RoundRecord(4, 3, 4)])
    assert later.minus(t) == totals([RoundRecord(4, 3, 4)]) and isinstance(later.minus(t), RoundTotals)


def test_survival_feedback_steps_on_the_observed_slots():
    """Slots 1..accepted survived and slot accepted + 1 was rejected; later slots (and the slots
    after an accepted end of sequence) were not judged and keep their offsets."""
    from dspark.stats import survival_feedback
    offsets: list[float] = []
    survival_feedback(offsets, [0.5, 0.5, 0.5, 0.5], RoundRecord(4, 1, 2), 0.1)
    assert offsets == pytest.approx([0.05, -0.05])
    survival_feedback(offsets, [0.9, 0.2, 0.5, 0.5], RoundRecord(4, 4, 5), 0.1)
    assert offsets == pytest.approx([0.06, 0.03, 0.05, 0.05])
    survival_feedback(offsets, [0.5, 0.5, 0.5, 0.5], RoundRecord(4, 2, 2, eos=True), 1.0)
    assert offsets == pytest.approx([0.56, 0.53, 0.05, 0.05])
    assert RoundRecord(3, 0, 1).observed == 1 and RoundRecord(0, 0, 1).observed == 0
