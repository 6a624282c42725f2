"""`deepspec export` / `deepspec import`: argument parsing and the commands."""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import torch

from dspark.errors import DSparkError

from .layouts import DTYPES, LAYOUTS
from .read import import_drafter
from .write import _fresh_out, check_supported, export_drafter, write_native


def serve_hint(algorithm: str, layout: str, out: Path, gamma: int) -> str:
    if layout == "deepspec":
        return (f"vLLM: --speculative-config '{{\"method\": \"dspark\", \"model\": \"{out}\", "
                f"\"num_speculative_tokens\": {gamma}}}'")
    if layout == "eagle3":
        return (f"vLLM: --speculative-config '{{\"method\": \"eagle3\", \"model\": \"{out}\", "
                f"\"num_speculative_tokens\": {gamma}}}'; SGLang: --speculative-algorithm EAGLE3 "
                f"--speculative-draft-model-path {out}")
    if layout == "speculators":
        return f"vLLM reads the speculators config: --speculative-config '{{\"model\": \"{out}\"}}'"
    if layout == "dflash":
        return ("sample_from_anchor: true is written in the config; engines that ignore it misread the slots "
                "(see docs/INTEROP.md)")
    return f"dspark/deepspec: --drafter {out}"


def add_export_arguments(p) -> None:
    p.add_argument("--drafter", required=True, help="our drafter checkpoint directory")
    p.add_argument("--to", required=True, choices=LAYOUTS, help="layout to write")
    p.add_argument("--out", required=True, help="new (or empty) output directory")
    p.add_argument("--target", default=None,
                   help="target name or directory (default: the target the drafter was trained for)")
    p.add_argument("--mask-token-id", type=int, default=None,
                   help="deepspec layout, learned mask: the embed_tokens row that carries the mask vector")
    p.add_argument("--dtype", default=None, choices=sorted(DTYPES),
                   help="cast weights (default: the dtype the drafter was saved in)")


def _saved_dtype(path: Path) -> torch.dtype:
    from safetensors import safe_open
    names = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64}
    try:
        with safe_open(str(path / "model.safetensors"), "pt") as f:
            for k in f.keys():
                dt = names.get(f.get_slice(k).get_dtype())
                if dt is not None:
                    return dt
    except Exception:  # unreadable: load_drafter reports it properly
        pass
    return torch.float32


def _load_target(name: str, dtype=torch.float32):
    from dspark.models.loader import load_target
    return load_target(name, dtype=dtype, tokenizer=False)


def _target_config_of(target) -> dict | None:
    f = Path(target.path) / "config.json"
    try:
        return json.loads(f.read_text()) if f.exists() else None
    except (OSError, json.JSONDecodeError):
        return None


def run_export(args) -> int:
    from dspark.drafters.checkpoint import load_drafter, read_meta
    import dspark.drafters  # noqa: F401  (registers every algorithm)
    path = Path(args.drafter)
    if not path.is_dir():
        raise DSparkError(f"drafter checkpoint {path} does not exist")
    meta = read_meta(path)
    check_supported(meta["algorithm"], args.to)          # before loading anything large
    _fresh_out(Path(args.out))
    target_name = args.target or meta.get("target", {}).get("name")
    if not target_name:
        raise DSparkError(f"{path} does not name its target; pass --target")
    dtype = DTYPES[args.dtype] if args.dtype else _saved_dtype(path)
    target = _load_target(target_name)
    drafter = load_drafter(path, target, dtype=torch.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = export_drafter(drafter, args.to, args.out, target_config=_target_config_of(target),
                             target_name=target.name, mask_token_id=args.mask_token_id, dtype=dtype)
    for w in caught:
        print(f"deepspec export: warning: {w.message}", file=sys.stderr)
    print(f"wrote {meta['algorithm']} drafter as the {args.to} layout to {out}")
    print(serve_hint(meta["algorithm"], args.to, out, drafter.gamma))
    return 0


def add_import_arguments(p) -> None:
    p.add_argument("--from", dest="source_layout", required=True, choices=LAYOUTS, help="layout to read")
    p.add_argument("--src", required=True, help="directory in that layout")
    p.add_argument("--out", required=True, help="new (or empty) directory for our checkpoint")
    p.add_argument("--target", required=True, help="target name or directory")
    p.add_argument("--mask", choices=("learned", "token"), default="learned",
                   help="learned: our mask embedding starts as the mask_token_id row (default); "
                        "token: keep mask_token_id")
    p.add_argument("--block-size", type=int, default=None,
                   help="drafts per round (default: the layout's; EAGLE-3 has none: 7)")
    p.add_argument("--approximate", action="store_true",
                   help="import even if the checkpoint's embedding / LM head differ from the target's")


def run_import(args) -> int:
    out = Path(args.out)
    _fresh_out(out)
    target = _load_target(args.target)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drafter = import_drafter(args.source_layout, args.src, target.model, mask=args.mask,
                                 approximate=args.approximate, block_size=args.block_size,
                                 target_name=target.name)
    for w in caught:
        print(f"deepspec import: warning: {w.message}", file=sys.stderr)
    write_native(drafter, out, target.name)
    print(f"imported the {args.source_layout} layout from {args.src} as our {drafter.algorithm} drafter in {out}")
    return 0
