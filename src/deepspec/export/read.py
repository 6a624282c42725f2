"""Import: a drafter directory in an engine's layout -> our drafter (`import_drafter`)."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Mapping

import torch

from dspark.errors import DSparkError

from .layouts import EAGLE3_ARCHS, LAYOUTS, head_rows, names
from .validate import VALIDATORS
from .write import check_taps_below_last


def read_layout(src: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """config.json and every *.safetensors tensor of a drafter directory."""
    from dspark.models.loader import load_state_dict
    src = Path(src)
    cfg_file = src / "config.json"
    if not cfg_file.exists():
        raise DSparkError(f"{src} has no config.json")
    try:
        config = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as e:
        raise DSparkError(f"{cfg_file} is not valid JSON: {e}") from None
    return config, load_state_dict(src)


def detect_layout(config: Mapping) -> str:
    if "format_version" in config and "algorithm" in config:
        return "native"
    if config.get("speculators_model_type"):
        return "speculators"
    arch = config.get("architectures") or []
    if "Qwen3DSparkModel" in arch:
        return "deepspec"
    if "DFlashDraftModel" in arch:
        return "dflash"
    if any(a in EAGLE3_ARCHS for a in arch):
        return "eagle3"
    raise DSparkError(f"cannot tell the layout of a config with architectures {arch!r}; pass --from")


def _rope_of(cfg: Mapping) -> tuple[float, str, float]:
    rp = cfg.get("rope_parameters") or {}
    rs = cfg.get("rope_scaling") or {}
    theta = float(rp.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    kind = rp.get("rope_type") or rs.get("rope_type") or rs.get("type") or "default"
    factor = float(rp.get("factor", rs.get("factor", 1.0)))
    return theta, kind, factor


def _fit_target(where: str, cfg: Mapping, tcfg, fields: dict[str, str], num_target_layers=None) -> None:
    """Refuse a checkpoint whose dimensions differ from the target's, naming the first mismatch."""
    for key, attr in fields.items():
        have, want = cfg.get(key), getattr(tcfg, attr)
        if key == "head_dim" and have is None:
            have = cfg["hidden_size"] // cfg["num_attention_heads"]
        if key == "rms_norm_eps":
            if not math.isclose(float(have), want, rel_tol=1e-6):
                raise DSparkError(f"{where} has rms_norm_eps {have}, the target {want}")
            continue
        if have != want:
            raise DSparkError(f"{where} does not fit this target: {key} is {have} in the checkpoint, "
                              f"{want} in the target")
    if num_target_layers is not None and num_target_layers != tcfg.num_layers:
        raise DSparkError(f"{where} was made for a {num_target_layers}-layer target; this target has "
                          f"{tcfg.num_layers} layers")
    theta, kind, factor = _rope_of(cfg)
    r = tcfg.rope
    if not math.isclose(theta, r.theta, rel_tol=1e-9) or kind != r.scaling or (
            kind == "linear" and not math.isclose(factor, r.factor)):
        raise DSparkError(f"{where} uses rope ({theta:g}, {kind}, {factor:g}); our drafter uses the target's "
                          f"({r.theta:g}, {r.scaling}, {r.factor:g})")


_BLOCK_FIELDS = {"hidden_size": "hidden_size", "vocab_size": "vocab_size",
                 "num_attention_heads": "num_heads", "num_key_value_heads": "num_kv_heads",
                 "head_dim": "head_dim", "rms_norm_eps": "rms_norm_eps"}


def _our_taps(ids: list[int], where: str, shift: int, num_layers: int) -> list[int]:
    taps = [i - shift for i in ids]
    if any(t < 0 for t in taps):
        raise DSparkError(f"{where} taps the embedding output (layer id {ids}); our drafters read decoder "
                          f"layer outputs only")
    if max(taps) >= num_layers:
        raise DSparkError(f"{where} taps layers {taps} (ids {ids}); the target has {num_layers} layers")
    check_taps_below_last(taps, num_layers, where)
    return taps


def _same_or_refuse(name: str, have: torch.Tensor, want: torch.Tensor, approximate: bool, what: str) -> None:
    want = want.detach().to("cpu", have.dtype)
    if have.shape == want.shape and torch.equal(have, want):
        return
    diff = (have.float() - want.float()).abs().max().item() if have.shape == want.shape else float("nan")
    msg = (f"{name} in the checkpoint differs from the target's {what} (max |diff| {diff:.3g}); our drafters "
           f"share the target's {what}, so the import would not reproduce this checkpoint")
    if not approximate:
        raise DSparkError(msg + " (pass --approximate to import anyway)")
    warnings.warn(msg + "; importing anyway (--approximate)", stacklevel=3)


def _table_row(target_model, token: int) -> torch.Tensor:
    """The target's embedding-table row of `token`, unscaled: what engines embed a mask token as."""
    return target_model.model.embed_tokens.weight[token].detach().to("cpu")


def _mask_from(layout_mask_id: int, row: torch.Tensor, target_model, mask: str):
    """(mask_token_id for our config, mask_embedding vector or None)."""
    if mask not in ("learned", "token"):
        raise DSparkError(f"mask must be 'learned' or 'token', got {mask!r}")
    if mask == "token":
        own = _table_row(target_model, layout_mask_id)
        if not torch.equal(row.to("cpu", own.dtype), own.detach().to("cpu")):
            raise DSparkError(f"the checkpoint's mask vector (row {layout_mask_id} of its embed_tokens) is not "
                              f"the target's embedding of token {layout_mask_id}; import with --mask learned")
        return layout_mask_id, None
    return -1, row


def _import_block(kind: str, config: Mapping, tensors: dict, target_model, *, where: str, taps: list[int],
                  mask_id: int, mask_row: torch.Tensor, n_layers: int, inter: int, block_size: int,
                  draft_vocab: int, mask: str, heads_cfg: dict | None):
    from dspark.drafters.dflash import DFlashConfig, DFlashDrafter
    from dspark.drafters.dspark import DSparkConfig, DSparkDrafter
    tcfg = target_model.cfg
    if tcfg.final_logit_softcap:
        raise DSparkError(f"{where}: engines apply the draft head without this target's logit soft-cap; "
                          f"our drafter would apply it")
    our_mask, vec = _mask_from(mask_id, mask_row, target_model, mask)
    common = dict(block_size=block_size, num_layers=n_layers, tap_layers=taps,
                  draft_vocab_size=0 if draft_vocab == tcfg.vocab_size else draft_vocab,
                  intermediate_size=0 if inter == tcfg.intermediate_size else inter,
                  mask_token_id=our_mask, layer_form="engine")
    if kind == "dflash":
        cls, cfg = DFlashDrafter, DFlashConfig(**common)
    else:
        cls, cfg = DSparkDrafter, DSparkConfig(**common, **heads_cfg)
    drafter = cls.build(cfg, target_model)
    own = set(drafter.state_dict())
    state = {k: v for k, v in tensors.items() if k in own}
    if vec is not None:
        state["mask_embedding"] = vec
    _load_state(drafter, state, where)
    return drafter


def _load_state(drafter, state: dict, where: str) -> None:
    own = drafter.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise DSparkError(f"{where} does not map onto a {drafter.algorithm} drafter: missing "
                          f"{names(missing)}, unexpected {names(unexpected)}")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise DSparkError(f"{where}: {k} has shape {list(state[k].shape)}, the drafter {list(v.shape)}")
    if getattr(drafter, "d2t", None) is not None:
        drafter.set_draft_vocab(state["d2t"].long(), state["t2d"].bool())   # checks the mapping
    with torch.no_grad():
        drafter.load_state_dict(state)
    drafter.eval()


def _import_deepspec(config, tensors, target_model, *, mask, approximate, block_size=None, where="deepspec"):
    tcfg = target_model.cfg
    _fit_target(where, config, tcfg, _BLOCK_FIELDS, config["num_target_layers"])
    taps = _our_taps(config["target_layer_ids"], where, 0, tcfg.num_layers)
    m = config["mask_token_id"]
    embed = tensors["embed_tokens.weight"]
    target_embed = target_model.model.embed_tokens.weight.detach().to("cpu", embed.dtype)
    rows = (embed != target_embed).any(-1)
    rows[m] = False                        # the mask row may hold a learned vector
    if rows.any():
        _same_or_refuse(f"embed_tokens.weight ({int(rows.sum())} rows other than mask_token_id {m})",
                        embed[rows], target_embed[rows], approximate, "embedding")
    dv = config.get("draft_vocab_size") or tcfg.vocab_size
    w1, w2 = tensors["markov_head.markov_w1.weight"], tensors["markov_head.markov_w2.weight"]
    if (not config["enable_confidence_head"] and config["markov_head_type"] == "vanilla"
            and not w1.any() and not w2.any()):
        kind, heads = "dflash", None      # our DFlash export: a zero Markov head is no head at all
    else:
        kind = "dspark"
        heads = {"markov_rank": config["markov_rank"], "markov_head_type": config["markov_head_type"],
                 "enable_confidence_head": config["enable_confidence_head"],
                 "confidence_head_with_markov": bool(config.get("confidence_head_with_markov", True))}
    drafter = _import_block(kind, config, tensors, target_model, where=where, taps=taps, mask_id=m,
                            mask_row=embed[m], n_layers=config["num_hidden_layers"],
                            inter=config["intermediate_size"], block_size=block_size or config["block_size"],
                            draft_vocab=dv, mask=mask, heads_cfg=heads)
    _same_or_refuse("lm_head.weight", tensors["lm_head.weight"], head_rows(drafter), approximate, "LM head")
    return drafter


def _refuse_anchor_conditioned(where: str, sample_from_anchor: bool) -> None:
    if not sample_from_anchor:
        raise DSparkError(
            f"{where} is anchor-conditioned (sample_from_anchor false: slot j predicts anchor + j, the "
            f"anchor slot's output is discarded). Our DFlash/DSpark drafters sample from the anchor (slot k "
            f"predicts anchor + k + 1); loading these weights as ours would shift every prediction by one "
            f"and collapse acceptance. Not importable until dflash.py supports the anchor-conditioned readout")


def _import_dflash(config, tensors, target_model, *, mask, approximate, block_size=None, where="dflash"):
    tcfg = target_model.cfg
    dc = config["dflash_config"]
    _refuse_anchor_conditioned(where, bool(dc.get("sample_from_anchor", config.get("sample_from_anchor", False))))
    _fit_target(where, config, tcfg, _BLOCK_FIELDS, config["num_target_layers"])
    taps = _our_taps(dc["target_layer_ids"], where, 0, tcfg.num_layers)
    m = dc["mask_token_id"]
    row = _table_row(target_model, m)
    dv = config.get("draft_vocab_size") or tcfg.vocab_size
    drafter = _import_block("dflash", config, tensors, target_model, where=where, taps=taps, mask_id=m,
                            mask_row=row, n_layers=config["num_hidden_layers"], inter=config["intermediate_size"],
                            block_size=block_size or config["block_size"], draft_vocab=dv, mask=mask,
                            heads_cfg=None)
    if "lm_head.weight" in tensors:
        _same_or_refuse("lm_head.weight", tensors["lm_head.weight"], head_rows(drafter), approximate, "LM head")
    return drafter


def _import_speculators(config, tensors, target_model, *, mask, approximate, block_size=None,
                        where="speculators"):
    tcfg = target_model.cfg
    kind = config["speculators_model_type"]
    _refuse_anchor_conditioned(where, bool(config.get("sample_from_anchor", kind == "dspark")))
    tlc = config["transformer_layer_config"]
    _fit_target(where, tlc, tcfg, _BLOCK_FIELDS)
    if config.get("target_hidden_size", tcfg.hidden_size) != tcfg.hidden_size:
        raise DSparkError(f"{where} has target_hidden_size {config['target_hidden_size']}, the target "
                          f"{tcfg.hidden_size}")
    taps = _our_taps(config["aux_hidden_state_layer_ids"], where, 1, tcfg.num_layers)
    m = config["mask_token_id"]
    row = _table_row(target_model, m)
    heads = None
    if kind == "dspark":
        if not config["markov_rank"]:
            raise DSparkError(f"{where} has no Markov head (markov_rank 0); our DSpark always has one")
        heads = {"markov_rank": config["markov_rank"], "markov_head_type": config.get("markov_head_type", "vanilla"),
                 "enable_confidence_head": config["enable_confidence_head"],
                 "confidence_head_with_markov": bool(config.get("confidence_head_with_markov", True))}
    drafter = _import_block(kind, config, tensors, target_model, where=where, taps=taps, mask_id=m,
                            mask_row=row, n_layers=tlc["num_hidden_layers"], inter=tlc["intermediate_size"],
                            block_size=block_size or config["block_size"], draft_vocab=config["draft_vocab_size"],
                            mask=mask, heads_cfg=heads)
    if "lm_head.weight" in tensors:
        _same_or_refuse("lm_head.weight", tensors["lm_head.weight"], head_rows(drafter), approximate, "LM head")
    if "embed_tokens.weight" in tensors:
        _same_or_refuse("embed_tokens.weight", tensors["embed_tokens.weight"],
                        target_model.model.embed_tokens.weight, approximate, "embedding")
    return drafter


def _import_eagle3(config, tensors, target_model, *, mask, approximate, block_size=None, where="eagle3"):
    from dspark.drafters.eagle3 import Eagle3Drafter
    tcfg = target_model.cfg
    if tcfg.embed_scale != 1.0 or tcfg.final_logit_softcap:
        raise DSparkError(f"{where}: our Eagle3 on this target applies Gemma's embedding scale / soft-cap, "
                          f"which EAGLE-3 engines do not; a Llama or Qwen3 target works")
    for key, attr in (("hidden_size", "hidden_size"), ("vocab_size", "vocab_size")):
        if config[key] != getattr(tcfg, attr):
            raise DSparkError(f"{where} does not fit this target: {key} is {config[key]} in the checkpoint, "
                              f"{getattr(tcfg, attr)} in the target")
    if config.get("target_hidden_size", tcfg.hidden_size) != tcfg.hidden_size:
        raise DSparkError(f"{where} has target_hidden_size {config['target_hidden_size']}, the target "
                          f"{tcfg.hidden_size}")
    if not math.isclose(float(config["rms_norm_eps"]), tcfg.rms_norm_eps, rel_tol=1e-6):
        raise DSparkError(f"{where} has rms_norm_eps {config['rms_norm_eps']}, the target {tcfg.rms_norm_eps} "
                          f"(our Eagle3 layer uses the target's)")
    theta, kind, factor = _rope_of(config)
    if kind != tcfg.rope.scaling or (kind == "linear" and not math.isclose(factor, tcfg.rope.factor)):
        raise DSparkError(f"{where} uses rope scaling {kind} x{factor:g}; our Eagle3 uses the target's "
                          f"({tcfg.rope.scaling} x{tcfg.rope.factor:g})")
    ec = config.get("eagle_config") or {}
    if ec.get("eagle_aux_hidden_state_layer_ids") is not None:
        taps = _our_taps(ec["eagle_aux_hidden_state_layer_ids"], where, 0, tcfg.num_layers)       # SGLang: output of layer i
    elif config.get("eagle_aux_hidden_state_layer_ids") is not None:
        taps = _our_taps(config["eagle_aux_hidden_state_layer_ids"], where, 1, tcfg.num_layers)   # vLLM: input of layer k
    else:
        taps = None      # the engines' default: inputs of layers (2, L//2, L-3) = our default_eagle3_taps
    hd = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    dv = config["draft_vocab_size"]
    d2t, t2d = tensors["d2t"], tensors["t2d"]
    full = dv == tcfg.vocab_size and not d2t.any()
    cfg = Eagle3Drafter.Config(
        block_size=block_size or Eagle3Drafter.Config.block_size, tap_layers=taps,
        intermediate_size=config["intermediate_size"], num_heads=config["num_attention_heads"],
        num_kv_heads=config["num_key_value_heads"], head_dim=hd, rope_theta=theta,
        draft_vocab_size=0 if full else dv)
    drafter = Eagle3Drafter.build(cfg, target_model)
    state = {k: v for k, v in tensors.items() if k.startswith("midlayer.") or k in ("fc.weight", "norm.weight")}
    if not full:
        state.update({"d2t": d2t, "t2d": t2d})
    _load_state(drafter, state, where)
    _same_or_refuse("lm_head.weight", tensors["lm_head.weight"], head_rows(drafter), approximate, "LM head")
    if "embed_tokens.weight" in tensors:
        _same_or_refuse("embed_tokens.weight", tensors["embed_tokens.weight"],
                        target_model.model.embed_tokens.weight, approximate, "embedding")
    return drafter


_IMPORTERS = {"deepspec": _import_deepspec, "dflash": _import_dflash,
              "speculators": _import_speculators, "eagle3": _import_eagle3}


def import_drafter(layout: str | None, src: str | Path, target_model, *, mask: str = "learned",
                   approximate: bool = False, block_size: int | None = None, target_name: str = "target"):
    """Read a drafter directory in `layout` (None: detect) for `target_model` (a TargetModel) and
    return our drafter (in eval mode, on the target's device and dtype). The layout is validated
    first; nothing of ours is written. mask: "learned" initializes our mask embedding from the
    layout's mask_token_id row, "token" keeps mask_token_id. block_size overrides the layout's
    (EAGLE-3 has none: gamma is a serving knob there; default 7)."""
    src = Path(src)
    if layout is not None and layout not in LAYOUTS:
        raise DSparkError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if layout == "native":
        from types import SimpleNamespace
        from dspark.drafters.checkpoint import load_drafter
        return load_drafter(src, SimpleNamespace(model=target_model, config=target_model.cfg, name=target_name))
    config, tensors = read_layout(src)
    found = detect_layout(config)
    layout = layout or found
    if found != layout:
        raise DSparkError(f"{src} looks like the {found} layout, not {layout}")
    VALIDATORS[layout](config, tensors)
    drafter = _IMPORTERS[layout](config, tensors, target_model, mask=mask, approximate=approximate,
                                 block_size=block_size, where=f"{src} ({layout})")
    calib = src / "calibration.json"
    if calib.exists() and hasattr(drafter, "load_calibration"):
        drafter.load_calibration(json.loads(calib.read_text()))
    return drafter

