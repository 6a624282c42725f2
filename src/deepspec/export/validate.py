"""Layout validators: the keys, shapes and config fields an engine needs, checked from config.json
and the tensor names / shapes alone (`validate_<layout>(config, tensors)`; tensors: name -> tensor
or shape). Export runs them before writing anything, import before reading anything in."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import torch

from dspark.errors import DSparkError

from .layouts import EAGLE3_ARCHS, MARKOV_HEAD_TYPES, SPECULATORS_ARCHS, names


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
        p.add(f"missing tensors: {names(missing)}")
    if unexpected:
        p.add(f"unexpected tensors (engine loaders reject unknown names): {names(unexpected)}")
    for name in sorted(set(tensors) & set(allowed)):
        have, want = _shape(tensors[name]), tuple(allowed[name])
        if have != want:
            p.add(f"tensor {name} has shape {list(have)}, expected {list(want)}")
    for name, dt in (dtypes or {}).items():
        t = tensors.get(name)
        if isinstance(t, torch.Tensor) and t.dtype != dt:
            p.add(f"tensor {name} must be {str(dt).replace('torch.', '')}, got {str(t.dtype).replace('torch.', '')}")


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

