"""Drafter interop (deepspec export / import): round trips reproduce the drafter exactly, the
written layouts match docs/INTEROP.md (names, shapes, config fields, tap-id shift, d2t/t2d,
slot convention, mask token), and malformed layouts fail validation before anything is written.
Tiny random targets and drafters, CPU, a few seconds."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from deepspec.export import formats as F
from dspark.batch import FlatBatch
from dspark.drafters import vocab as dvocab
from dspark.drafters.checkpoint import load_drafter, save_drafter
from dspark.drafters.dflash import DFlashConfig, DFlashDrafter
from dspark.drafters.dspark import DSparkConfig, DSparkDrafter
from dspark.drafters.eagle3 import Eagle3Drafter
from dspark.drafters.mtp import MTPDrafter
from dspark.errors import DSparkError
from dspark.models.config import ModelConfig
from dspark.models.decoder import TargetModel
from dspark.models.loader import Target
from dspark.sampling import SamplingParams
from dspark.sequence import Sequence

V, H, L = 300, 64, 4
T_LEN = 24
GREEDY = SamplingParams()
SAMPLED = SamplingParams(temperature=0.8, top_p=0.9, seed=11)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --- tiny targets and drafters ------------------------------------------------------------------

def make_target(arch: str = "qwen3", tie: bool = False, seed: int = 0) -> TargetModel:
    gemma = {}
    if arch == "gemma3":   # sandwich / offset norms, scaled embedding, GELU, sliding layers, two rotaries
        from dspark.models.config import RopeConfig
        gemma = dict(sandwich_norm=True, norm_offset=True, embed_scale=H ** 0.5, hidden_act="gelu_tanh",
                     attn_scale=16 ** -0.5, sliding_window=6, layer_types=["sliding", "sliding", "sliding", "full"],
                     rope=RopeConfig(1e6), rope_local=RopeConfig(1e4), rms_norm_eps=1e-6)
    cfg = ModelConfig(arch=arch, vocab_size=V, hidden_size=H, intermediate_size=128, num_layers=L,
                      num_heads=4, num_kv_heads=2, head_dim=16, eos_token_ids=[2],
                      qk_norm=arch != "llama", tie_word_embeddings=tie, **gemma)
    torch.manual_seed(seed)
    tm = TargetModel(cfg)
    with torch.no_grad():
        for name, p in tm.named_parameters():
            if "norm" not in name:
                p.normal_(0, 0.3)
    return tm.eval()


def randomize(d, seed: int = 1):
    """Every weight random (norm scales in [0.25, 0.75]) so a mixed-up tensor shows in the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in d.named_parameters():
            if "norm" in name:
                p.copy_(0.25 + 0.5 * torch.rand(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return d.eval()


def block_drafter(kind: str, tgt, *, vocab: int = 0, **kw):
    """kind: dflash | dspark | dspark-gated | dspark-rnn."""
    if kind == "dflash":
        d = DFlashDrafter.build(DFlashConfig(block_size=5, num_layers=2, draft_vocab_size=vocab, **kw), tgt)
    else:
        head = kind.split("-")[1] if "-" in kind else "vanilla"
        d = DSparkDrafter.build(DSparkConfig(block_size=5, num_layers=2, markov_rank=8, markov_head_type=head,
                                             draft_vocab_size=vocab, **kw), tgt)
    randomize(d)
    if vocab:
        d.set_draft_vocab(*dvocab.build_vocab_mapping(torch.arange(V) % 17, vocab, always_include=[2]))
    return d


def eagle_drafter(tgt, *, vocab: int = 0, **kw):
    d = randomize(Eagle3Drafter.build(Eagle3Drafter.Config(block_size=4, draft_vocab_size=vocab, **kw), tgt))
    if vocab:
        d.set_draft_vocab(*dvocab.build_vocab_mapping(torch.arange(V) % 13, vocab, always_include=[2]))
    return d


def target_taps(tgt, tokens, taps):
    cache = tgt.new_cache(1, len(tokens) + 8)
    cache.allocate()
    out = tgt.forward(FlatBatch.build([(0, 0, list(tokens))], "cpu"), cache, taps=taps)
    return torch.cat(out.taps, -1), out.hidden


def tokens_for(seed: int = 3) -> list[int]:
    return torch.randint(0, V, (T_LEN,), generator=torch.Generator().manual_seed(seed)).tolist()


def block_outputs(d, tgt) -> list[torch.Tensor | list]:
    """Training-forward logits (+ Markov / confidence) and one greedy and one sampled proposal."""
    tokens = tokens_for()
    taps, _ = target_taps(tgt, tokens, d.tap_layers)
    anchors = torch.tensor([0, 6, 13])
    prev = torch.randint(0, V, (3, d.gamma), generator=torch.Generator().manual_seed(5))
    out = d.forward_train(torch.tensor(tokens), taps, anchors, prev_tokens=prev)
    res = [out.logits, out.hidden]
    if out.markov_logits is not None:
        res += [out.markov_logits, out.confidence_logits]
    for params in (GREEDY, SAMPLED):
        a = 15
        s = Sequence(0, tokens[:a + 1], 1, params, params.generator(), 64)
        d.start(s)
        s.num_processed = a
        d.observe(s, taps[:a], None)
        props, logits = d.propose_with_logits([s])
        res += [props[0].tokens, props[0].probs, logits]
        if props[0].confidence_logits is not None:
            res.append(props[0].confidence_logits)
    return res


def eagle_outputs(d, tgt) -> list[torch.Tensor | list]:
    tokens = tokens_for()
    taps, hidden = target_taps(tgt, tokens, d.tap_layers)
    res = [d.forward_train(torch.tensor(tokens), taps, steps=3)]
    for params in (GREEDY, SAMPLED):
        s = Sequence(0, list(tokens), len(tokens), params, params.generator(), 64)
        d.start(s)
        s.num_processed = len(tokens) - 1
        d.observe(s, taps[:-1], hidden[:-1])
        p = d.propose([s])[0]
        d.finish(s)
        res += [p.tokens, p.probs]
    return res


def assert_same(a: list, b: list, exact: bool = True) -> None:
    """Bit-identical outputs; `exact=False` (taps re-sorted: fc sums its column blocks in another
    order) allows fp32 rounding, 1e-5 on O(1) logits."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, torch.Tensor):
            assert x.shape == y.shape
            assert torch.equal(x, y) if exact else (x - y).abs().max() < 1e-5
        else:
            assert x == y


def export(d, layout, out, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # the dflash layout's slot-convention warning
        return F.export_drafter(d, layout, out, **kw)


# --- round trips: export then import reproduces the drafter exactly ------------------------------

BLOCK_CASES = [
    ("dspark", "deepspec", dict(mask_token_id=7), {}),
    ("dspark", "deepspec", dict(), dict(mask_token_id=V - 1)),             # learned mask in a spare row
    ("dspark-gated", "speculators", dict(mask_token_id=7, vocab=60), {}),
    ("dspark-rnn", "deepspec", dict(mask_token_id=7, vocab=60, tap_layers=[2, 0]), {}),
    ("dspark-rnn", "speculators", dict(mask_token_id=7, enable_confidence_head=False), {}),
    ("dflash", "dflash", dict(mask_token_id=9, tap_layers=[2, 0, 1]), {}),
    ("dflash", "dflash", dict(mask_token_id=9, vocab=60), {}),
    ("dflash", "deepspec", dict(mask_token_id=9), {}),
    ("dflash", "speculators", dict(mask_token_id=9, vocab=60), {}),
    ("dspark", "native", dict(), {}),
    ("dflash", "native", dict(vocab=60), {}),
]


@pytest.mark.parametrize("kind,layout,cfg,export_kw", BLOCK_CASES)
def test_block_drafter_round_trip(tmp_path, kind, layout, cfg, export_kw):
    tgt = make_target()
    d = block_drafter(kind, tgt, **cfg)
    out = export(d, layout, tmp_path / "x", **export_kw)
    assert F.detect_layout(json.loads((out / "config.json").read_text())) == layout
    back = F.import_drafter(layout, out, tgt)
    assert back.algorithm == d.algorithm and back.gamma == d.gamma
    assert list(back.tap_layers) == sorted(d.tap_layers)
    assert_same(block_outputs(d, tgt), block_outputs(back, tgt), exact=list(d.tap_layers) == sorted(d.tap_layers))


FAMILY_CASES = [(arch, kind, layout) for arch in ("llama", "gemma3")
                for kind, layout in (("dspark", "deepspec"), ("dspark", "speculators"), ("dflash", "dflash"),
                                     ("dflash", "speculators"), ("dflash", "deepspec"))]


@pytest.mark.parametrize("arch,kind,layout", FAMILY_CASES)
def test_engine_form_drafters_of_every_family_round_trip(tmp_path, arch, kind, layout):
    """Llama (SmolLM2) and Gemma 3 targets: the engine-form draft layer is the Qwen3 layer the
    layouts hold, so export -> import reproduces the drafter exactly; the draft config says qwen3
    whatever the target family, with the target's dimensions and (global) rotary."""
    tgt = make_target(arch, tie=True)
    d = block_drafter(kind, tgt, mask_token_id=7)
    out = export(d, layout, tmp_path / "x")
    cfg = json.loads((out / "config.json").read_text())
    layer_cfg = cfg.get("transformer_layer_config", cfg)
    assert (layer_cfg["model_type"], layer_cfg["hidden_act"], layer_cfg["rope_theta"]) == ("qwen3", "silu", tgt.cfg.rope.theta)
    assert layer_cfg["rms_norm_eps"] == tgt.cfg.rms_norm_eps
    back = F.import_drafter(layout, out, tgt)
    assert back.config.layer_form == "engine"
    assert_same(block_outputs(d, tgt), block_outputs(back, tgt), exact=True)


def test_legacy_form_and_last_layer_taps_are_refused_with_the_way_out(tmp_path):
    """A drafter trained in the legacy target-shaped form (the committed SmolLM2 one) has no exact
    place in any engine layout: export names the retrain. A tap on the target's last layer would be
    fed after the final norm by engines: refused on export and import."""
    llama = make_target("llama")
    legacy = block_drafter("dspark", llama, mask_token_id=7, layer_form="target")
    for layout in ("deepspec", "speculators"):
        with pytest.raises(DSparkError, match=r"legacy \"target\" form.*no q/k norm.*deepspec train --config"):
            F.export_drafter(legacy, layout, tmp_path / layout)
    gemma = block_drafter("dflash", make_target("gemma3"), mask_token_id=7, layer_form="target")
    with pytest.raises(DSparkError, match="sandwich.*embedding scaled"):
        F.build_layout(gemma, "dflash")
    last = block_drafter("dspark", llama, mask_token_id=7, tap_layers=[1, L - 1])
    with pytest.raises(DSparkError, match="last layer"):
        F.build_layout(last, "speculators")
    with pytest.raises(DSparkError, match="last layer"):
        F.build_layout(eagle_drafter(llama, tap_layers=[0, 1, L - 1]), "eagle3")
    assert not any(tmp_path.iterdir())
    ok = block_drafter("dspark", llama, mask_token_id=7)
    out = export(ok, "speculators", tmp_path / "s")
    cfg = json.loads((out / "config.json").read_text())
    cfg["aux_hidden_state_layer_ids"] = [2, L]          # = our taps 1 and L - 1
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DSparkError, match="last layer"):
        F.import_drafter("speculators", out, llama)


def test_reduced_vocabulary_warns_where_the_reference_cannot_load_it():
    tgt = make_target()
    with pytest.warns(UserWarning, match="DeepSpec's reference Qwen3DSparkModel"):
        F.build_layout(block_drafter("dspark", tgt, mask_token_id=7, vocab=60), "deepspec")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # speculators carries d2t / t2d natively
        F.build_layout(block_drafter("dspark", tgt, mask_token_id=7, vocab=60), "speculators")


@pytest.mark.parametrize("arch,tie,cfg", [("llama", True, {}), ("qwen3", False, dict(vocab=40, tap_layers=[2, 0, 1])),
                                          ("llama", False, dict(intermediate_size=96, num_heads=2, head_dim=24))])
def test_eagle3_round_trip(tmp_path, arch, tie, cfg):
    tgt = make_target(arch, tie=tie)
    d = eagle_drafter(tgt, **cfg)
    out = export(d, "eagle3", tmp_path / "e")
    back = F.import_drafter("eagle3", out, tgt, block_size=d.gamma)   # gamma is a serving knob in EAGLE-3
    assert list(back.tap_layers) == sorted(d.tap_layers)
    assert_same(eagle_outputs(d, tgt), eagle_outputs(back, tgt), exact=list(d.tap_layers) == sorted(d.tap_layers))


@pytest.mark.parametrize("cls", [MTPDrafter, Eagle3Drafter])
def test_chain_drafters_round_trip_native(tmp_path, cls):
    tgt = make_target()
    d = randomize(cls.build(cls.Config(block_size=2), tgt))
    back = F.import_drafter("native", export(d, "native", tmp_path / "m"), tgt)
    assert_same(eagle_outputs(d, tgt), eagle_outputs(back, tgt))


def write_target_dir(tgt, path: Path) -> Path:
    path.mkdir()
    (path / "config.json").write_text(json.dumps(F.hf_config_from_model_config(tgt.cfg)))
    state = {k: v.detach().clone().contiguous() for k, v in tgt.state_dict().items()
             if not (tgt.cfg.tie_word_embeddings and k == "lm_head.weight")}
    save_file(state, str(path / "model.safetensors"))
    return path


def test_cli_export_import_round_trip(tmp_path, capsys):
    from deepspec.cli import main
    tgt = make_target()
    tdir = write_target_dir(tgt, tmp_path / "tiny-qwen3")
    d = block_drafter("dspark-gated", tgt, mask_token_id=7, vocab=60)
    save_drafter(d, tmp_path / "ck", "tiny-qwen3")
    calib = {"temperatures": [1.5] * d.gamma, "curvatures": [0.3] + [0.0] * (d.gamma - 1)}   # sts-beta's too
    (tmp_path / "ck" / "calibration.json").write_text(json.dumps(calib))
    d.load_calibration(calib)
    assert main(["export", "--drafter", str(tmp_path / "ck"), "--to", "deepspec", "--out",
                 str(tmp_path / "ds"), "--target", str(tdir)]) == 0
    assert "method" in capsys.readouterr().out
    assert main(["import", "--from", "deepspec", "--src", str(tmp_path / "ds"), "--out", str(tmp_path / "ours"),
                 "--target", str(tdir)]) == 0
    back = load_drafter(tmp_path / "ours", Target("tiny-qwen3", tdir, tgt, None))
    assert back.fit_in_use(False)[0] == [1.5] * d.gamma and back.fit_in_use(False).curvatures == calib["curvatures"]
    assert_same(block_outputs(d, tgt), block_outputs(back, tgt))
    # unsupported combination: clear message, exit 2, nothing written
    m = randomize(MTPDrafter.build(MTPDrafter.Config(), tgt))
    save_drafter(m, tmp_path / "mtp", "tiny-qwen3")
    assert main(["export", "--drafter", str(tmp_path / "mtp"), "--to", "eagle3", "--out", str(tmp_path / "no"),
                 "--target", str(tdir)]) == 2
    assert "MTP modules have no standalone drafter layout" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


# --- golden layouts (docs/INTEROP.md) ---------------------------------------------------------------

def layer_names(prefix: str, qk_norm: bool = True, extra: tuple[str, ...] = ()) -> set[str]:
    names = {f"{prefix}self_attn.{p}_proj.weight" for p in "qkvo"} | {
        f"{prefix}mlp.{p}_proj.weight" for p in ("gate", "up", "down")} | {
        f"{prefix}input_layernorm.weight", f"{prefix}post_attention_layernorm.weight"}
    if qk_norm:
        names |= {f"{prefix}self_attn.q_norm.weight", f"{prefix}self_attn.k_norm.weight"}
    return names | {f"{prefix}{e}.weight" for e in extra}


def shapes(tensors) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in tensors.items()}


def test_golden_deepspec():
    tgt = make_target()
    d = block_drafter("dspark-gated", tgt, mask_token_id=7, vocab=60, tap_layers=[2, 1])
    cfg, t = F.build_layout(d, "deepspec")
    r = 8
    assert {k: cfg[k] for k in ("architectures", "block_size", "num_target_layers", "num_hidden_layers",
                                "target_layer_ids", "mask_token_id", "num_anchors", "markov_rank",
                                "markov_head_type", "enable_confidence_head", "confidence_head_with_markov",
                                "tie_word_embeddings", "draft_vocab_size", "model_type", "hidden_size",
                                "vocab_size", "intermediate_size", "layer_types")} == {
        "architectures": ["Qwen3DSparkModel"], "block_size": 5, "num_target_layers": L, "num_hidden_layers": 2,
        "target_layer_ids": [1, 2], "mask_token_id": 7, "num_anchors": 512, "markov_rank": r,
        "markov_head_type": "gated", "enable_confidence_head": True, "confidence_head_with_markov": True,
        "tie_word_embeddings": False, "draft_vocab_size": 60, "model_type": "qwen3", "hidden_size": H,
        "vocab_size": V, "intermediate_size": 128, "layer_types": ["full_attention"] * 2}
    assert "sample_from_anchor" not in cfg          # DeepSpec's convention is implicit: anchor slot predicts
    want = {"fc.weight": (H, 2 * H), "hidden_norm.weight": (H,), "norm.weight": (H,),
            "embed_tokens.weight": (V, H), "lm_head.weight": (60, H),
            "markov_head.markov_w1.weight": (V, r), "markov_head.markov_w2.weight": (60, r),
            "markov_head.gate_proj.weight": (r, H + r), "markov_head.gate_proj.bias": (r,),
            "confidence_head.proj.weight": (1, H + r), "confidence_head.proj.bias": (1,),
            "d2t": (60,), "t2d": (V,)}
    assert set(t) == set(want) | layer_names("layers.0.") | layer_names("layers.1.")
    assert {k: v for k, v in shapes(t).items() if k in want} == want
    # embedding and head copied from the target (head: its rows of the draft vocabulary)
    assert torch.equal(t["embed_tokens.weight"], tgt.model.embed_tokens.weight)
    assert torch.equal(t["lm_head.weight"], tgt.lm_head.weight[dvocab.target_ids(t["d2t"])])
    # fc column blocks follow the sorted taps: the block for layer 1 was the drafter's second
    assert torch.equal(t["fc.weight"][:, :H], d.fc.weight[:, H:]) and torch.equal(t["fc.weight"][:, H:], d.fc.weight[:, :H])


def test_golden_dflash():
    tgt = make_target()
    d = block_drafter("dflash", tgt, mask_token_id=9)
    with pytest.warns(UserWarning, match="sample_from_anchor"):
        cfg, t = F.build_layout(d, "dflash")
    assert cfg["architectures"] == ["DFlashDraftModel"]
    assert (cfg["block_size"], cfg["num_target_layers"], cfg["num_hidden_layers"]) == (5, L, 2)
    assert cfg["dflash_config"] == {"mask_token_id": 9, "target_layer_ids": [1, 2], "sample_from_anchor": True}
    assert "draft_vocab_size" not in cfg
    assert set(t) == {"fc.weight", "hidden_norm.weight", "norm.weight"} | layer_names("layers.0.") | layer_names("layers.1.")
    assert shapes(t)["fc.weight"] == (H, 2 * H) and shapes(t)["layers.0.self_attn.q_norm.weight"] == (16,)


def test_golden_speculators():
    tgt = make_target()
    d = block_drafter("dspark", tgt, mask_token_id=7, tap_layers=[0, 2])
    cfg, t = F.build_layout(d, "speculators", target_name="Qwen/Qwen3-tiny")
    assert cfg["speculators_model_type"] == "dspark" and cfg["architectures"] == ["DSparkSpeculator"]
    assert cfg["aux_hidden_state_layer_ids"] == [1, 3]          # hidden_states index = our tap id + 1
    assert cfg["sample_from_anchor"] is True and cfg["block_size"] == 5
    sc = cfg["speculators_config"]
    assert sc["algorithm"] == "dspark" and sc["proposal_methods"][0]["speculative_tokens"] == 5   # gamma, not gamma-1
    assert sc["verifier"] == {"name_or_path": "Qwen/Qwen3-tiny", "architectures": ["Qwen3ForCausalLM"]}
    tlc = cfg["transformer_layer_config"]
    assert (tlc["model_type"], tlc["num_hidden_layers"], tlc["hidden_size"], tlc["vocab_size"]) == ("qwen3", 2, H, V)
    assert (cfg["draft_vocab_size"], cfg["target_hidden_size"], cfg["mask_token_id"]) == (V, H, 7)
    assert set(t) == ({"fc.weight", "hidden_norm.weight", "norm.weight", "markov_head.markov_w1.weight",
                       "markov_head.markov_w2.weight", "confidence_head.proj.weight", "confidence_head.proj.bias"}
                      | layer_names("layers.0.") | layer_names("layers.1."))   # full vocab: no embed / lm_head
    cfg2, t2 = F.build_layout(block_drafter("dflash", tgt, mask_token_id=7, vocab=60), "speculators")
    assert cfg2["architectures"] == ["DFlashSpeculator"] and cfg2["draft_vocab_size"] == 60
    assert shapes(t2)["lm_head.weight"] == (60, H) and {"d2t", "t2d"} <= set(t2)


def test_golden_eagle3_taps_and_vocab():
    tgt = make_target("llama")
    d = eagle_drafter(tgt, vocab=40, tap_layers=[2, 0, 1])
    cfg, t = F.build_layout(d, "eagle3")
    assert cfg["architectures"] == ["LlamaForCausalLMEagle3"] and cfg["model_type"] == "llama"
    assert (cfg["num_hidden_layers"], cfg["vocab_size"], cfg["draft_vocab_size"], cfg["target_hidden_size"]) == (1, V, 40, H)
    assert cfg["tie_word_embeddings"] is False and cfg["norm_before_residual"] is False
    # the same taps, in both engines' conventions
    assert cfg["eagle_config"] == {"eagle_aux_hidden_state_layer_ids": [0, 1, 2], "use_aux_hidden_state": True}
    assert cfg["eagle_aux_hidden_state_layer_ids"] == [1, 2, 3]
    tokens = tokens_for()
    outs, _ = target_taps(tgt, tokens, list(range(L)))
    hidden_states = [tgt.model.embed(torch.tensor(tokens))] + list(outs.split(H, -1))   # HF output_hidden_states
    for sg, vl in zip(cfg["eagle_config"]["eagle_aux_hidden_state_layer_ids"], cfg["eagle_aux_hidden_state_layer_ids"]):
        assert torch.equal(hidden_states[vl], hidden_states[sg + 1])                # "input of vl" = "output of sg"
        assert torch.equal(hidden_states[vl], target_taps(tgt, tokens, [sg])[0])    # = our tap sg
    want = {"fc.weight": (H, 3 * H), "norm.weight": (H,), "lm_head.weight": (40, H), "d2t": (40,), "t2d": (V,),
            "midlayer.self_attn.q_proj.weight": (4 * 16, 2 * H), "midlayer.self_attn.k_proj.weight": (2 * 16, 2 * H),
            "midlayer.hidden_norm.weight": (H,)}
    assert set(t) == set(want) | layer_names("midlayer.", qk_norm=False, extra=("hidden_norm",))
    assert {k: v for k, v in shapes(t).items() if k in want} == want
    # d2t holds offsets: target id of draft index i is i + d2t[i]; t2d marks exactly those ids
    assert t["d2t"].dtype == torch.int64 and t["t2d"].dtype == torch.bool
    ids = torch.arange(40) + t["d2t"]
    assert torch.equal(ids, dvocab.target_ids(d.d2t)) and bool((ids.diff() > 0).all())
    assert torch.equal(t["t2d"].nonzero().flatten(), ids)
    assert torch.equal(t["lm_head.weight"], tgt.lm_head.weight[ids])
    assert 2 in ids.tolist()                                    # always_include kept eos
    # full vocabulary: identity offsets, all-true mask, the whole head
    _, tf = F.build_layout(eagle_drafter(tgt), "eagle3")
    assert not tf["d2t"].any() and bool(tf["t2d"].all()) and torch.equal(tf["lm_head.weight"], tgt.lm_head.weight)


def test_slot_convention_is_explicit_and_anchor_conditioned_is_refused(tmp_path):
    """Our slot k predicts anchor + k + 1 (sample_from_anchor true). Layouts that say false mean slot j
    predicts anchor + j; importing one as ours would shift every prediction, so it is refused."""
    tgt = make_target()
    d = block_drafter("dflash", tgt, mask_token_id=9)
    out = d.forward_train(torch.tensor(tokens_for()), target_taps(tgt, tokens_for(), d.tap_layers)[0],
                          torch.tensor([4]))
    assert out.labels[0].tolist() == tokens_for()[5:5 + d.gamma]      # slot k -> token a + k + 1
    src = export(d, "dflash", tmp_path / "df")
    cfg = json.loads((src / "config.json").read_text())
    cfg["dflash_config"]["sample_from_anchor"] = False
    cfg["sample_from_anchor"] = False
    (src / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DSparkError, match="anchor-conditioned"):
        F.import_drafter("dflash", src, tgt)
    del cfg["dflash_config"]["sample_from_anchor"], cfg["sample_from_anchor"]   # z-lab files: no flag = false
    (src / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DSparkError, match="anchor-conditioned"):
        F.import_drafter("dflash", src, tgt)
    spec = export(d, "speculators", tmp_path / "sp")
    cfg = json.loads((spec / "config.json").read_text())
    cfg["sample_from_anchor"] = False
    (spec / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DSparkError, match="anchor-conditioned"):
        F.import_drafter("speculators", spec, tgt)


# --- mask token ---------------------------------------------------------------------------------------

def test_mask_token_export_and_import(tmp_path):
    tgt = make_target()
    learned = block_drafter("dspark", tgt)                       # mask_token_id -1: a learned vector
    assert learned.mask_embedding is not None
    for layout in ("dflash", "speculators"):
        kind = "dflash" if layout == "dflash" else "dspark"
        dd = block_drafter(kind, tgt)
        with pytest.raises(DSparkError, match="learned mask embedding"):
            export(dd, layout, tmp_path / layout)
        assert not (tmp_path / layout).exists()
    with pytest.raises(DSparkError, match="--mask-token-id"):
        F.build_layout(learned, "deepspec")
    cfg, t = F.build_layout(learned, "deepspec", mask_token_id=V - 1)
    assert cfg["mask_token_id"] == V - 1
    assert torch.equal(t["embed_tokens.weight"][V - 1], learned.mask_embedding.detach())
    assert torch.equal(t["embed_tokens.weight"][:V - 1], tgt.model.embed_tokens.weight[:V - 1])
    src = export(learned, "deepspec", tmp_path / "ds", mask_token_id=V - 1)
    with pytest.raises(DSparkError, match="--mask learned"):
        F.import_drafter("deepspec", src, tgt, mask="token")
    back = F.import_drafter("deepspec", src, tgt)
    assert back.config.mask_token_id == -1 and torch.equal(back.mask_embedding, learned.mask_embedding)
    # a drafter trained with a mask token: the id is written, the embedding untouched
    tok = block_drafter("dflash", tgt, mask_token_id=9)
    with pytest.raises(DSparkError, match="trained with mask_token_id 9"):
        F.build_layout(tok, "deepspec", mask_token_id=10)
    src = export(tok, "dflash", tmp_path / "df")
    kept = F.import_drafter("dflash", src, tgt, mask="token")
    assert kept.config.mask_token_id == 9 and kept.mask_embedding is None
    init = F.import_drafter("dflash", src, tgt)                 # default: learned, initialized from row 9
    assert init.config.mask_token_id == -1 and torch.equal(init.mask_embedding, tgt.model.embed(torch.tensor([9]))[0])
    # ... which exports back to the same id (the vector is found in the target's table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert F.build_layout(init, "dflash")[0]["dflash_config"]["mask_token_id"] == 9


# --- what cannot be written, and why ----------------------------------------------------------------------

def test_unsupported_combinations_explain_themselves(tmp_path):
    tgt = make_target()
    mtp = MTPDrafter.build(MTPDrafter.Config(), tgt)
    for layout in ("deepspec", "dflash", "eagle3", "speculators"):
        with pytest.raises(DSparkError, match="MTP modules have no standalone drafter layout"):
            F.export_drafter(mtp, layout, tmp_path / layout)
    with pytest.raises(DSparkError, match="no Markov or confidence head"):
        F.build_layout(block_drafter("dspark", tgt, mask_token_id=7), "dflash")
    with pytest.raises(DSparkError, match="block drafters"):
        F.build_layout(eagle_drafter(tgt), "deepspec")
    assert not any(tmp_path.iterdir())


# --- validation: malformed layouts fail clearly and nothing is written ---------------------------------

def test_validators_name_missing_and_misshaped_keys():
    tgt = make_target()
    cfg, t = F.build_layout(block_drafter("dspark", tgt, mask_token_id=7), "deepspec")
    F.validate_deepspec(cfg, {k: tuple(v.shape) for k, v in t.items()})       # shapes alone are enough
    bad = dict(t)
    del bad["markov_head.markov_w2.weight"]
    bad["fc.weight"] = torch.zeros(H, 3 * H)
    bad["mask_embedding"] = torch.zeros(H)
    with pytest.raises(DSparkError) as e:
        F.validate_deepspec(cfg, bad)
    msg = str(e.value)
    assert "missing tensors: markov_head.markov_w2.weight" in msg
    assert f"tensor fc.weight has shape [{H}, {3 * H}], expected [{H}, {2 * H}]" in msg
    assert "unexpected tensors" in msg and "mask_embedding" in msg
    with pytest.raises(DSparkError, match="config field block_size is missing"):
        F.validate_deepspec({k: v for k, v in cfg.items() if k != "block_size"}, t)
    with pytest.raises(DSparkError, match="strictly increasing"):
        F.validate_deepspec({**cfg, "target_layer_ids": [3, 1, 2]}, t)
    with pytest.raises(DSparkError, match="tie_word_embeddings"):
        F.validate_deepspec({**cfg, "tie_word_embeddings": True}, t)

    ecfg, et = F.build_layout(eagle_drafter(make_target("llama"), vocab=40), "eagle3")
    with pytest.raises(DSparkError, match=r"\+ 1"):
        F.validate_eagle3({**ecfg, "eagle_aux_hidden_state_layer_ids": ecfg["eagle_config"]["eagle_aux_hidden_state_layer_ids"]}, et)
    with pytest.raises(DSparkError, match="d2t/t2d"):
        F.validate_eagle3(ecfg, {**et, "d2t": et["d2t"].flip(0)})
    with pytest.raises(DSparkError, match="d2t must be int64"):
        F.validate_eagle3(ecfg, {**et, "d2t": et["d2t"].int()})

    dcfg = {k: v for k, v in F.build_layout(block_drafter("dflash", tgt, mask_token_id=9), "speculators")[0].items()
            if k != "speculators_config"}
    with pytest.raises(DSparkError, match="speculators_config is missing"):
        F.validate_speculators(dcfg, {})


def test_malformed_export_writes_nothing(tmp_path, monkeypatch):
    tgt = make_target()
    d = block_drafter("dspark", tgt, mask_token_id=7)
    good = F._BUILDERS["deepspec"]

    def drop_key(*a, **kw):
        config, tensors = good(*a, **kw)
        del tensors["hidden_norm.weight"]
        return config, tensors

    def bad_shape(*a, **kw):
        config, tensors = good(*a, **kw)
        tensors["lm_head.weight"] = tensors["lm_head.weight"][:10]
        return config, tensors

    for broken, msg in ((drop_key, "missing tensors: hidden_norm.weight"),
                        (bad_shape, rf"lm_head.weight has shape \[10, {H}\]")):
        monkeypatch.setitem(F._BUILDERS, "deepspec", broken)
        with pytest.raises(DSparkError, match=msg):
            F.export_drafter(d, "deepspec", tmp_path / "out")
        assert list(tmp_path.iterdir()) == []                 # no output, no partial directory


def test_malformed_import_fails_before_anything_is_read_in(tmp_path):
    from deepspec.cli import main
    tgt = make_target()
    src = export(block_drafter("dspark", tgt, mask_token_id=7), "deepspec", tmp_path / "ds")
    tensors = load_file(str(src / "model.safetensors"))
    del tensors["layers.1.mlp.up_proj.weight"]
    save_file(tensors, str(src / "model.safetensors"))
    with pytest.raises(DSparkError, match="missing tensors: layers.1.mlp.up_proj.weight"):
        F.import_drafter("deepspec", src, tgt)
    tdir = write_target_dir(tgt, tmp_path / "tiny")
    assert main(["import", "--from", "deepspec", "--src", str(src), "--out", str(tmp_path / "ours"),
                 "--target", str(tdir)]) == 2
    assert not (tmp_path / "ours").exists()
    with pytest.raises(DSparkError, match="looks like the deepspec layout"):
        F.import_drafter("eagle3", src, tgt)


def test_import_refuses_a_head_that_is_not_the_targets(tmp_path):
    tgt = make_target()
    d = block_drafter("dspark", tgt, mask_token_id=7)
    src = export(d, "deepspec", tmp_path / "ds")
    tensors = load_file(str(src / "model.safetensors"))
    tensors["lm_head.weight"] = tensors["lm_head.weight"] + 0.01
    save_file(tensors, str(src / "model.safetensors"))
    with pytest.raises(DSparkError, match="share the target's LM head"):
        F.import_drafter("deepspec", src, tgt)
    with pytest.warns(UserWarning, match="--approximate"):
        F.import_drafter("deepspec", src, tgt, approximate=True)
    # a different target shape is named
    with pytest.raises(DSparkError, match="num_layers|layer"):
        F.import_drafter("deepspec", src, TargetModel(ModelConfig(
            arch="qwen3", vocab_size=V, hidden_size=H, intermediate_size=128, num_layers=6, num_heads=4,
            num_kv_heads=2, head_dim=16, qk_norm=True)))
