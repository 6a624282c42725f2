"""Peer check: do the engines' own model classes load our exports and draft what we draft?

    python scripts/peer_check.py [--venv runs/peer-venv] [--deepspec-git URL_OR_PATH] [--out runs/peer-check]
                                 [--drafter CKPT ...]

Builds (once) a virtual environment beside ours with the peers' code: speculators from PyPI with
the transformers it requires (the project's torch is reused: --system-site-packages), and DeepSpec's
reference modeling code cloned from its public repository at a pinned commit. Then, for a tiny
random target of each family (Llama = SmolLM2's, Qwen3, Gemma 3) and any --drafter checkpoints
given (e.g. checkpoints/dspark-smollm2-135m once it is retrained in the engine form), it exports
every block drafter to each layout a peer reads, runs the peer's own code on the same context taps
and anchor in a separate process, and compares with ours:

    speculators 0.9.0  DSparkDraftModel / DFlashDraftModel.from_pretrained (missing / unexpected /
                       mismatched keys must be empty), their _backbone_forward for the block, their
                       markov_head.block_bias and confidence_head for the heads
    DeepSpec           Qwen3DSparkModel, load_state_dict(strict=True); _forward_backbone,
                       compute_logits, sample_draft_tokens (greedy), predict_confidence_step
                       (the calls its evaluator's draft_ops makes)

Reported per case: max |diff| of the draft logits U, the Markov-corrected logits along the greedy
chain, the confidence logits, and whether the greedy drafts are identical. Not part of CI (other
package versions, a network clone); its last results are in docs/INTEROP.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEEPSPEC_GIT = "https://github.com/deepseek-ai/DeepSpec"
DEEPSPEC_COMMIT = "afdfa7c"          # the reference code checked; pass --deepspec-commit to move
PEER_PACKAGES = ["transformers==5.19.0", "speculators==0.9.0", "hs-connectors==0.9.0"]   # --no-deps
PEER_DEPS = ["datasets>=4.0.0,<=5.1.0", "loguru>=0.7.2,<=0.7.3", "pydantic-settings>=2.0.0"]
TOL = 1e-4


# ------------------------------------------------------------------------------------------------
# environment
# ------------------------------------------------------------------------------------------------

def ensure_env(venv: Path, deepspec_git: str, commit: str) -> tuple[Path, Path]:
    """(python of the peer venv, checkout of DeepSpec's reference code)."""
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
        pip = [str(py), "-m", "pip", "install", "-q"]
        subprocess.run(pip + ["--no-deps"] + PEER_PACKAGES, check=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as c:
            c.write("torch==2.13.0\n")          # never let a peer dependency replace our torch
        subprocess.run(pip + ["-c", c.name] + PEER_DEPS, check=True)
    src = venv / "deepspec-reference"
    if not (src / "deepspec").is_dir():
        # only the Python package: the repository also holds data sets the check does not need
        subprocess.run(["git", "clone", "-q", "--no-checkout", deepspec_git, str(src)], check=True)
        subprocess.run(["git", "-C", str(src), "checkout", "-q", commit, "--", "deepspec"], check=True)
    return py, src


def peer_versions(py: Path, src: Path) -> dict:
    code = ("import json; from importlib.metadata import version as v; "
            "print(json.dumps({p: v(p) for p in ('torch', 'transformers', 'speculators')}))")
    v = json.loads(subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True).stdout)
    v["deepspec"] = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", DEEPSPEC_COMMIT], check=True,
                                   capture_output=True, text=True).stdout.strip()
    return v


# ------------------------------------------------------------------------------------------------
# our side: targets, drafters, exports, our outputs
# ------------------------------------------------------------------------------------------------

def tiny_target(arch: str):
    import torch
    from dspark.models.config import ModelConfig, RopeConfig
    from dspark.models.decoder import TargetModel
    extra = {}
    if arch == "gemma3":
        extra = dict(qk_norm=True, sandwich_norm=True, norm_offset=True, embed_scale=64 ** 0.5,
                     hidden_act="gelu_tanh", attn_scale=16 ** -0.5, sliding_window=8, rms_norm_eps=1e-6,
                     layer_types=["sliding"] * 5 + ["full"], rope=RopeConfig(1e6), rope_local=RopeConfig(1e4))
    elif arch == "qwen3":
        extra = dict(qk_norm=True, rope=RopeConfig(1e6), rms_norm_eps=1e-6)
    cfg = ModelConfig(arch=arch, vocab_size=512, hidden_size=64, intermediate_size=160, num_layers=6,
                      num_heads=4, num_kv_heads=2, head_dim=16, eos_token_ids=[1], bos_token_id=2,
                      tie_word_embeddings=arch != "qwen3", **extra)
    torch.manual_seed(0)
    tm = TargetModel(cfg)
    with torch.no_grad():
        for name, p in tm.named_parameters():
            if "norm" not in name:
                p.normal_(0, 0.3)
    return tm.eval()


def hf_target_config(tcfg) -> dict:
    """A config.json transformers reads back as the verifier (speculators loads its embedding / head)."""
    from deepspec.export.formats import hf_config_from_model_config
    if tcfg.arch != "gemma3":
        return hf_config_from_model_config(tcfg)
    return {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "vocab_size": tcfg.vocab_size,
            "hidden_size": tcfg.hidden_size, "intermediate_size": tcfg.intermediate_size,
            "num_hidden_layers": tcfg.num_layers, "num_attention_heads": tcfg.num_heads,
            "num_key_value_heads": tcfg.num_kv_heads, "head_dim": tcfg.head_dim, "rms_norm_eps": tcfg.rms_norm_eps,
            "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": tcfg.head_dim,
            "sliding_window": tcfg.sliding_window, "rope_theta": tcfg.rope.theta, "rope_local_base_freq": 1e4,
            "layer_types": ["sliding_attention" if t == "sliding" else "full_attention" for t in tcfg.layer_types],
            "max_position_embeddings": tcfg.max_position_embeddings, "tie_word_embeddings": True,
            "bos_token_id": tcfg.bos_token_id, "eos_token_id": 1, "pad_token_id": 0}


def save_verifier(tgt, path: Path) -> None:
    from safetensors.torch import save_file
    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().clone().contiguous() for k, v in tgt.state_dict().items()}, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps(hf_target_config(tgt.cfg), indent=2))


def random_drafter(kind: str, tgt, vocab: int = 0):
    import torch
    from dspark.drafters import vocab as dvocab
    from dspark.drafters.dflash import DFlashConfig, DFlashDrafter
    from dspark.drafters.dspark import DSparkConfig, DSparkDrafter
    common = dict(block_size=5, num_layers=2, mask_token_id=3, draft_vocab_size=vocab)
    if kind == "dflash":
        d = DFlashDrafter.build(DFlashConfig(**common), tgt)
    else:
        d = DSparkDrafter.build(DSparkConfig(markov_rank=16, **common), tgt)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in d.named_parameters():
            p.copy_(0.25 + 0.5 * torch.rand(p.shape, generator=g) if "norm" in name
                    else torch.randn(p.shape, generator=g) * 0.3)
    if vocab:
        d.set_draft_vocab(*dvocab.build_vocab_mapping(torch.arange(tgt.cfg.vocab_size) % 29, vocab, always_include=[1]))
    return d.eval()


def our_outputs(d, tgt, tokens: list[int], anchor: int) -> dict:
    """Our greedy draft of the block anchored at tokens[anchor], and the inputs a peer needs: the
    context taps concatenated in increasing layer order (the order engines use; export permutes
    fc.weight's column blocks to match)."""
    import torch
    from dspark.sampling import SamplingParams
    from dspark.sequence import Sequence
    ctx = target_taps(tgt, tokens, sorted(d.tap_layers))
    mine = target_taps(tgt, tokens, list(d.tap_layers))
    s = Sequence(0, tokens[:anchor + 1], 1, SamplingParams(), None, 64)
    d.start(s)
    s.num_processed = anchor
    d.observe(s, mine[:anchor], None)
    base = d._draft_pass([s], d.gamma)[0][0]               # U: draft logits before the Markov head
    props, final = d.propose_with_logits([s])
    p = props[0]
    res = {"tokens": torch.tensor(tokens), "ctx": ctx, "anchor": torch.tensor(anchor), "base": base,
           "final": final[0], "drafts": torch.tensor(p.tokens)}
    if p.confidence_logits is not None:
        res["confidence"] = p.confidence_logits
    return res


def target_taps(tgt, tokens: list[int], taps: list[int]):
    import torch
    from dspark.batch import FlatBatch
    cache = tgt.new_cache(1, len(tokens) + 8)
    cache.allocate()
    return torch.cat(tgt.forward(FlatBatch.build([(0, 0, tokens)], "cpu"), cache, taps=taps).taps, -1)


def export_case(d, tgt, layout: str, case: Path, tokens: list[int], anchor: int, name: str) -> dict:
    """Export `d` into case/export, keep the verifier and our outputs beside it."""
    import warnings
    from safetensors.torch import save_file
    from deepspec.export.formats import export_drafter
    case.mkdir(parents=True, exist_ok=True)
    save_verifier(tgt, case / "verifier")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_drafter(d, layout, case / "export", target_name=str(case / "verifier"),
                       target_config=hf_target_config(tgt.cfg))
    save_file({k: v.contiguous() for k, v in our_outputs(d, tgt, tokens, anchor).items()}, str(case / "ours.safetensors"))
    meta = {"name": name, "layout": layout, "peer": "deepspec" if layout == "deepspec" else "speculators"}
    (case / "case.json").write_text(json.dumps(meta))
    return meta


# ------------------------------------------------------------------------------------------------
# peer side (runs in the peer venv; imports only the peer's code, torch and safetensors)
# ------------------------------------------------------------------------------------------------

def run_speculators(case: Path) -> dict:
    import torch
    from safetensors.torch import load_file
    from speculators.models.dflash import DFlashDraftModel, DFlashSpeculatorConfig
    from speculators.models.dspark import DSparkDraftModel, DSparkSpeculatorConfig
    ex = case / "export"
    kind = json.loads((ex / "config.json").read_text())["speculators_model_type"]
    cls, ccls = (DSparkDraftModel, DSparkSpeculatorConfig) if kind == "dspark" else (DFlashDraftModel, DFlashSpeculatorConfig)
    config = ccls.from_pretrained(str(ex))
    config.transformer_layer_config._attn_implementation = "eager"
    # output_loading_info reports the keys but (0.9.0) skips the verifier / vocab loading their
    # from_pretrained does afterwards, so the model that drafts is a second, plain load
    _, info = cls.from_pretrained(str(ex), config=config, output_loading_info=True)
    model = cls.from_pretrained(str(ex), config=config).float().eval()
    keys = {k: sorted(v) if not isinstance(v, str) else v for k, v in info.items() if v}
    inp = load_file(str(case / "ours.safetensors"))
    a, g = int(inp["anchor"]), model.block_size
    ids = inp["tokens"].clone()
    ids[a + 1:a + g] = inp["drafts"][:g - 1]      # teacher forcing along our greedy chain = the chain's prev tokens
    t = ids.numel()
    loss_mask = torch.zeros(1, t)
    loss_mask[0, a] = 1.0                           # exactly one anchor: a
    h_dim = model.config.transformer_layer_config.hidden_size
    with torch.no_grad():
        hidden, logits, *_ = model._backbone_forward(
            inp["ctx"][None].float(), ids[None], loss_mask, torch.zeros(1, t, h_dim), torch.zeros(1, t, dtype=torch.long),
            max_anchors=1)
        out = {"base": logits[0].float()}
        final = logits[0].float()
        prev = ids[a:a + g][None]
        if kind == "dspark" and model.markov_head is not None:
            hid = hidden.view(1, g, -1)
            prev_emb = model.markov_head.prev_embeddings(prev)
            final = final + model.markov_head.block_bias(prev_token_ids=prev, hidden_states=hid, prev_emb=prev_emb)[0]
            if model.confidence_head is not None:
                feats = torch.cat([hid, prev_emb.to(hid.dtype)], -1) if model.config.confidence_head_with_markov else hid
                out["confidence"] = model.confidence_head(feats)[0].float()
        out["final"] = final
        idx = final.argmax(-1)
        out["drafts"] = idx + model.d2t[idx] if getattr(model, "d2t", None) is not None and model.use_draft_vocab else idx
    return {"keys": keys, "out": out}


def run_deepspec(case: Path, src: Path) -> dict:
    import torch
    from safetensors.torch import load_file
    from transformers import Qwen3Config
    sys.path.insert(0, str(src))
    from deepspec.modeling.dspark.qwen3 import Qwen3DSparkModel
    ex = case / "export"
    config = Qwen3Config.from_pretrained(str(ex))
    config._attn_implementation = "eager"
    model = Qwen3DSparkModel(config).float().eval()
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(ex / "model.safetensors")).items()}
    d2t, t2d = tensors.pop("d2t", None), tensors.pop("t2d", None)
    vocab_rows = None
    if d2t is not None and tensors["lm_head.weight"].shape[0] < config.vocab_size:
        # Qwen3DSparkModel has no reduced vocabulary (its lm_head and markov_w2 span the target's).
        # Do here what an engine's d2t mapping does: the draft rows go to their target ids and
        # every other column is masked, so the peer's own forward, Markov chain and confidence run
        # on exactly the draft vocabulary. d2t / t2d are consumed by this step, not by the peer.
        vocab_rows = torch.arange(d2t.numel()) + d2t
        assert t2d is None or (t2d.nonzero().flatten().sort().values == vocab_rows.sort().values).all()
        for k in ("lm_head.weight", "markov_head.markov_w2.weight"):
            if k in tensors:
                full = torch.zeros(config.vocab_size, tensors[k].shape[1])
                full[vocab_rows] = tensors[k]
                tensors[k] = full
        outside = torch.full((config.vocab_size,), float("-inf"))
        outside[vocab_rows] = 0.0
        head = model.compute_logits
        model.compute_logits = lambda h: head(h) + outside
    res = model.load_state_dict(tensors, strict=True)
    keys = {k: list(v) for k, v in res._asdict().items() if v}
    inp = load_file(str(case / "ours.safetensors"))
    a, g = int(inp["anchor"]), model.block_size
    draft_ids = torch.tensor([[int(inp["tokens"][a])] + [model.mask_token_id] * (g - 1)])
    with torch.no_grad():
        h = model._forward_backbone(position_ids=torch.arange(a + g)[None], attention_mask=None,
                                    noise_embedding=model.embed_tokens(draft_ids),
                                    target_hidden_states=inp["ctx"][None, :a].float(), past_key_values=None,
                                    use_cache=False, is_causal=False)
        base = model.compute_logits(h)
        drafts, final = model.sample_draft_tokens(base, first_prev_token_ids=draft_ids[:, 0], temperature=0.0,
                                                  hidden_states=h)
        out = {"base": base[0].float(), "final": final[0].float(), "drafts": drafts[0]}
        if vocab_rows is not None:        # compare in the draft vocabulary, as ours are
            out["base"], out["final"] = out["base"][:, vocab_rows], out["final"][:, vocab_rows]
        conf = model.predict_confidence_step(h, prev_token_ids=torch.cat([draft_ids[:, :1], drafts[:, :-1]], 1))
        if conf is not None:
            out["confidence"] = conf[0].float().reshape(g)
    return {"keys": keys, "out": out}


def peer_main(peer: str, cases: list[Path], src: Path | None) -> None:
    import torch
    from safetensors.torch import save_file
    torch.set_num_threads(1)
    for case in cases:
        try:
            r = run_speculators(case) if peer == "speculators" else run_deepspec(case, src)
            save_file({k: v.detach().clone().contiguous() for k, v in r["out"].items()}, str(case / "peer.safetensors"))
            (case / "peer.json").write_text(json.dumps({"keys": r["keys"]}))
        except Exception as e:           # reported per case, the other cases still run
            (case / "peer.json").write_text(json.dumps({"error": f"{type(e).__name__}: {e}"}))


# ------------------------------------------------------------------------------------------------
# comparison and the driver
# ------------------------------------------------------------------------------------------------

def compare(case: Path) -> dict:
    from safetensors.torch import load_file
    meta = json.loads((case / "case.json").read_text())
    peer = json.loads((case / "peer.json").read_text()) if (case / "peer.json").exists() else {"error": "no output"}
    row = {**meta}
    if "error" in peer:
        return {**row, "ok": False, "error": peer["error"]}
    ours, theirs = load_file(str(case / "ours.safetensors")), load_file(str(case / "peer.safetensors"))
    for k in ("base", "final", "confidence"):
        if k in ours or k in theirs:
            row[k] = (ours[k].float() - theirs[k].float()).abs().max().item() if k in ours and k in theirs else None
    row["same_drafts"] = ours["drafts"].tolist() == theirs["drafts"].tolist()
    row["strict_keys"] = not peer["keys"]
    if peer["keys"]:
        row["keys"] = peer["keys"]
    row["ok"] = (row["same_drafts"] and row["strict_keys"]
                 and all(row.get(k) is not None and row[k] <= TOL for k in ("base", "final", "confidence") if k in row))
    return row


def our_cases(out: Path, drafters: list[str]) -> list[dict]:
    import torch
    from dspark.errors import DSparkError
    cases = []
    g = torch.Generator().manual_seed(3)
    for arch in ("llama", "qwen3", "gemma3"):
        tgt = tiny_target(arch)
        tokens = torch.randint(4, tgt.cfg.vocab_size, (40,), generator=g).tolist()
        anchor = 40 - 5 - 1
        for kind, vocab, layouts in (("dspark", 0, ("deepspec", "speculators")), ("dspark", 64, ("deepspec", "speculators")),
                                     ("dflash", 0, ("deepspec", "speculators"))):
            d = random_drafter(kind, tgt, vocab)
            for layout in layouts:
                name = f"{arch}-{kind}{'-v64' if vocab else ''}-{layout}"
                cases.append(export_case(d, tgt, layout, out / name, tokens, anchor, name))
    for path in drafters:
        from dspark.drafters.checkpoint import load_drafter, read_meta
        from dspark.models.loader import load_target
        import dspark.drafters  # noqa: F401  (registers the algorithms)
        meta = read_meta(Path(path))
        tgt = load_target(meta["target"]["name"], tokenizer=False)
        d = load_drafter(path, tgt)
        tokens = torch.randint(4, tgt.config.vocab_size, (64,), generator=g).tolist()
        for layout in ("speculators", "deepspec"):
            name = f"{Path(path).name}-{layout}"
            try:
                cases.append(export_case(d, tgt.model, layout, out / name, tokens, 64 - d.gamma - 1, name))
            except DSparkError as e:
                cases.append({"name": name, "layout": layout, "refused": str(e)})
    return cases


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", default=str(ROOT / "runs" / "peer-venv"))
    ap.add_argument("--deepspec-git", default=DEEPSPEC_GIT)
    ap.add_argument("--deepspec-commit", default=DEEPSPEC_COMMIT)
    ap.add_argument("--out", default=str(ROOT / "runs" / "peer-check"))
    ap.add_argument("--drafter", action="append", default=[], help="also check this checkpoint (repeatable)")
    ap.add_argument("--peer", choices=("speculators", "deepspec"), help=argparse.SUPPRESS)   # internal
    ap.add_argument("--src", help=argparse.SUPPRESS)
    ap.add_argument("cases", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        peer_main(args.peer, [Path(c) for c in args.cases], Path(args.src) if args.src else None)
        return 0
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty; pass a new --out")
    py, src = ensure_env(Path(args.venv), args.deepspec_git, args.deepspec_commit)
    cases = our_cases(out, args.drafter)
    env = {**os.environ, "PYTHONPATH": ""}        # the peers see their own code, not ours
    for peer in ("speculators", "deepspec"):
        dirs = [str(out / c["name"]) for c in cases if c.get("peer") == peer]
        if dirs:
            subprocess.run([str(py), __file__, "--peer", peer, "--src", str(src), *dirs], check=True, env=env,
                           cwd=tempfile.gettempdir())
    rows = [c if "refused" in c else compare(out / c["name"]) for c in cases]
    versions = peer_versions(py, src)
    (out / "results.json").write_text(json.dumps({"versions": versions, "tolerance": TOL, "cases": rows}, indent=2))
    print(f"peers: {versions}")
    print(f"{'case':42s} {'peer':11s} {'keys':6s} {'|dU|':>9s} {'|dfinal|':>9s} {'|dconf|':>9s}  drafts")
    fmt = lambda v: "-" if v is None else f"{v:.2e}"  # noqa: E731
    for r in rows:
        if "refused" in r:
            print(f"{r['name']:42s} refused: {r['refused'][:120]}")
        elif "error" in r:
            print(f"{r['name']:42s} {r['peer']:11s} ERROR {r['error'][:200]}")
        else:
            print(f"{r['name']:42s} {r['peer']:11s} {'strict' if r['strict_keys'] else 'LOOSE':6s} {fmt(r.get('base')):>9s} "
                  f"{fmt(r.get('final')):>9s} {fmt(r.get('confidence')):>9s}  {'same' if r['same_drafts'] else 'DIFFER'}")
    checked = [r for r in rows if "refused" not in r]
    bad = [r for r in checked if not r["ok"]]
    print(f"{len(checked) - len(bad)} of {len(checked)} checked cases agree (|diff| <= {TOL:g}, strict keys, "
          f"same greedy drafts); {len(rows) - len(checked)} export(s) refused")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
