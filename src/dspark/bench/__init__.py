"""`dspark bench`'s library: a closed-loop load generator over a sweep of concurrency levels.

workloads.py  prompts and output lengths (ShareGPT, or a JSONL file of {"turns": [...]})
runner.py     the closed loop: in-process engines, or streaming HTTP against a server
report.py     bench.csv, the two figures (paper Fig. 7 and 8), the ratio table
"""
from ..server.metrics import parse_prometheus  # noqa: F401
from ..sharegpt import iter_json_array  # noqa: F401
from .report import CSV_FIELDS, format_table, frontier_throughput, write_outputs  # noqa: F401
from .runner import RequestResult, bench_engine, bench_url, run_engine_level, summarize  # noqa: F401
from .workloads import BenchRequest, load_jsonl, load_sharegpt, sharegpt_conversations  # noqa: F401
