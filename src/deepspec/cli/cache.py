"""`deepspec cache`: precompute the target's features for training into a sharded, resumable cache
(or, with --dry-run, only say how big it would be)."""
from __future__ import annotations

import sys
from pathlib import Path

from dspark.cli.options import add_precision_argument, setup_torch
from dspark.errors import DSparkError

from ..data.feature_cache import build_cache, describe_estimate, dtype_name, target_fingerprint
from ..data.features import OnlineFeatures
from ..data.shards import iter_rows
from ..data.tokenize import load_tokenized


def add_arguments(p) -> None:
    p.add_argument("--target", default="smollm2-135m",
                   help="named default (smollm2-135m, gemma3-270m) or a model directory (default: %(default)s)")
    p.add_argument("--data", required=True,
                   help="regenerated conversations (deepspec regenerate output) or tokenized JSONL")
    p.add_argument("--taps", default=None,
                   help="comma-separated target layers to cache, e.g. 1,7,13,19,25 (default: the DFlash/"
                        "DSpark default spread of 5 layers for the target)")
    p.add_argument("--out", required=True, help="cache directory (a rerun with the same arguments resumes)")
    p.add_argument("--dtype", default="bfloat16",
                   help="cache dtype: bfloat16 (default), float16, float32, or q8: int8 with an fp16 scale per 32 "
                        "values (GGUF Q8_0), 53%% of the bf16 bytes, read back within half a step; hidden size "
                        "a multiple of 32")
    p.add_argument("--max-len", type=int, default=768, help="truncate samples to this many tokens (default: 768)")
    p.add_argument("--dry-run", action="store_true", help="print the size estimate only; write nothing")
    p.add_argument("--limit", type=int, default=None, help="use only the first N samples")
    p.add_argument("--shard-tokens", type=int, default=None,
                   help="most tokens per shard (default: about 1 GiB of features per shard)")
    p.add_argument("--batch-tokens", type=int, default=4096, help="most tokens per target forward")
    p.add_argument("--device", default="cpu", help="device the target runs on")
    p.add_argument("--target-dtype", default="float32", help="dtype the target runs in (default: float32)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    add_precision_argument(p)
    p.add_argument("--products", choices=["auto", "int8", "bf16"], default="auto",
                   help="arithmetic of the target's many-row products in the fast precision: int8 (the integer "
                        "kernel decoding uses), bf16 (oneDNN: ~1.5x faster caching on CPUs with AMX, ~0.8x on "
                        "AVX-512 BF16 without it; features within a few %% of int8's and closer to fp32's), or "
                        "auto (default): bf16 where the CPU has AMX")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_taps(text: str | None, num_layers: int) -> list[int]:
    if text is None or not str(text).strip():
        from dspark.drafters.dflash import default_tap_layers
        return default_tap_layers(num_layers)
    try:
        taps = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise DSparkError(f"--taps must be comma-separated layer numbers, got {text!r}") from None
    if not taps or len(set(taps)) != len(taps) or any(not 0 <= t < num_layers for t in taps):
        raise DSparkError(f"--taps {text!r}: give distinct layers of the {num_layers}-layer target (0..{num_layers - 1})")
    return taps


def _choose_products(model, choice: str) -> str:
    """Turn on bf16 products where asked (or, for auto, where they pay); returns the arithmetic the
    target's products run in: int8 / bf16 on the fast runtime, else torch's (the model's dtype)."""
    from dspark.models import runtime
    if model.runtime is None:
        if choice == "bf16":
            raise DSparkError("--products bf16 needs the fast precision of a packed (GGUF) target on the CPU")
        return f"torch {str(model.dtype).removeprefix('torch.')}"
    if choice == "int8" or (choice == "auto" and not runtime.cpu_has_amx()):   # bf16 pays only with AMX
        return "int8"
    if not runtime.use_bf16_products(model):      # no native bf16 here
        if choice == "bf16":
            raise DSparkError("--products bf16: this CPU has no native bf16 (AVX-512 BF16 / AMX)")
        return "int8"
    return f"bf16 from {runtime.BF16_MIN_ROWS} rows, int8 below"


def _needs_tokenizer(path: str) -> bool:
    """False when the data is pre-tokenized ({"input_ids", ...} in its first row)."""
    try:
        for _, row in iter_rows(path):
            return "input_ids" not in row
    except DSparkError:
        pass
    return True


def _load_samples(path: str, tokenizer, max_len: int, limit: int | None, vocab_size: int | None, log) -> list:
    stats: dict = {}
    samples = load_tokenized(path, tokenizer, max_len, vocab_size=vocab_size, stats=stats, limit=limit)
    if stats.get("skipped"):
        print(f"{stats['skipped']:,} of {stats['lines']:,} samples skipped (no two consecutive loss tokens)", file=log)
    if not samples:
        raise DSparkError(f"no usable samples in {path}")
    return samples


def run(args) -> int:
    setup_torch(args)
    dtype_s = dtype_name(args.dtype)
    if not Path(args.data).exists():
        raise DSparkError(f"data file {args.data} does not exist")
    need_tok = _needs_tokenizer(args.data)
    if args.dry_run:
        # Only the config and (for conversations) the tokenizer: no weights, nothing written.
        from dspark.models.loader import load_config, resolve_target_dir
        name, path = resolve_target_dir(args.target)
        cfg = load_config(path)
        taps = parse_taps(args.taps, cfg.num_layers)
        tok = None
        if need_tok:
            from transformers import AutoTokenizer
            try:
                tok = AutoTokenizer.from_pretrained(str(path))
            except (OSError, ValueError) as e:
                raise DSparkError(f"cannot load the tokenizer in {path}: {e}") from None
        samples = _load_samples(args.data, tok, args.max_len, args.limit, cfg.vocab_size, sys.stdout)
        n = sum(len(s.input_ids) for s in samples)
        print(f"target {name}: hidden {cfg.hidden_size}, {cfg.num_layers} layers, tap layers {taps}")
        print(describe_estimate(n, cfg.hidden_size, len(taps), dtype_s, len(samples)))
        print(f"dry run: nothing written to {args.out}")
        return 0

    from dspark.models.loader import load_target
    target = load_target(args.target, device=args.device, dtype=args.target_dtype, tokenizer=need_tok)
    taps = parse_taps(args.taps, target.config.num_layers)
    samples = _load_samples(args.data, target.tokenizer, args.max_len, args.limit, target.config.vocab_size,
                            sys.stdout)
    products = _choose_products(target.model, args.products)
    print(f"target products: {products}")
    source = OnlineFeatures(target.model, taps, token_budget=args.batch_tokens)
    build_cache(samples, source, args.out, target_fingerprint(target, taps), dtype=dtype_s,
                shard_tokens=args.shard_tokens, batch_tokens=args.batch_tokens,
                progress=not args.no_progress, log=sys.stdout, products=products)
    return 0
