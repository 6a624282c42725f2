"""One checkpoint format for every drafter: a directory with

    config.json        {"format_version": 1, "algorithm": "dspark" | "dflash" | "eagle3" | "mtp",
                        "config": {hyper-parameters of that algorithm},
                        "target": {"name", "arch", "vocab_size", "hidden_size", "num_layers", "tap_layers"}}
    model.safetensors  the drafter's own weights (never the target's embedding or LM head)
    calibration.json   optional: STS temperatures and biases for the confidence head (deepspec calibrate),
                       for sampled requests and, in its "greedy" section, for greedy ones

Loading checks the fingerprint against the target and names the first mismatch.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from ..errors import DSparkError
from ..files import atomic_path, load_safetensors, save_safetensors, write_text_atomic

FORMAT_VERSION = 1
REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: a drafter module with `algorithm`, a `Config` dataclass, `self.config`,
    `build(config, target_model)` and a state_dict of its own weights only."""
    REGISTRY[cls.algorithm] = cls
    return cls


def config_from_dict(config_cls, data: dict[str, Any], where: str):
    """Typed config from JSON/TOML data; unknown keys are errors, not silently ignored."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise DSparkError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    try:
        return config_cls(**data)
    except TypeError as e:
        raise DSparkError(f"{where}: {e}") from None


def target_fingerprint(target_cfg, tap_layers, name: str) -> dict[str, Any]:
    return {"name": name, **target_cfg.fingerprint(), "tap_layers": list(tap_layers)}


def check_target(fingerprint: dict[str, Any], target_cfg, target_name: str, where: str) -> None:
    mine = target_cfg.fingerprint()
    for key, want in mine.items():
        have = fingerprint.get(key)
        if have != want:
            raise DSparkError(
                f"{where} was trained for target {fingerprint.get('name', '?')!r} with {key}={have}, "
                f"but target {target_name!r} has {key}={want}")
    taps = fingerprint.get("tap_layers", [])
    if any(not 0 <= t < target_cfg.num_layers for t in taps):
        raise DSparkError(f"{where}: tap layers {taps} do not exist in target {target_name!r}")


def save_drafter(drafter, path: str | Path, target_name: str) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, "algorithm": drafter.algorithm,
            "config": dataclasses.asdict(drafter.config),
            "target": target_fingerprint(drafter.target_cfg, drafter.tap_layers, target_name)}
    state = {k: v.detach().to("cpu").contiguous() for k, v in drafter.state_dict().items()}
    with atomic_path(path / "model.safetensors") as tmp:
        save_safetensors(state, tmp, metadata={"format": "pt"})
    write_text_atomic(path / "config.json", json.dumps(meta, indent=2) + "\n")
    return path


def read_meta(path: Path) -> dict[str, Any]:
    cfg_file = path / "config.json"
    if not cfg_file.exists():
        raise DSparkError(f"{path} is not a drafter checkpoint (no config.json)")
    try:
        meta = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as e:
        raise DSparkError(f"{cfg_file} is not valid JSON: {e}") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise DSparkError(f"{cfg_file}: unsupported format_version {meta.get('format_version')!r} "
                          f"(this DSpark reads {FORMAT_VERSION})")
    if meta.get("algorithm") not in REGISTRY:
        raise DSparkError(f"{cfg_file}: unknown algorithm {meta.get('algorithm')!r}; "
                          f"known: {', '.join(sorted(REGISTRY))}")
    return meta


def run_on_fast_runtime(drafter) -> None:
    """Run a trained fp32 drafter as a fast-precision target runs: its products on 8-bit weights on
    the integer runtime (loader.pack_linears), its draft head on the packed rows of the target's
    head, and a DFlash / DSpark round in C (attach_runtime). A round at batch 1 reads every drafter
    weight: SmolLM2's DSpark drafted in 15.4 ms with fp32 weights, 8.9 ms with 8-bit ones, the same
    tokens (RESULTS.md, session 8); the C round took a 2-layer round from 3.3 to 2.2 ms (session 15)."""
    from ..models.loader import pack_linears
    pack_linears(drafter)
    if getattr(drafter, "draft_head", None) is not None:
        drafter.draft_head.pack = True
    if hasattr(drafter, "attach_runtime"):
        drafter.attach_runtime()


def read_checkpoint(path: str | Path, target) -> tuple[type, Any, dict[str, torch.Tensor]]:
    """(drafter class, its Config, its weights) of a checkpoint directory, checked against `target`
    (a loader.Target or anything with .config and .name): what load_drafter builds from, and what a
    training run started from a trained drafter (`init_from`) reads."""
    path = Path(path)
    if not path.is_dir():
        raise DSparkError(f"drafter checkpoint {path} does not exist")
    meta = read_meta(path)
    cls = REGISTRY[meta["algorithm"]]
    check_target(meta.get("target", {}), target.config, target.name, str(path))
    # Keys added to a Config after checkpoints were saved take the value those checkpoints were
    # trained with (a drafter's `legacy_config`), not the default for new drafters.
    saved = {**getattr(cls, "legacy_config", {}), **meta["config"]}
    config = config_from_dict(cls.Config, saved, f"{path}/config.json")
    return cls, config, load_safetensors(path / "model.safetensors")


def load_weights(drafter, state: dict[str, torch.Tensor], where: str) -> None:
    """`state` into `drafter` (cast to its dtypes), after checking that every tensor is there with
    the right shape."""
    own = drafter.state_dict()
    missing, unexpected = set(own) - set(state), set(state) - set(own)
    if missing or unexpected:
        raise DSparkError(f"{where} does not match a {type(drafter).__name__} with this config: "
                          f"missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}")
    for k, v in own.items():
        if state[k].shape != v.shape:
            raise DSparkError(f"{where}: tensor {k} has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}")
    drafter.load_state_dict(state)


def load_drafter(path: str | Path, target, device=None, dtype=None):
    """Load a drafter for `target` (a loader.Target or anything with .model, .config, .name)."""
    path = Path(path)
    cls, config, state = read_checkpoint(path, target)
    drafter = cls.build(config, target.model)
    load_weights(drafter, state, str(path / "model.safetensors"))
    drafter.checkpoint_dir = path   # its round records name these weights (deepspec eval, checkpoint_digest)
    drafter.to(device=device or target.model.device, dtype=dtype or target.model.dtype)
    from ..models.packed import packing_of
    if packing_of(target.model) == "packed-fast" and dtype in (None, torch.float32):
        run_on_fast_runtime(drafter)
    calib = path / "calibration.json"
    if calib.exists() and hasattr(drafter, "load_calibration"):
        drafter.load_calibration(json.loads(calib.read_text()))
    return drafter.eval()


def calibration_of(drafter, greedy: bool = False, temperature: float | None = None) -> dict | None:
    """The calibration a drafter applies to sampled requests ({"temperatures", "biases"}, and
    "curvatures" and "online_rate" when it has them; with a temperature, the fit a request sampled
    at it gets, without the whole file), or with greedy=True to greedy ones (its "greedy" section
    when it has one); None when that is the identity (every STS temperature 1, every bias and
    curvature 0, no online rate) or the drafter has no calibration."""
    from .dspark import calibration_in_use
    calib = drafter.calibration() if hasattr(drafter, "calibration") else None
    if calib is None:
        return None
    if greedy and calib.get("greedy"):
        calib = calib["greedy"]
    elif not greedy and temperature is not None:   # the runtime's own rule picks the fit
        calib = calibration_in_use(calib, False, temperature=temperature).to_json()
    sections = [calib] + ([calib["greedy"]] if calib.get("greedy") else [])   # sampled: the whole file
    return None if all(_identity(c) for c in sections) else calib


def _identity(calib: dict) -> bool:
    return (all(t == 1.0 for t in calib["temperatures"]) and all(b == 0.0 for b in calib.get("biases", []))
            and not any(calib.get("curvatures", [])) and not calib.get("online_rate"))


def checkpoint_digest(path: str | Path) -> str:
    """A short digest of a checkpoint directory's weights that fp16 storage leaves unchanged: every
    tensor's name, shape and values, floating-point ones rounded to fp16 first (a shipped drafter is
    its run's fp16 cast, `model_card.py --fp16`). `deepspec eval` writes it next to a drafter's round
    records and `deepspec calibrate` refuses records whose digest is not its drafter's: confidences
    scored against another drafter's calibration measure nothing."""
    state = load_safetensors(Path(path) / "model.safetensors")
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().to("cpu")
        t = (t.to(torch.float16) if t.is_floating_point() else t).contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def tensor_bytes(state: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in state.values())
