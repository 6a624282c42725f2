"""Drafter interop: write our drafters in the checkpoint layouts serving engines load, and read
those layouts back into our own format (docs/INTEROP.md is the user-facing version).

Layouts (`--to` / `--from`):

    native       our own checkpoint (dspark/drafters/checkpoint.py): every drafter type
    deepspec     DeepSpec release layout, architectures ["Qwen3DSparkModel"]: DSpark, and DFlash
                 written as a DSpark with an all-zero rank-1 Markov head (exactly DFlash)
    dflash       z-lab / SpecForge DFlash layout, architectures ["DFlashDraftModel"]: DFlash
    eagle3       EAGLE-3 layout, architectures ["LlamaForCausalLMEagle3"]: Eagle3
    speculators  vLLM speculators layout, speculators_model_type "dspark" / "dflash"

MTP: DeepSeek-V3-style MTP weights live inside the target's own checkpoint (the extra
`model.layers.<num_layers>.*` module); engines load them from there, so there is no standalone
drafter layout to write. MTP exports to `native` only.

Conventions, each explicit in the written files and tested in tests/test_interop.py:

* Tap ids. Ours, DFlash's / DeepSpec's `target_layer_ids` and SGLang's
  `eagle_config.eagle_aux_hidden_state_layer_ids` mean "output of decoder layer i"
  (= HF output_hidden_states[i + 1]). vLLM's top-level `eagle_aux_hidden_state_layer_ids` and
  speculators' `aux_hidden_state_layer_ids` mean "hidden_states[k]" = input of layer k, i.e.
  our id + 1. Engines concatenate taps in increasing layer order, so export sorts the taps and
  permutes the column blocks of `fc.weight` to match (the same function; fp sums reorder).
* Reduced vocabularies: `d2t` int64 [draft_vocab] offsets (target_id = i + d2t[i]); `t2d` bool
  [vocab] marks the draft vocabulary. `lm_head.weight` is then [draft_vocab, hidden] = the
  target head's rows target_ids(d2t).
* Block slots. Our DFlash/DSpark slot k of a block anchored at a predicts token a + k + 1 (the
  anchor slot predicts). That is `sample_from_anchor: true` in speculators / vLLM / SGLang terms
  (speculators: "slot k predicts token p+k+1"; gamma = block_size drafts) and the DeepSpec
  release convention. DFlash engines (z-lab, vLLM method "dflash", SGLang DFLASH) use
  `sample_from_anchor: false`: the anchor slot only conditions, slot j predicts a + j and a block
  of B gives B - 1 drafts. Our weights map one-to-one onto the DFlash modules; only the readout
  convention differs, so the dflash layout written here carries `sample_from_anchor: true` and a
  warning, and importing a `false` checkpoint is refused (our DFlash cannot express it).
* Mask token. Our drafters use a learned mask vector (mask_token_id -1) or a token's embedding
  (mask_token_id >= 0). The layouts name the mask by `mask_token_id`, embedded with the target's
  table (or, in the deepspec layout, with the exported `embed_tokens`). Export uses the drafter's
  id, or the target row equal to the learned vector; otherwise only the deepspec layout can carry
  it, in row --mask-token-id N of the exported embed_tokens. Import initializes our learned mask
  from that row (`mask="learned"`, default) or keeps the token id (`mask="token"`).
* Embedding / LM head: our drafters share the target's. deepspec writes embed_tokens and lm_head
  (copied from the target); eagle3 writes lm_head; dflash and speculators write lm_head only for a
  reduced vocabulary. Import checks these copies equal the target's (or refuses).

Every layout has `validate_<layout>(config, tensors)`: the keys, shapes and config fields an engine
needs, checked from the config alone; export runs it before writing anything, import before
reading anything in.
"""
from __future__ import annotations

import copy
import json
import math
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from dspark.drafters.checkpoint import calibration_of
from dspark.errors import DSparkError

LAYOUTS = ("native", "deepspec", "dflash", "eagle3", "speculators")

# algorithm -> layouts it can be written to (and read from)
SUPPORTED: dict[str, tuple[str, ...]] = {
    "dspark": ("native", "deepspec", "speculators"),
    "dflash": ("native", "deepspec", "dflash", "speculators"),
    "eagle3": ("native", "eagle3"),
    "mtp": ("native",),
}

WHY_NOT = {
    ("dspark", "dflash"): "the DFlash layout has no Markov or confidence head; use --to deepspec or "
                          "--to speculators",
    ("dspark", "eagle3"): "EAGLE-3 is an autoregressive single-layer drafter, not a block drafter",
    ("dflash", "eagle3"): "EAGLE-3 is an autoregressive single-layer drafter, not a block drafter",
    ("eagle3", "deepspec"): "the DeepSpec layout holds block drafters (DSpark / DFlash)",
    ("eagle3", "dflash"): "the DFlash layout holds block drafters",
    ("eagle3", "speculators"): "the speculators eagle3 layout is not implemented here; --to eagle3 "
                               "is loaded by both vLLM and SGLang",
}
MTP_WHY = ("MTP modules have no standalone drafter layout: DeepSeek-V3-style MTP weights are part of "
           "the target's own checkpoint (the extra model.layers.<num_layers>.* module with enorm, "
           "hnorm, eh_proj, shared_head) and engines load them from there; use --to native")

OUR_SAMPLE_FROM_ANCHOR = True       # slot k predicts anchor + k + 1 (see the module docstring)
DEEPSPEC_NUM_ANCHORS = 512          # training-only field the DeepSpec model asserts is present
MARKOV_HEAD_TYPES = ("vanilla", "gated", "rnn")
EAGLE3_ARCHS = ("LlamaForCausalLMEagle3", "Eagle3LlamaForCausalLM")
SPECULATORS_ARCHS = {"dspark": "DSparkSpeculator", "dflash": "DFlashSpeculator"}

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
           "float64": torch.float64}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}
_HF_FAMILY = {"llama": ("llama", "LlamaForCausalLM"), "qwen3": ("qwen3", "Qwen3ForCausalLM")}
_DROP_FROM_TARGET_CONFIG = ("architectures", "auto_map", "_name_or_path", "quantization_config",
                            "torch_dtype", "dtype", "text_config", "_commit_hash")


# ================================================================================================
# validation (engine view: everything derived from config.json alone)
# ================================================================================================

class _Problems:
    """Collects everything wrong with one layout and raises once, listing it all."""

    def __init__(self, layout: str):
        self.layout = layout
        self.items: list[str] = []

    def add(self, msg: str) -> None:
        self.items.append(msg)

    def raise_if_any(self) -> None:
        if self.items:
            raise DSparkError(f"invalid {self.layout} layout: " + "; ".join(self.items))

    def int(self, cfg: Mapping | None, key: str, minimum: int | None = None, where: str = "",
            required: bool = True) -> int | None:
        if not isinstance(cfg, Mapping) or key not in cfg or cfg[key] is None:
            if required:
                self.add(f"config field {where}{key} is missing")
            return None
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int):
            self.add(f"config field {where}{key} must be an integer, got {v!r}")
            return None
        if minimum is not None and v < minimum:
            self.add(f"config field {where}{key} must be >= {minimum}, got {v}")
            return None
        return v

    def bool(self, cfg: Mapping | None, key: str, where: str = "", required: bool = True) -> bool | None:
        if not isinstance(cfg, Mapping) or key not in cfg:
            if required:
                self.add(f"config field {where}{key} is missing")
            return None
        v = cfg[key]
        if not isinstance(v, bool):
            self.add(f"config field {where}{key} must be true or false, got {v!r}")
            return None
        return v

    def number(self, cfg: Mapping | None, key: str, where: str = "") -> float | None:
        v = cfg.get(key) if isinstance(cfg, Mapping) else None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            self.add(f"config field {where}{key} must be a positive number, got {v!r}")
            return None
        return float(v)

    def layer_ids(self, cfg: Mapping | None, key: str, lo: int, hi: int | None, where: str = "",
                  required: bool = True) -> list[int] | None:
        """A non-empty strictly increasing list of ints in [lo, hi) (hi None: no upper bound)."""
        if not isinstance(cfg, Mapping) or cfg.get(key) is None:
            if required:
                self.add(f"config field {where}{key} is missing")
            return None
        v = cfg[key]
        if (not isinstance(v, list) or not v
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in v)):
            self.add(f"config field {where}{key} must be a non-empty list of layer ids, got {v!r}")
            return None
        if any(b <= a for a, b in zip(v, v[1:])):
            self.add(f"config field {where}{key} must be strictly increasing (engines concatenate taps "
                     f"in layer order), got {v}")
            return None
        if v[0] < lo or (hi is not None and v[-1] >= hi):
            rng = f"[{lo}, {hi})" if hi is not None else f">= {lo}"
            self.add(f"config field {where}{key} = {v} must lie in {rng}")
            return None
        return list(v)


def _shape(v) -> tuple[int, ...]:
    return tuple(int(s) for s in (v.shape if hasattr(v, "shape") else v))


def _check_tensors(p: _Problems, expected: dict[str, tuple[int, ...]], tensors: Mapping[str, Any],
                   optional: dict[str, tuple[int, ...]] | None = None,
                   dtypes: dict[str, torch.dtype] | None = None) -> None:
    optional = optional or {}
    allowed = {**optional, **expected}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(allowed))
    if missing:
        p.add(f"missing tensors: {_names(missing)}")
    if unexpected:
        p.add(f"unexpected tensors (engine loaders reject unknown names): {_names(unexpected)}")
    for name in sorted(set(tensors) & set(allowed)):
        have, want = _shape(tensors[name]), tuple(allowed[name])
        if have != want:
            p.add(f"tensor {name} has shape {list(have)}, expected {list(want)}")
    for name, dt in (dtypes or {}).items():
        t = tensors.get(name)
        if isinstance(t, torch.Tensor) and t.dtype != dt:
            p.add(f"tensor {name} must be {str(dt).replace('torch.', '')}, got {str(t.dtype).replace('torch.', '')}")


def _names(names: list[str], limit: int = 8) -> str:
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _layer_shapes(prefix: str, hidden: int, inter: int, heads: int, kv: int, hd: int,
                  in_dim: int | None = None, qk_norm: bool = True,
                  extra_norms: tuple[str, ...] = ()) -> dict[str, tuple[int, ...]]:
    """One Llama/Qwen3 decoder layer in transformers' names."""
    i = in_dim or hidden
    d = {f"{prefix}self_attn.q_proj.weight": (heads * hd, i),
         f"{prefix}self_attn.k_proj.weight": (kv * hd, i),
         f"{prefix}self_attn.v_proj.weight": (kv * hd, i),
         f"{prefix}self_attn.o_proj.weight": (hidden, heads * hd),
         f"{prefix}mlp.gate_proj.weight": (inter, hidden),
         f"{prefix}mlp.up_proj.weight": (inter, hidden),
         f"{prefix}mlp.down_proj.weight": (hidden, inter),
         f"{prefix}input_layernorm.weight": (hidden,),
         f"{prefix}post_attention_layernorm.weight": (hidden,)}
    if qk_norm:
        d[f"{prefix}self_attn.q_norm.weight"] = (hd,)
        d[f"{prefix}self_attn.k_norm.weight"] = (hd,)
    for n in extra_norms:
        d[f"{prefix}{n}.weight"] = (hidden,)
    return d


def _check_mapping_values(p: _Problems, tensors: Mapping[str, Any], vocab: int) -> None:
    """d2t / t2d semantics when real tensors are at hand: ascending offsets into the vocabulary."""
    d2t, t2d = tensors.get("d2t"), tensors.get("t2d")
    if not (isinstance(d2t, torch.Tensor) and isinstance(t2d, torch.Tensor)):
        return
    if d2t.dtype != torch.long or t2d.dtype != torch.bool:
        return  # reported by the dtype check
    from dspark.drafters import vocab as dvocab
    try:
        dvocab.check_mapping(d2t, t2d, vocab)
    except DSparkError as e:
        p.add(f"d2t/t2d: {e}")


def _qwen3_dims(p: _Problems, cfg: Mapping, where: str = ""):
    h = p.int(cfg, "hidden_size", 1, where)
    inter = p.int(cfg, "intermediate_size", 1, where)
    heads = p.int(cfg, "num_attention_heads", 1, where)
    kv = p.int(cfg, "num_key_value_heads", 1, where)
    hd = p.int(cfg, "head_dim", 1, where, required=False)
    if hd is None and h and heads:
        hd = h // heads
    vocab = p.int(cfg, "vocab_size", 1, where)
    n = p.int(cfg, "num_hidden_layers", 1, where)
    p.number(cfg, "rms_norm_eps", where)
    return h, inter, heads, kv, hd, vocab, n


def _check_block_tensors(p: _Problems, config: Mapping, expected: dict, tensors: Mapping[str, Any],
                         vocab: int | None, h: int | None, optional: dict | None = None) -> None:
    """The common end of the block-drafter validators: reduced-vocabulary tensors, then every
    expected key and shape, then the d2t/t2d values; raises with everything found."""
    extra, dtypes = _vocab_tensors(p, config, vocab, h)
    expected.update(extra)
    _check_tensors(p, expected, tensors, optional=optional, dtypes=dtypes)
    if extra:
        _check_mapping_values(p, tensors, vocab)
    p.raise_if_any()


def _vocab_tensors(p: _Problems, cfg: Mapping, vocab: int | None, hidden: int | None, key="draft_vocab_size"):
    """(expected, dtypes) for a reduced draft vocabulary, if the config declares one."""
    dv = p.int(cfg, key, 1, required=False)
    if dv is None or vocab is None or dv == vocab:
        return {}, {}
    if dv > vocab:
        p.add(f"config field {key} = {dv} exceeds vocab_size {vocab}")
        return {}, {}
    return ({"lm_head.weight": (dv, hidden), "d2t": (dv,), "t2d": (vocab,)},
            {"d2t": torch.long, "t2d": torch.bool})


def validate_dflash(config: Mapping, tensors: Mapping[str, Any]) -> None:
    """z-lab / SpecForge DFlash layout. `tensors`: name -> tensor or shape."""
    p = _Problems("dflash")
    if config.get("architectures") != ["DFlashDraftModel"]:
        p.add(f"architectures must be ['DFlashDraftModel'], got {config.get('architectures')!r}")
    h, inter, heads, kv, hd, vocab, n = _qwen3_dims(p, config)
    n_target = p.int(config, "num_target_layers", 1)
    p.int(config, "block_size", 1)
    dc = config.get("dflash_config")
    taps = None
    if not isinstance(dc, Mapping):
        p.add("config field dflash_config is missing (needs mask_token_id and target_layer_ids)")
    else:
        m = p.int(dc, "mask_token_id", 0, "dflash_config.")
        if m is not None and vocab is not None and m >= vocab:
            p.add(f"dflash_config.mask_token_id {m} is outside the vocabulary of {vocab}")
        taps = p.layer_ids(dc, "target_layer_ids", -1, n_target, "dflash_config.")
        if "sample_from_anchor" in dc and not isinstance(dc["sample_from_anchor"], bool):
            p.add("dflash_config.sample_from_anchor must be true or false")
    if None in (h, inter, heads, kv, hd, n) or taps is None:
        p.raise_if_any()
    expected = {}
    for i in range(n):
        expected.update(_layer_shapes(f"layers.{i}.", h, inter, heads, kv, hd))
    expected.update({"fc.weight": (h, len(taps) * h), "hidden_norm.weight": (h,), "norm.weight": (h,)})
    _check_block_tensors(p, config, expected, tensors, vocab, h)


def validate_deepspec(config: Mapping, tensors: Mapping[str, Any]) -> None:
    """DeepSpec release layout (Qwen3DSparkModel)."""
    p = _Problems("deepspec")
    if config.get("architectures") != ["Qwen3DSparkModel"]:
        p.add(f"architectures must be ['Qwen3DSparkModel'], got {config.get('architectures')!r}")
    h, inter, heads, kv, hd, vocab, n = _qwen3_dims(p, config)
    n_target = p.int(config, "num_target_layers", 1)
    p.int(config, "block_size", 1)
    p.int(config, "num_anchors", 1)
    taps = p.layer_ids(config, "target_layer_ids", -1, n_target)
    m = p.int(config, "mask_token_id", 0)
    if m is not None and vocab is not None and m >= vocab:
        p.add(f"mask_token_id {m} is outside the vocabulary of {vocab}")
    r = p.int(config, "markov_rank", 1)
    kind = config.get("markov_head_type")
    if kind not in MARKOV_HEAD_TYPES:
        p.add(f"config field markov_head_type must be one of {', '.join(MARKOV_HEAD_TYPES)}, got {kind!r}")
    conf = p.bool(config, "enable_confidence_head")
    with_markov = p.bool(config, "confidence_head_with_markov", required=bool(conf))
    if config.get("tie_word_embeddings") is not False:
        p.add("config field tie_word_embeddings must be false (embed_tokens and lm_head are separate tensors)")
    if None in (h, inter, heads, kv, hd, n, vocab, r) or taps is None:
        p.raise_if_any()
    dv = config.get("draft_vocab_size") or vocab
    expected = {}
    for i in range(n):
        expected.update(_layer_shapes(f"layers.{i}.", h, inter, heads, kv, hd))
    expected.update({"fc.weight": (h, len(taps) * h), "hidden_norm.weight": (h,), "norm.weight": (h,),
                     "embed_tokens.weight": (vocab, h), "lm_head.weight": (dv, h),
                     "markov_head.markov_w1.weight": (vocab, r), "markov_head.markov_w2.weight": (dv, r)})
    if kind == "gated":
        expected.update({"markov_head.gate_proj.weight": (r, h + r), "markov_head.gate_proj.bias": (r,)})
    elif kind == "rnn":
        expected.update({"markov_head.joint_proj.weight": (3 * r, 2 * r + h),
                         "markov_head.joint_proj.bias": (3 * r,)})
    if conf:
        expected.update({"confidence_head.proj.weight": (1, h + (r if with_markov else 0)),
                         "confidence_head.proj.bias": (1,)})
    _check_block_tensors(p, config, expected, tensors, vocab, h)


def validate_speculators(config: Mapping, tensors: Mapping[str, Any]) -> None:
    """vLLM speculators layout, speculators_model_type "dspark" or "dflash"."""
    p = _Problems("speculators")
    kind = config.get("speculators_model_type")
    if kind not in SPECULATORS_ARCHS:
        p.add(f"speculators_model_type must be one of {', '.join(SPECULATORS_ARCHS)}, got {kind!r}")
        p.raise_if_any()
    if config.get("architectures") != [SPECULATORS_ARCHS[kind]]:
        p.add(f"architectures must be ['{SPECULATORS_ARCHS[kind]}'], got {config.get('architectures')!r}")
    tlc = config.get("transformer_layer_config")
    if not isinstance(tlc, Mapping):
        p.add("config field transformer_layer_config is missing")
        p.raise_if_any()
    h, inter, heads, kv, hd, vocab, n = _qwen3_dims(p, tlc, "transformer_layer_config.")
    p.int(config, "block_size", 1)
    aux = p.layer_ids(config, "aux_hidden_state_layer_ids", 0, None)
    m = p.int(config, "mask_token_id", 0)
    if m is not None and vocab is not None and m >= vocab:
        p.add(f"mask_token_id {m} is outside the vocabulary of {vocab}")
    dv = p.int(config, "draft_vocab_size", 1)
    th = p.int(config, "target_hidden_size", 1, required=False) or h
    if "sample_from_anchor" in config and not isinstance(config["sample_from_anchor"], bool):
        p.add("config field sample_from_anchor must be true or false")
    sc = config.get("speculators_config")
    if not isinstance(sc, Mapping):
        p.add("config field speculators_config is missing (algorithm, proposal_methods, verifier)")
    else:
        if sc.get("algorithm") != kind:
            p.add(f"speculators_config.algorithm must be {kind!r}, got {sc.get('algorithm')!r}")
        pm = sc.get("proposal_methods")
        if (not isinstance(pm, list) or not pm or not isinstance(pm[0], Mapping)
                or not isinstance(pm[0].get("speculative_tokens"), int)):
            p.add("speculators_config.proposal_methods must list a method with speculative_tokens")
        if not isinstance(sc.get("verifier"), Mapping):
            p.add("speculators_config.verifier is missing")
    r = conf = with_markov = None
    if kind == "dspark":
        r = p.int(config, "markov_rank", 0)
        if r and config.get("markov_head_type") not in MARKOV_HEAD_TYPES:
            p.add(f"config field markov_head_type must be one of {', '.join(MARKOV_HEAD_TYPES)}, "
                  f"got {config.get('markov_head_type')!r}")
        conf = p.bool(config, "enable_confidence_head")
        with_markov = p.bool(config, "confidence_head_with_markov", required=bool(conf))
        if conf and with_markov and not r:
            p.add("confidence_head_with_markov needs markov_rank > 0")
    if None in (h, inter, heads, kv, hd, n, vocab, dv) or aux is None or (kind == "dspark" and r is None):
        p.raise_if_any()
    expected = {}
    for i in range(n):
        expected.update(_layer_shapes(f"layers.{i}.", h, inter, heads, kv, hd))
    expected.update({"fc.weight": (h, len(aux) * th), "hidden_norm.weight": (h,), "norm.weight": (h,)})
    if kind == "dspark" and r:
        expected.update({"markov_head.markov_w1.weight": (vocab, r), "markov_head.markov_w2.weight": (dv, r)})
        if config.get("markov_head_type") == "gated":
            expected.update({"markov_head.gate_proj.weight": (r, h + r), "markov_head.gate_proj.bias": (r,)})
        elif config.get("markov_head_type") == "rnn":
            expected.update({"markov_head.joint_proj.weight": (3 * r, 2 * r + h),
                             "markov_head.joint_proj.bias": (3 * r,)})
    if conf:
        expected.update({"confidence_head.proj.weight": (1, h + (r if with_markov else 0)),
                         "confidence_head.proj.bias": (1,)})
    # full vocabulary: the head and embedding are the verifier's (speculators drops them on save)
    optional = {"embed_tokens.weight": (vocab, h), "lm_head.weight": (dv, h)}
    _check_block_tensors(p, config, expected, tensors, vocab, h, optional)


def validate_eagle3(config: Mapping, tensors: Mapping[str, Any]) -> None:
    """EAGLE-3 layout as SGLang (EAGLE3) and vLLM (method eagle3) load it."""
    p = _Problems("eagle3")
    if config.get("architectures") not in ([a] for a in EAGLE3_ARCHS):
        p.add(f"architectures must be ['LlamaForCausalLMEagle3'], got {config.get('architectures')!r}")
    if config.get("model_type") != "llama":
        p.add(f"model_type must be 'llama', got {config.get('model_type')!r}")
    h, inter, heads, kv, hd, vocab, n = _qwen3_dims(p, config)
    if n is not None and n != 1:
        p.add(f"num_hidden_layers must be 1 for EAGLE-3, got {n}")
    dv = p.int(config, "draft_vocab_size", 1)
    if dv is not None and vocab is not None and dv > vocab:
        p.add(f"draft_vocab_size {dv} exceeds vocab_size {vocab}")
    th = p.int(config, "target_hidden_size", 1, required=False) or h
    if config.get("tie_word_embeddings") is not False:
        p.add("config field tie_word_embeddings must be false")
    n_taps = 3
    sg = vl = None
    ec = config.get("eagle_config")
    if ec is not None:
        if not isinstance(ec, Mapping):
            p.add("eagle_config must be an object")
        else:
            sg = p.layer_ids(ec, "eagle_aux_hidden_state_layer_ids", -1, None, "eagle_config.", required=False)
            if ec.get("use_aux_hidden_state") is False:
                p.add("eagle_config.use_aux_hidden_state must be true (fc reads the aux hidden states)")
    vl = p.layer_ids(config, "eagle_aux_hidden_state_layer_ids", 0, None, required=False)
    if sg is not None and vl is not None and vl != [i + 1 for i in sg]:
        p.add(f"eagle_aux_hidden_state_layer_ids {vl} (vLLM: input of layer k) must be "
              f"eagle_config.eagle_aux_hidden_state_layer_ids {sg} (SGLang: output of layer i) + 1")
    if sg is not None or vl is not None:
        n_taps = len(sg if sg is not None else vl)
    if config.get("norm_before_residual") is True:
        p.add("norm_before_residual true is not the EAGLE-3 layer written here (residual = raw hidden)")
    if None in (h, inter, heads, kv, hd, vocab, dv):
        p.raise_if_any()
    expected = _layer_shapes("midlayer.", h, inter, heads, kv, hd, in_dim=2 * h, qk_norm=False,
                             extra_norms=("hidden_norm",))
    expected.update({"fc.weight": (h, n_taps * th), "norm.weight": (h,), "lm_head.weight": (dv, h),
                     "d2t": (dv,), "t2d": (vocab,)})
    _check_tensors(p, expected, tensors, optional={"embed_tokens.weight": (vocab, h)},
                   dtypes={"d2t": torch.long, "t2d": torch.bool})
    _check_mapping_values(p, tensors, vocab)
    p.raise_if_any()


VALIDATORS: dict[str, Callable[[Mapping, Mapping], None]] = {
    "deepspec": validate_deepspec, "dflash": validate_dflash,
    "eagle3": validate_eagle3, "speculators": validate_speculators,
}


# ================================================================================================
# export
# ================================================================================================

def hf_config_from_model_config(cfg) -> dict[str, Any]:
    """A Hugging Face config.json dict for a Llama / Qwen3 ModelConfig (what ModelConfig.from_hf
    reads back). Used when the target's own config.json is not at hand (e.g. in-memory targets)."""
    if cfg.arch not in _HF_FAMILY:
        raise DSparkError(f"cannot write a Hugging Face config for a {cfg.arch} target")
    model_type, arch = _HF_FAMILY[cfg.arch]
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


def _check_qwen3_style(tcfg, what: str) -> None:
    """DFlash / DSpark layouts are Qwen3 decoder layers (q/k norm, plain pre-norm residual)."""
    bad = []
    if not tcfg.qk_norm:
        bad.append("no q/k norm (the layouts' draft layers always have q_norm/k_norm)")
    if tcfg.sandwich_norm or tcfg.norm_offset:
        bad.append("Gemma-style sandwich / offset norms")
    if tcfg.embed_scale != 1.0:
        bad.append(f"embedding scale {tcfg.embed_scale:g}")
    if tcfg.attention_bias:
        bad.append("attention biases")
    if tcfg.attn_logit_softcap or tcfg.final_logit_softcap:
        bad.append("logit soft-capping")
    if tcfg.hidden_act != "silu":
        bad.append(f"activation {tcfg.hidden_act}")
    if bad:
        raise DSparkError(
            f"{what}: the DFlash/DSpark layouts use Qwen3-style draft layers; our drafter for this "
            f"{tcfg.arch} target has {', '.join(bad)}, so its weights have no place in them "
            f"(a Qwen3 target works; other families need dflash.py to build Qwen3-style draft layers)")


def _base_config(target_config: Mapping | None, tcfg) -> dict[str, Any]:
    """The target's HF config (verbatim when given) checked against the target, minus fields
    that describe the target checkpoint rather than the draft."""
    base = copy.deepcopy(dict(target_config)) if target_config else hf_config_from_model_config(tcfg)
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
    for k in _DROP_FROM_TARGET_CONFIG:
        base.pop(k, None)
    base["head_dim"] = tcfg.head_dim
    return base


def _draft_layers_config(base: dict, n: int, inter: int) -> dict:
    base = dict(base)
    base.update({"num_hidden_layers": n, "intermediate_size": inter,
                 "layer_types": ["full_attention"] * n, "use_sliding_window": False,
                 "tie_word_embeddings": False})
    return base


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


def _head_rows(drafter) -> torch.Tensor:
    """The target LM head's rows of the draft vocabulary ([V', H]; [V, H] for the full one)."""
    from dspark.drafters import vocab as dvocab
    w = drafter.target_model.lm_head.weight.detach()
    if getattr(drafter, "d2t", None) is None:
        return w
    return w.index_select(0, dvocab.target_ids(drafter.d2t).to(w.device))


def _block_common(drafter, layout: str, mask_token_id: int | None):
    """Shared part of the DFlash / DSpark layouts: (taps, mask_id, mask_row, tensors)."""
    _check_qwen3_style(drafter.target_cfg, f"{drafter.algorithm} -> {layout}")
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
    return {"lm_head.weight": _head_rows(drafter), "d2t": drafter.d2t.detach().clone(),
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
    taps, mask_id, mask_row, tensors = _block_common(drafter, "deepspec", mask_token_id)
    embed = drafter.target_model.model.embed_tokens.weight.detach().clone()
    if mask_row is not None:
        embed[mask_id] = mask_row.to(embed.dtype)
    tensors["embed_tokens.weight"] = embed
    tensors["lm_head.weight"] = _head_rows(drafter)
    heads, head_cfg = _markov_tensors(drafter)
    tensors.update(heads)
    tensors.update({k: v for k, v in _reduced_tensors(drafter).items() if k != "lm_head.weight"})
    config = _draft_layers_config(_base_config(target_config, tcfg), len(drafter.layers), _draft_inter(drafter))
    config.update({"architectures": ["Qwen3DSparkModel"], "block_size": drafter.gamma,
                   "num_target_layers": tcfg.num_layers, "target_layer_ids": taps,
                   "mask_token_id": mask_id, "num_anchors": DEEPSPEC_NUM_ANCHORS, **head_cfg})
    if drafter.d2t is not None:
        config["draft_vocab_size"] = drafter.vocab_out
    return config, tensors


def _build_dflash(drafter, target_config, target_name, mask_token_id):
    tcfg = drafter.target_cfg
    taps, mask_id, _, tensors = _block_common(drafter, "dflash", mask_token_id)
    tensors.update(_reduced_tensors(drafter))
    config = _draft_layers_config(_base_config(target_config, tcfg), len(drafter.layers), _draft_inter(drafter))
    config.update({"architectures": ["DFlashDraftModel"], "block_size": drafter.gamma,
                   "num_target_layers": tcfg.num_layers, "sample_from_anchor": OUR_SAMPLE_FROM_ANCHOR,
                   "dflash_config": {"mask_token_id": mask_id, "target_layer_ids": taps,
                                     "sample_from_anchor": OUR_SAMPLE_FROM_ANCHOR}})
    if drafter.d2t is not None:
        config["draft_vocab_size"] = drafter.vocab_out
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
    taps, mask_id, _, tensors = _block_common(drafter, "speculators", mask_token_id)
    tensors.update(_reduced_tensors(drafter))
    base = _base_config(target_config, tcfg)
    verifier_arch = (target_config or {}).get("architectures") or [_HF_FAMILY[tcfg.arch][1]]
    layer_cfg = _draft_layers_config(base, len(drafter.layers), _draft_inter(drafter))
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
    h = tcfg.hidden_size
    sd = drafter.state_dict()
    taps, fc = _sorted_taps(list(drafter.tap_layers), sd["fc.weight"], h)
    tensors = {k: v for k, v in sd.items() if k.startswith("midlayer.")}
    tensors.update({"fc.weight": fc, "norm.weight": sd["norm.weight"], "lm_head.weight": _head_rows(drafter)})
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
    dt = _DTYPES[dtype] if isinstance(dtype, str) else (dtype or drafter.fc.weight.dtype)
    out = {}
    for k, v in tensors.items():
        v = v.detach().to("cpu")
        out[k] = (v.to(dt) if v.is_floating_point() else v).clone().contiguous()
    name = _DTYPE_NAMES.get(dt, str(dt).replace("torch.", ""))
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
    """Write into a sibling temporary directory, then move it into place (nothing half-written)."""
    from safetensors.torch import save_file
    _fresh_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if tensors is not None:
            save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        for name, text in files.items():
            (tmp / name).write_text(text)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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
        from dspark.drafters.checkpoint import save_drafter
        tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            save_drafter(drafter, tmp, target_name)
            if calib := calibration_of(drafter):
                (tmp / "calibration.json").write_text(json.dumps(calib, indent=2) + "\n")
            if out.exists():
                out.rmdir()
            tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out
    config, tensors = build_layout(drafter, layout, target_config=target_config, target_name=target_name,
                                   mask_token_id=mask_token_id, dtype=dtype)
    files = {"config.json": json.dumps(config, indent=2) + "\n"}
    if calib := calibration_of(drafter):
        files["calibration.json"] = json.dumps(calib, indent=2) + "\n"
    return _write_dir(out, files, tensors)


# ================================================================================================
# import
# ================================================================================================

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


def _our_taps(ids: list[int], where: str, shift: int) -> list[int]:
    taps = [i - shift for i in ids]
    if any(t < 0 for t in taps):
        raise DSparkError(f"{where} taps the embedding output (layer id {ids}); our drafters read decoder "
                          f"layer outputs only")
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


def _mask_from(layout_mask_id: int, row: torch.Tensor, target_model, mask: str):
    """(mask_token_id for our config, mask_embedding vector or None)."""
    if mask not in ("learned", "token"):
        raise DSparkError(f"mask must be 'learned' or 'token', got {mask!r}")
    if mask == "token":
        own = target_model.model.embed(torch.tensor([layout_mask_id], device=target_model.device))[0]
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
    _check_qwen3_style(tcfg, f"{where} -> {kind}")
    our_mask, vec = _mask_from(mask_id, mask_row, target_model, mask)
    common = dict(block_size=block_size, num_layers=n_layers, tap_layers=taps,
                  draft_vocab_size=0 if draft_vocab == tcfg.vocab_size else draft_vocab,
                  intermediate_size=0 if inter == tcfg.intermediate_size else inter,
                  mask_token_id=our_mask)
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
                          f"{_names(missing)}, unexpected {_names(unexpected)}")
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
    taps = _our_taps(config["target_layer_ids"], where, 0)
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
    _same_or_refuse("lm_head.weight", tensors["lm_head.weight"], _head_rows(drafter), approximate, "LM head")
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
    taps = _our_taps(dc["target_layer_ids"], where, 0)
    m = dc["mask_token_id"]
    row = target_model.model.embed(torch.tensor([m], device=target_model.device))[0].detach().to("cpu")
    dv = config.get("draft_vocab_size") or tcfg.vocab_size
    drafter = _import_block("dflash", config, tensors, target_model, where=where, taps=taps, mask_id=m,
                            mask_row=row, n_layers=config["num_hidden_layers"], inter=config["intermediate_size"],
                            block_size=block_size or config["block_size"], draft_vocab=dv, mask=mask,
                            heads_cfg=None)
    if "lm_head.weight" in tensors:
        _same_or_refuse("lm_head.weight", tensors["lm_head.weight"], _head_rows(drafter), approximate, "LM head")
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
    taps = _our_taps(config["aux_hidden_state_layer_ids"], where, 1)
    if max(taps) >= tcfg.num_layers:
        raise DSparkError(f"{where} taps layers {taps} (aux ids {config['aux_hidden_state_layer_ids']} - 1); "
                          f"the target has {tcfg.num_layers} layers")
    m = config["mask_token_id"]
    row = target_model.model.embed(torch.tensor([m], device=target_model.device))[0].detach().to("cpu")
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
        _same_or_refuse("lm_head.weight", tensors["lm_head.weight"], _head_rows(drafter), approximate, "LM head")
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
        taps = _our_taps(ec["eagle_aux_hidden_state_layer_ids"], where, 0)       # SGLang: output of layer i
    elif config.get("eagle_aux_hidden_state_layer_ids") is not None:
        taps = _our_taps(config["eagle_aux_hidden_state_layer_ids"], where, 1)   # vLLM: input of layer k
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
    _same_or_refuse("lm_head.weight", tensors["lm_head.weight"], _head_rows(drafter), approximate, "LM head")
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


# ================================================================================================
# CLI: deepspec export / deepspec import
# ================================================================================================

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
    p.add_argument("--dtype", default=None, choices=sorted(_DTYPES),
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
    dtype = _DTYPES[args.dtype] if args.dtype else _saved_dtype(path)
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
    from dspark.drafters.checkpoint import save_drafter
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
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        save_drafter(drafter, tmp, target.name)
        if calib := calibration_of(drafter):
            (tmp / "calibration.json").write_text(json.dumps(calib, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"imported the {args.source_layout} layout from {args.src} as our {drafter.algorithm} drafter in {out}")
    return 0


__all__ = ["LAYOUTS", "SUPPORTED", "VALIDATORS", "validate_deepspec", "validate_dflash", "validate_eagle3",
           "validate_speculators", "build_layout", "export_drafter", "import_drafter", "read_layout",
           "detect_layout", "hf_config_from_model_config", "check_supported",
           "add_export_arguments", "run_export", "add_import_arguments", "run_import"]
