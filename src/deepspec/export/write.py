"""Export: our drafters in the layouts engines load (`build_layout`, `export_drafter`)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch

from dspark.drafters.checkpoint import calibration_of
from dspark.errors import DSparkError
from dspark.files import atomic_path, save_safetensors

from .layouts import (DEEPSPEC_NUM_ANCHORS, DTYPE_NAMES, DTYPES, HF_ARCHS, LAYOUTS, MTP_WHY,
                      OUR_SAMPLE_FROM_ANCHOR, SPECULATORS_ARCHS, SUPPORTED, WHY_NOT, head_rows)
from .validate import VALIDATORS


def hf_config_from_model_config(cfg) -> dict[str, Any]:
    """A Hugging Face config.json dict for a Llama / Qwen3 ModelConfig (what ModelConfig.from_hf
    reads back). Used when the target's own config.json is not at hand (e.g. in-memory targets)."""
    if cfg.arch not in ("llama", "qwen3"):
        raise DSparkError(f"cannot write a Hugging Face config for a {cfg.arch} target")
    model_type, arch = cfg.arch, HF_ARCHS[cfg.arch]
    rope = {"rope_type": cfg.rope.scaling, "rope_theta": cfg.rope.theta}
    if cfg.rope.scaling == "linear":
        rope["factor"] = cfg.rope.factor
    eos = list(cfg.eos_token_ids)
    return {
        "architectures": [arch], "model_type": model_type, "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size, "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers, "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads, "head_dim": cfg.head_dim,
        "hidden_act": {"silu": "silu", "gelu_tanh": "gelu_pytorch_tanh"}[cfg.hidden_act],
        "rms_norm_eps": cfg.rms_norm_eps, "max_position_embeddings": cfg.max_position_embeddings,
        "attention_bias": cfg.attention_bias, "tie_word_embeddings": cfg.tie_word_embeddings,
        "rope_theta": cfg.rope.theta, "rope_parameters": rope,
        "bos_token_id": cfg.bos_token_id,
        "eos_token_id": (eos[0] if len(eos) == 1 else eos) if eos else None,
        "pad_token_id": cfg.pad_token_id,
    }


def check_engine_form(drafter, what: str, target_name: str = "<target>") -> None:
    """Block-drafter layouts hold the engines' Qwen3-form draft layer (dflash.py, "Layer form")."""
    if drafter.config.layer_form != "engine":
        raise DSparkError(
            f"{what}: this drafter's draft layers are in the legacy \"target\" form (shaped like its "
            f"{drafter.target_cfg.arch} target's layers: {_legacy_differences(drafter.target_cfg)}), "
            f"but every engine runs DFlash / DSpark drafts with Qwen3-form layers, so its weights have no "
            f"exact place in the layout. Retrain it in the engine form (layer_form = \"engine\", the default "
            f"for new drafters): deepspec train --config configs/{drafter.algorithm}-{target_name}.toml")
    if drafter.target_cfg.final_logit_softcap:
        raise DSparkError(f"{what}: engines apply the draft LM head without this target's logit soft-cap "
                          f"({drafter.target_cfg.final_logit_softcap:g}), so the drafts would differ")


def _legacy_differences(tcfg) -> str:
    bad = []
    if not tcfg.qk_norm:
        bad.append("no q/k norm")
    if tcfg.sandwich_norm or tcfg.norm_offset:
        bad.append("sandwich / (1 + w) norms")
    if tcfg.embed_scale != 1.0:
        bad.append(f"embedding scaled by {tcfg.embed_scale:g}")
    if tcfg.hidden_act != "silu":
        bad.append(f"{tcfg.hidden_act} MLP")
    if tcfg.attention_bias:
        bad.append("attention biases")
    return ", ".join(bad) or "the same as the engine form, but not marked so"


def check_taps_below_last(taps: list[int], num_layers: int, what: str) -> None:
    """Engines cannot feed a tap of the target's last layer as we read it: HF's
    output_hidden_states[L] (DeepSpec, speculators' --include-last-layer) is that layer's output
    AFTER the final norm, and vLLM collects aux states inside the layer loop only."""
    if num_layers - 1 in taps:
        raise DSparkError(
            f"{what}: tap layer {num_layers - 1} is the target's last layer; engines hand the draft that "
            f"layer's output after the target's final norm (HF output_hidden_states[{num_layers}]) or "
            f"nothing at all, while this drafter was trained on it before the norm. Retrain with taps "
            f"below the last layer (the default spread ends at layer n-3)")


def draft_layer_config(target_config: Mapping | None, tcfg, n: int, inter: int) -> dict[str, Any]:
    """config.json fields of the draft layers, as the Qwen3 config engines build them from: the
    target's dimensions, vocabulary, eps, rotary and special tokens; model_type qwen3 whatever the
    target family (the draft IS a Qwen3-form stack). The target's own config.json, when given, is
    only checked against the target model."""
    if target_config:
        _check_target_config(target_config, tcfg)
    rope = {"rope_type": tcfg.rope.scaling, "rope_theta": tcfg.rope.theta}
    if tcfg.rope.scaling == "linear":
        rope["factor"] = tcfg.rope.factor
    eos = list(tcfg.eos_token_ids)
    return {
        "model_type": "qwen3", "vocab_size": tcfg.vocab_size, "hidden_size": tcfg.hidden_size,
        "intermediate_size": inter, "num_hidden_layers": n, "num_attention_heads": tcfg.num_heads,
        "num_key_value_heads": tcfg.num_kv_heads, "head_dim": tcfg.head_dim, "hidden_act": "silu",
        "rms_norm_eps": tcfg.rms_norm_eps, "max_position_embeddings": tcfg.max_position_embeddings,
        "attention_bias": False, "attention_dropout": 0.0, "rope_theta": tcfg.rope.theta,
        "rope_scaling": None if tcfg.rope.scaling == "default" else dict(rope), "rope_parameters": rope,
        "layer_types": ["full_attention"] * n, "use_sliding_window": False, "sliding_window": None,
        "max_window_layers": n, "tie_word_embeddings": False, "initializer_range": 0.02,
        "bos_token_id": tcfg.bos_token_id, "eos_token_id": (eos[0] if len(eos) == 1 else eos) if eos else None,
        "pad_token_id": tcfg.pad_token_id,
    }


def _check_target_config(target_config: Mapping, tcfg) -> None:
    base = dict(target_config)
    if isinstance(base.get("text_config"), Mapping):
        base = {**base, **base["text_config"]}
    from dspark.models.config import ModelConfig
    try:
        parsed = ModelConfig.from_hf(base)
    except (ValueError, KeyError, TypeError) as e:
        raise DSparkError(f"cannot read the target's config: {e}") from None
    for key in ("vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads", "head_dim"):
        if getattr(parsed, key) != getattr(tcfg, key):
            raise DSparkError(f"the target config given for export has {key}={getattr(parsed, key)}, "
                              f"the target model {getattr(tcfg, key)}")


def _sorted_taps(taps: list[int], fc_w: torch.Tensor, width: int) -> tuple[list[int], torch.Tensor]:
    """Taps in increasing layer order and fc.weight with its column blocks permuted to match."""
    order = sorted(range(len(taps)), key=lambda i: taps[i])
    fc = torch.cat([fc_w[:, i * width:(i + 1) * width] for i in order], dim=1)
    return [int(taps[i]) for i in order], fc


def _resolve_mask(drafter, layout: str, requested: int | None) -> tuple[int, torch.Tensor | None]:
    """(mask_token_id to write, vector to write into that embed_tokens row or None)."""
    vocab = drafter.target_cfg.vocab_size
    if requested is not None and not 0 <= requested < vocab:
        raise DSparkError(f"--mask-token-id {requested} is outside the target vocabulary of {vocab}")
    trained = drafter.config.mask_token_id
    if trained >= 0:
        if requested is not None and requested != trained:
            raise DSparkError(f"this drafter was trained with mask_token_id {trained}; writing "
                              f"{requested} would change its block inputs (omit --mask-token-id)")
        return trained, None
    vec = drafter.mask_embedding.detach()
    table = drafter.target_model.model.embed_tokens.weight.detach()
    same = (table.to(vec.dtype) == vec).all(-1).nonzero().flatten().tolist()
    if requested is not None and requested in same:
        return requested, None
    if requested is None and same:
        return int(same[0]), None
    if layout != "deepspec":
        raise DSparkError(
            f"this {drafter.algorithm} drafter uses a learned mask embedding (mask_token_id -1), but the "
            f"{layout} layout names the mask by mask_token_id and engines embed it with the target's "
            f"table, so the vector has no place there. Train with mask_token_id = N (a reserved token "
            f"the target never emits), or use --to deepspec --mask-token-id N, which writes it into "
            f"row N of the exported embed_tokens")
    if requested is None:
        raise DSparkError(
            "this drafter uses a learned mask embedding (mask_token_id -1); pass --mask-token-id N to "
            "write it into row N of the exported embed_tokens. Pick a token that never occurs in text "
            "(a reserved special token, or a padding row past the tokenizer's size): an anchor equal "
            "to N would be embedded as the mask. Engines that embed with the target's own table "
            "(SGLang's DSpark loader skips embed_tokens) will not see the learned vector")
    return requested, vec


def _block_common(drafter, layout: str, mask_token_id: int | None, target_name: str = "<target>"):
    """Shared part of the DFlash / DSpark layouts: (taps, mask_id, mask_row, tensors)."""
    what = f"{drafter.algorithm} -> {layout}"
    check_engine_form(drafter, what, target_name)
    check_taps_below_last(list(drafter.tap_layers), drafter.target_cfg.num_layers, what)
    h = drafter.target_cfg.hidden_size
    sd = drafter.state_dict()
    taps, fc = _sorted_taps(list(drafter.tap_layers), sd["fc.weight"], h)
    tensors = {k: v for k, v in sd.items() if k.startswith("layers.")}
    tensors.update({"fc.weight": fc, "hidden_norm.weight": sd["hidden_norm.weight"],
                    "norm.weight": sd["norm.weight"]})
    mask_id, mask_row = _resolve_mask(drafter, layout, mask_token_id)
    return taps, mask_id, mask_row, tensors


def _draft_inter(drafter) -> int:
    return drafter.config.intermediate_size or drafter.target_cfg.intermediate_size


def _reduced_tensors(drafter) -> dict[str, torch.Tensor]:
    if getattr(drafter, "d2t", None) is None:
        return {}
    return {"lm_head.weight": head_rows(drafter), "d2t": drafter.d2t.detach().clone(),
            "t2d": drafter.t2d.detach().clone()}


def _markov_tensors(drafter) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """DSpark heads, or for DFlash an all-zero rank-1 vanilla Markov head (bias exactly 0)."""
    vocab, vout = drafter.target_cfg.vocab_size, drafter.vocab_out
    if drafter.algorithm == "dflash":
        like = drafter.fc.weight
        t = {"markov_head.markov_w1.weight": like.new_zeros(vocab, 1),
             "markov_head.markov_w2.weight": like.new_zeros(vout, 1)}
        return t, {"markov_rank": 1, "markov_head_type": "vanilla", "enable_confidence_head": False,
                   "confidence_head_with_markov": False}
    sd = drafter.state_dict()
    t = {k: v for k, v in sd.items() if k.startswith(("markov_head.", "confidence_head."))}
    c = drafter.config
    return t, {"markov_rank": c.markov_rank, "markov_head_type": c.markov_head_type,
               "enable_confidence_head": c.enable_confidence_head,
               "confidence_head_with_markov": c.confidence_head_with_markov}


def _build_deepspec(drafter, target_config, target_name, mask_token_id):
    tcfg = drafter.target_cfg
    taps, mask_id, mask_row, tensors = _block_common(drafter, "deepspec", mask_token_id, target_name)
    embed = drafter.target_model.model.embed_tokens.weight.detach().clone()
    if mask_row is not None:
        embed[mask_id] = mask_row.to(embed.dtype)
    tensors["embed_tokens.weight"] = embed
    tensors["lm_head.weight"] = head_rows(drafter)
    heads, head_cfg = _markov_tensors(drafter)
    tensors.update(heads)
    tensors.update({k: v for k, v in _reduced_tensors(drafter).items() if k != "lm_head.weight"})
    config = draft_layer_config(target_config, tcfg, len(drafter.layers), _draft_inter(drafter))
    config.update({"architectures": ["Qwen3DSparkModel"], "block_size": drafter.gamma,
                   "num_target_layers": tcfg.num_layers, "target_layer_ids": taps,
                   "mask_token_id": mask_id, "num_anchors": DEEPSPEC_NUM_ANCHORS, **head_cfg})
    if drafter.d2t is not None:
        config["draft_vocab_size"] = drafter.vocab_out
        _warn_reduced_vocab(drafter, "deepspec", "DeepSpec's reference Qwen3DSparkModel (its lm_head and "
                            "markov_w2 span the whole vocabulary)")
    return config, tensors


def _warn_reduced_vocab(drafter, layout: str, who: str) -> None:
    warnings.warn(
        f"{layout} layout with a reduced draft vocabulary ({drafter.vocab_out} of "
        f"{drafter.target_cfg.vocab_size} tokens): written as draft_vocab_size + d2t / t2d + an "
        f"[{drafter.vocab_out}, H] lm_head, which vLLM's loader reads; {who} cannot load it. "
        f"--to speculators carries a reduced vocabulary natively", stacklevel=3)


def _build_dflash(drafter, target_config, target_name, mask_token_id):
    tcfg = drafter.target_cfg
    taps, mask_id, _, tensors = _block_common(drafter, "dflash", mask_token_id, target_name)
    tensors.update(_reduced_tensors(drafter))
    config = draft_layer_config(target_config, tcfg, len(drafter.layers), _draft_inter(drafter))
    config.update({"architectures": ["DFlashDraftModel"], "block_size": drafter.gamma,
                   "num_target_layers": tcfg.num_layers, "sample_from_anchor": OUR_SAMPLE_FROM_ANCHOR,
                   "dflash_config": {"mask_token_id": mask_id, "target_layer_ids": taps,
                                     "sample_from_anchor": OUR_SAMPLE_FROM_ANCHOR}})
    if drafter.d2t is not None:
        config["draft_vocab_size"] = drafter.vocab_out
        _warn_reduced_vocab(drafter, "dflash", "z-lab's DFlashDraftModel (and speculators' DFlash converter)")
    warnings.warn(
        "dflash layout: this drafter samples from the anchor (slot k predicts anchor + k + 1, "
        f"{drafter.gamma} drafts per block of {drafter.gamma}); the file says sample_from_anchor: true. "
        "Engines that ignore the flag (z-lab's reference, vLLM method 'dflash', SGLang DFLASH) read slot "
        "j as anchor + j and acceptance collapses; prefer --to deepspec (vLLM method 'dspark')",
        stacklevel=3)
    return config, tensors


def _build_speculators(drafter, target_config, target_name, mask_token_id):
    tcfg = drafter.target_cfg
    kind = drafter.algorithm
    taps, mask_id, _, tensors = _block_common(drafter, "speculators", mask_token_id, target_name)
    tensors.update(_reduced_tensors(drafter))
    verifier_arch = (target_config or {}).get("architectures") or [HF_ARCHS[tcfg.arch]]
    layer_cfg = draft_layer_config(target_config, tcfg, len(drafter.layers), _draft_inter(drafter))
    config = {
        "speculators_model_type": kind, "architectures": [SPECULATORS_ARCHS[kind]],
        "transformer_layer_config": layer_cfg, "draft_vocab_size": drafter.vocab_out,
        "block_size": drafter.gamma, "target_hidden_size": tcfg.hidden_size,
        "aux_hidden_state_layer_ids": [t + 1 for t in taps], "mask_token_id": mask_id,
        "sample_from_anchor": OUR_SAMPLE_FROM_ANCHOR,
        "speculators_config": {
            "algorithm": kind,
            "proposal_methods": [{"proposal_type": "greedy", "speculative_tokens": drafter.gamma}],
            "default_proposal_method": "greedy",
            "verifier": {"name_or_path": target_name, "architectures": list(verifier_arch)}},
    }
    if kind == "dspark":
        heads, head_cfg = _markov_tensors(drafter)
        tensors.update(heads)
        config.update(head_cfg)
    return config, tensors


def _build_eagle3(drafter, target_config, target_name, mask_token_id):
    tcfg, lc = drafter.target_cfg, drafter.layer_cfg
    if tcfg.embed_scale != 1.0 or tcfg.final_logit_softcap:
        raise DSparkError("eagle3 -> eagle3: engines embed and apply the LM head without Gemma's "
                          "embedding scale / logit soft-cap, so this target's drafter would not "
                          "reproduce; a Llama or Qwen3 target works")
    if mask_token_id is not None:
        raise DSparkError("--mask-token-id only applies to block drafters (DFlash / DSpark)")
    check_taps_below_last(list(drafter.tap_layers), tcfg.num_layers, "eagle3 -> eagle3")
    h = tcfg.hidden_size
    sd = drafter.state_dict()
    taps, fc = _sorted_taps(list(drafter.tap_layers), sd["fc.weight"], h)
    tensors = {k: v for k, v in sd.items() if k.startswith("midlayer.")}
    tensors.update({"fc.weight": fc, "norm.weight": sd["norm.weight"], "lm_head.weight": head_rows(drafter)})
    if drafter.reduced_vocab:
        tensors.update({"d2t": drafter.d2t.detach().clone(), "t2d": drafter.t2d.detach().clone()})
    else:   # identity mapping: engines expect both tensors present
        tensors.update({"d2t": torch.zeros(tcfg.vocab_size, dtype=torch.long),
                        "t2d": torch.ones(tcfg.vocab_size, dtype=torch.bool)})
    rope = {"rope_type": lc.rope.scaling, "rope_theta": lc.rope.theta}
    if lc.rope.scaling == "linear":
        rope["factor"] = lc.rope.factor
    eos = list(tcfg.eos_token_ids)
    config = {
        "architectures": ["LlamaForCausalLMEagle3"], "model_type": "llama",
        "hidden_size": h, "intermediate_size": lc.intermediate_size,
        "num_attention_heads": lc.num_heads, "num_key_value_heads": lc.num_kv_heads,
        "head_dim": lc.head_dim, "num_hidden_layers": 1, "hidden_act": "silu",
        "rms_norm_eps": lc.rms_norm_eps, "max_position_embeddings": lc.max_position_embeddings,
        "rope_theta": lc.rope.theta,
        "rope_scaling": None if lc.rope.scaling == "default" else {"rope_type": "linear", "factor": lc.rope.factor},
        "rope_parameters": rope, "attention_bias": False,
        "vocab_size": tcfg.vocab_size, "draft_vocab_size": drafter.vocab_out,
        "target_hidden_size": h, "tie_word_embeddings": False, "norm_before_residual": False,
        "bos_token_id": tcfg.bos_token_id, "eos_token_id": (eos[0] if len(eos) == 1 else eos) if eos else None,
        "eagle_config": {"eagle_aux_hidden_state_layer_ids": taps, "use_aux_hidden_state": True},
        "eagle_aux_hidden_state_layer_ids": [t + 1 for t in taps],
    }
    return config, tensors


_BUILDERS = {"deepspec": _build_deepspec, "dflash": _build_dflash,
             "speculators": _build_speculators, "eagle3": _build_eagle3}


def check_supported(algorithm: str, layout: str) -> None:
    if layout not in LAYOUTS:
        raise DSparkError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if algorithm not in SUPPORTED:
        raise DSparkError(f"unknown drafter algorithm {algorithm!r}")
    if layout in SUPPORTED[algorithm]:
        return
    why = MTP_WHY if algorithm == "mtp" else WHY_NOT.get((algorithm, layout), "")
    raise DSparkError(f"a {algorithm} drafter cannot be written as the {layout} layout: {why} "
                      f"(supported for {algorithm}: {', '.join(SUPPORTED[algorithm])})")


def build_layout(drafter, layout: str, *, target_config: Mapping | None = None,
                 target_name: str = "target", mask_token_id: int | None = None,
                 dtype: torch.dtype | str | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config.json dict, tensors) of `drafter` in `layout`, validated; nothing is written.
    target_config: the target's own HF config.json dict (default: generated from its ModelConfig).
    dtype: cast floating tensors (default: keep the drafter's dtype)."""
    check_supported(drafter.algorithm, layout)
    if layout == "native":
        raise DSparkError("the native layout is our checkpoint format: use save_drafter")
    config, tensors = _BUILDERS[layout](drafter, target_config, target_name, mask_token_id)
    dt = DTYPES[dtype] if isinstance(dtype, str) else (dtype or drafter.fc.weight.dtype)
    out = {}
    for k, v in tensors.items():
        v = v.detach().to("cpu")
        out[k] = (v.to(dt) if v.is_floating_point() else v).clone().contiguous()
    name = DTYPE_NAMES.get(dt, str(dt).replace("torch.", ""))
    if layout == "speculators":
        config["transformer_layer_config"]["dtype"] = name
    else:
        config["torch_dtype"] = config["dtype"] = name
    VALIDATORS[layout](config, out)
    return config, out


def _fresh_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DSparkError(f"{out} already exists and is not an empty directory; choose a new --out")


def _write_dir(out: Path, files: dict[str, str], tensors: dict[str, torch.Tensor] | None) -> Path:
    """Write into a temporary sibling directory, then move it into place (nothing half-written)."""
    _fresh_out(out)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        if tensors is not None:
            save_safetensors(tensors, tmp / "model.safetensors", metadata={"format": "pt"})
        for name, text in files.items():
            (tmp / name).write_text(text)
    return out


def write_native(drafter, out: Path, target_name: str) -> Path:
    """Our own checkpoint format (plus the drafter's calibration), moved into place whole."""
    from dspark.drafters.checkpoint import save_drafter
    _fresh_out(out)
    with atomic_path(out) as tmp:
        save_drafter(drafter, tmp, target_name)
        if calib := calibration_of(drafter):
            (tmp / "calibration.json").write_text(json.dumps(calib, indent=2) + "\n")
    return out


def export_drafter(drafter, layout: str, out: str | Path, *, target_config: Mapping | None = None,
                   target_name: str = "target", mask_token_id: int | None = None,
                   dtype: torch.dtype | str | None = None) -> Path:
    """Write `drafter` to the new (or empty) directory `out` in `layout`. The layout is built and
    validated completely before anything is written."""
    out = Path(out)
    check_supported(drafter.algorithm, layout)
    _fresh_out(out)
    if layout == "native":
        return write_native(drafter, out, target_name)
    config, tensors = build_layout(drafter, layout, target_config=target_config, target_name=target_name,
                                   mask_token_id=mask_token_id, dtype=dtype)
    files = {"config.json": json.dumps(config, indent=2) + "\n"}
    if calib := calibration_of(drafter):
        files["calibration.json"] = json.dumps(calib, indent=2) + "\n"
    return _write_dir(out, files, tensors)

