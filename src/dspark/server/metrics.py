"""/metrics in Prometheus' text format, through prometheus_client.

The numbers live where they are counted (the worker's request counters, the engine's RoundTotals);
a collector reads them at scrape time, so nothing is counted twice. Every acceptance number is
`dspark.stats`' definition. Names are stable (dashboards and `dspark bench --url` read them)."""
from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from ..stats import RoundTotals

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _ServingCollector:
    def __init__(self, worker, ctx):
        self.worker, self.ctx = worker, ctx

    def collect(self):
        w, c, st = self.worker, self.worker.counters, self.worker.engine.stats
        model = self.ctx.model_name

        def family(kind, name, help_, value=None, label=None, samples=()):
            labels = ["model"] + ([label] if label else [])
            f = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, help_, labels=labels)
            if value is not None:
                f.add_metric([model], value)
            for key, v in samples:
                f.add_metric([model, key], v)
            return f

        yield family("counter", "dspark_requests_total", "Requests received (including rejected ones).",
                     c.requests_received)
        yield family("counter", "dspark_requests_rejected_total",
                     "Requests answered with a 4xx before reaching the engine.", c.requests_rejected)
        yield family("counter", "dspark_requests_finished_total", "Requests that left the engine, by reason.",
                     label="reason", samples=c.finished.items())
        yield family("gauge", "dspark_requests_running", "Requests holding a KV-cache slot (prefilling or decoding).",
                     w.num_running())
        yield family("gauge", "dspark_requests_waiting", "Requests queued for a KV-cache slot.", w.num_waiting())
        yield family("counter", "dspark_prompt_tokens_total", "Prompt tokens admitted.", c.prompt_tokens)
        yield family("counter", "dspark_generation_tokens_total", "Output tokens generated.", c.generation_tokens)
        yield family("counter", "dspark_engine_steps_total", "Engine steps.", st.steps)
        yield family("counter", "dspark_decode_rounds_total", "Steps that ran a verification forward.", st.rounds)
        yield family("counter", "dspark_request_rounds_total", "Verification rounds summed over requests.",
                     st.request_rounds)
        yield family("counter", "dspark_eos_rounds_total",
                     "Request rounds that ended on an accepted end-of-sequence draft (no bonus token).",
                     st.eos_rounds)
        yield family("counter", "dspark_verified_tokens_total", "Tokens in verification forwards (anchors + drafts).",
                     st.verified_tokens)
        yield family("counter", "dspark_committed_tokens_total", "Tokens committed by verification rounds.",
                     st.committed)
        yield family("counter", "dspark_draft_tokens_proposed_total",
                     "Draft tokens sent to verification (after the scheduler's cut).", st.drafted)
        yield family("counter", "dspark_draft_tokens_accepted_total", "Draft tokens accepted.", st.accepted)
        yield family("counter", "dspark_draft_proposed_per_position_total",
                     "Rounds that verified a draft at this position (1-based; slots after an accepted "
                     "end of sequence excluded).", label="position",
                     samples=[(str(j + 1), v) for j, v in enumerate(list(st.proposed_per_position))])
        yield family("counter", "dspark_draft_accepted_per_position_total",
                     "Rounds that accepted the draft at this position (1-based).", label="position",
                     samples=[(str(j + 1), v) for j, v in enumerate(list(st.accepted_per_position))])
        yield family("gauge", "dspark_tau",
                     "Mean accepted length per request round, bonus token included except after an accepted "
                     "end of sequence (since start).", st.tau or 0.0)
        yield family("gauge", "dspark_tokens_per_step", "Tokens committed per verification forward (all requests).",
                     st.tokens_per_step or 0.0)
        yield family("gauge", "dspark_verification_budget",
                     "Average draft tokens verified per request per step (since start).", st.verify_budget or 0.0)
        for name, help_, total, count in (
                ("dspark_time_to_first_token_seconds", "Time from arrival to the first output token.",
                 c.ttft_sum, c.ttft_count),
                ("dspark_e2e_request_latency_seconds", "Time from arrival to the last output token.",
                 c.e2e_sum, c.e2e_count)):
            f = SummaryMetricFamily(name, help_, labels=["model"])
            f.add_metric([model], count_value=count, sum_value=total)
            yield f
        yield family("counter", "dspark_engine_errors_total", "Engine steps that raised (the engine was restarted).",
                     c.engine_errors)
        yield family("gauge", "dspark_max_batch", "KV-cache slots.", self.ctx.config.max_batch)


def make_registry(worker, ctx) -> CollectorRegistry:
    """One registry per app (tests and benchmarks run several apps in one process)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ServingCollector(worker, ctx))
    ProcessCollector(registry=registry)          # process_resident_memory_bytes and friends (Linux)
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


# RoundTotals field <- counter name (the per-position counters carry a position label)
_TOTALS = {"steps": "dspark_engine_steps_total", "rounds": "dspark_decode_rounds_total",
           "request_rounds": "dspark_request_rounds_total", "eos_rounds": "dspark_eos_rounds_total",
           "drafted": "dspark_draft_tokens_proposed_total", "accepted": "dspark_draft_tokens_accepted_total",
           "committed": "dspark_committed_tokens_total"}


def parse_prometheus(text: str) -> dict[str, float]:
    """Sum of the samples of each sample name (labels dropped)."""
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def read_totals(text: str) -> RoundTotals | None:
    """The engine's RoundTotals back from a /metrics page (None when the server is not dspark's)."""
    sums: dict[str, float] = {}
    per_pos: dict[str, dict[int, float]] = {"proposed": {}, "accepted": {}}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            sums[s.name] = sums.get(s.name, 0.0) + s.value
            for kind in per_pos:
                if s.name == f"dspark_draft_{kind}_per_position_total":
                    per_pos[kind][int(s.labels["position"])] = s.value
    if not all(name in sums for name in _TOTALS.values()):
        return None
    n = max(per_pos["proposed"], default=0)
    return RoundTotals(**{f: int(sums[name]) for f, name in _TOTALS.items()},
                       proposed_per_position=[int(per_pos["proposed"].get(j, 0)) for j in range(1, n + 1)],
                       accepted_per_position=[int(per_pos["accepted"].get(j, 0)) for j in range(1, n + 1)])
