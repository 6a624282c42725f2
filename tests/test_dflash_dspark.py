"""DFlash and DSpark drafters on tiny random targets: the training-time forward equals the
incremental inference path, proposals carry the exact distributions they were drawn from, reduced
vocabularies, and the checkpoint round trip."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from dspark.batch import FlatBatch
from dspark.drafters import vocab as dvocab
from dspark.drafters.checkpoint import calibration_of, load_drafter, save_drafter
from dspark.drafters.dflash import DFlashConfig, DFlashDrafter, default_tap_layers, sample_anchors
from dspark.drafters.dspark import DSparkConfig, DSparkDrafter
from dspark.drafters.ngram import LookupFirst
from dspark.errors import DSparkError
from dspark.models.layers import RMSNorm
from dspark.models.loader import Target
from dspark.sampling import SamplingParams, probabilities, sample
from dspark.sequence import Sequence

from conftest import tiny_model

GREEDY = SamplingParams()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and 2-thread OpenMP regions stall for milliseconds
    when the machine is busy; restore the session's setting afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
T_LEN = 26
TOL = 1e-5


def target(arch="qwen3", dtype=torch.float32, vocab=300, hidden=64, seed=0):
    extra = {"layer_types": ["sliding", "sliding", "sliding", "full"]} if arch == "gemma3" else {}
    return tiny_model(arch, vocab=vocab, seed=seed, dtype=dtype, num_layers=4, hidden_size=hidden,
                      num_heads=4, num_kv_heads=2, head_dim=16, intermediate_size=128, **extra)


def drafter(kind, tgt, seed=1, gamma=5, **kw):
    """A drafter with all weights random, so every head and norm matters: std 0.3 for matrices and
    vectors, effective norm scales in [0.25, 0.75] (keeps fp32 logits O(1-5), like a trained
    drafter's, rather than O(10+))."""
    if kind == "dflash":
        d = DFlashDrafter.build(DFlashConfig(block_size=gamma, num_layers=2, **kw), tgt)
    else:
        head = "vanilla" if kind == "dspark" else kind.split("-")[1]
        d = DSparkDrafter.build(DSparkConfig(block_size=gamma, num_layers=2, markov_rank=16,
                                             markov_head_type=head, **kw), tgt)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in d.named_parameters():
            if "norm" not in name:
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.3)
            else:
                scale = 0.25 + 0.5 * torch.rand(p.shape, generator=g, dtype=torch.float64)
                p.copy_(scale - 1.0 if d.draft_cfg.norm_offset else scale)
    return d.eval()


def target_taps(tgt, tokens, taps):
    """The target's tap-layer outputs (concatenated) and final hidden for all of `tokens`."""
    cache = tgt.new_cache(1, len(tokens) + 8)
    cache.allocate()
    out = tgt.forward(FlatBatch.build([(0, 0, list(tokens))], "cpu"), cache, taps=taps)
    return torch.cat(out.taps, -1), out.hidden


def seq_at(d, tokens, taps, anchor, params=GREEDY, chunks=2, sid=0):
    """A sequence whose anchor is tokens[anchor], with the context observed in `chunks` rounds."""
    s = Sequence(sid, list(tokens[:anchor + 1]), 1, params, params.generator(), 64)
    d.start(s)
    cuts = sorted({0, anchor} | {anchor * i // chunks for i in range(1, chunks)})
    for a, b in zip(cuts, cuts[1:]):
        s.num_processed = b
        d.observe(s, taps[a:b], None)
    s.num_processed = anchor
    return s


def sequence_data(tgt, d, seed=3):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, tgt.cfg.vocab_size, (T_LEN,), generator=g).tolist()
    taps, _ = target_taps(tgt, tokens, d.tap_layers)
    return tokens, taps


def final_train_logits(out):
    return out.markov_logits if out.markov_logits is not None else out.logits


def test_default_tap_layers():
    assert default_tap_layers(30) == [1, 8, 14, 20, 27]
    assert default_tap_layers(4) == [1, 2]          # never the last layer when there is another
    assert default_tap_layers(3) == [1]
    assert default_tap_layers(2) == [1]
    assert default_tap_layers(1) == [0]
    assert default_tap_layers(18) == [1, 4, 8, 12, 15]   # round half to even, as numpy


KINDS = ["dflash", "dspark", "dspark-gated", "dspark-rnn"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_forward_train_matches_inference(kind, dtype):
    """Several anchors packed in one forward_train call equal the observe + propose path at each
    anchor (greedy; the Markov head teacher-forced with the tokens inference drew). fp32 within
    1e-5 (rounding only: max |logit| is about 5 here), float64 within 1e-10."""
    tol = TOL if dtype == torch.float32 else 1e-10
    tgt = target(dtype=dtype)
    d = drafter(kind, tgt)
    tokens, taps = sequence_data(tgt, d)
    anchors = [0, 4, 11, 19, T_LEN - 3]
    inf_logits, prev, inf_conf = [], [], []
    for a in anchors:
        s = seq_at(d, tokens, taps, a)
        props, logits = d.propose_with_logits([s])
        inf_logits.append(logits[0])
        prev.append([tokens[a]] + props[0].tokens[:-1])
        inf_conf.append(props[0].confidence_logits)
        assert len(props[0].tokens) == d.gamma
    out = d.forward_train(torch.tensor(tokens), taps, torch.tensor(anchors), prev_tokens=torch.tensor(prev))
    train = final_train_logits(out)
    assert train.shape == (len(anchors), d.gamma, tgt.cfg.vocab_size)
    assert (train - torch.stack(inf_logits)).abs().max() < tol
    if kind != "dflash":
        assert (out.confidence_logits - torch.stack(inf_conf)).abs().max() < tol
        # the Markov bias really matters in these random weights
        assert (out.markov_logits - out.logits).abs().max() > 1e-2
    # labels and validity: slot k of anchor a predicts tokens[a + k + 1]
    last = anchors.index(T_LEN - 3)
    assert out.valid[last].tolist() == [True, True] + [False] * (d.gamma - 2)
    assert out.labels[1].tolist() == tokens[5:5 + d.gamma]
    assert out.target_rows[1].tolist() == list(range(4, 4 + d.gamma))


@pytest.mark.parametrize("kind", ["dflash", "dspark", "dspark-gated"])
def test_bf16_autocast_training_keeps_logits_in_bf16(kind):
    """Under bf16 autocast (training on CPUs with AVX-512 BF16 / AMX, and CUDA) the draft-vocabulary
    logits stay bf16 and a vanilla Markov bias is added by one addmm: the same logits as the fp32
    forward within bf16 rounding, and the loss's gradients reach the same weights."""
    tgt = target(vocab=300)
    d = drafter(kind, tgt, draft_vocab_size=128)
    tokens, taps = sequence_data(tgt, d, seed=3)
    item = (torch.tensor(tokens), taps, torch.tensor([0, 4, 11, 19]), None)
    ref = d.forward_train_many([item])[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = d.forward_train_many([item])[0]
    assert out.logits.dtype == torch.bfloat16
    got, want = final_train_logits(out), final_train_logits(ref)
    assert want.dtype == torch.float32
    assert (got.float() - want).abs().max() <= 0.03 * want.abs().max()
    got.float().logsumexp(-1).sum().backward()
    assert all(p.grad is not None for n, p in d.named_parameters() if "markov_w2" in n or "layers.0" in n)


@pytest.mark.parametrize("kind", ["dflash", "dspark"])
def test_forward_train_many_equals_one_by_one(kind):
    """Sequences of different lengths and anchor counts in one batched pass (padded contexts and
    blocks) give what each gives alone, and gradients flow through every one of them."""
    tgt = target(dtype=torch.float64)
    d = drafter(kind, tgt).double()
    items = []
    for seed, length, anchors in [(3, T_LEN, [0, 4, 11, 19, T_LEN - 3]), (5, T_LEN - 9, [2, 7]),
                                  (7, T_LEN - 2, [T_LEN - 5])]:
        tokens, taps = sequence_data(tgt, d, seed=seed)
        items.append((torch.tensor(tokens[:length]), taps[:length], torch.tensor(anchors), None))
    together = d.forward_train_many(items)
    for item, out in zip(items, together):
        alone = d.forward_train(*item)
        for field in ("logits", "markov_logits", "confidence_logits", "hidden"):
            a, b = getattr(out, field), getattr(alone, field)
            assert (a is None) == (b is None)
            if a is not None:
                assert a.shape == b.shape and (a - b).abs().max() < 1e-10, field
        for field in ("labels", "valid", "target_rows", "prev_tokens"):
            assert torch.equal(getattr(out, field), getattr(alone, field)), field
    sum(final_train_logits(o).sum() + (0 if o.confidence_logits is None else o.confidence_logits.sum())
        for o in together).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in d.parameters() if p.requires_grad)


@pytest.mark.parametrize("layer_form", ["engine", "target"])
@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_forward_train_matches_inference_other_archs(arch, layer_form):
    """Llama and Gemma3 targets in both layer forms (the legacy "target" form has Llama's missing
    q/k norm, Gemma's sandwich / offset norms and scaled embedding), float64."""
    tgt = target(arch, dtype=torch.float64)
    d = drafter("dspark", tgt, layer_form=layer_form)
    tokens, taps = sequence_data(tgt, d)
    anchors = [3, 15]
    logits, prev = [], []
    for a in anchors:
        props, lg = d.propose_with_logits([seq_at(d, tokens, taps, a, chunks=3)])
        logits.append(lg[0])
        prev.append([tokens[a]] + props[0].tokens[:-1])
    out = d.forward_train(torch.tensor(tokens), taps, torch.tensor(anchors), prev_tokens=torch.tensor(prev))
    assert (out.markov_logits - torch.stack(logits)).abs().max() < 1e-10


def test_mask_token_id_instead_of_learned_mask():
    """mask_token_id >= 0 uses the target's embedding of that token (no mask_embedding weight)."""
    tgt = target()
    d = drafter("dspark", tgt, mask_token_id=7)
    assert "mask_embedding" not in d.state_dict()
    x = d._block_inputs(torch.tensor([3, 4]))
    assert torch.equal(x[1, 0], tgt.model.embed(torch.tensor([4]))[0])
    assert torch.equal(x[0, 1:], tgt.model.embed(torch.tensor([7])).expand(d.gamma - 1, -1))
    tokens, taps = sequence_data(tgt, d)
    props, logits = d.propose_with_logits([seq_at(d, tokens, taps, 8)])
    prev = torch.tensor([[tokens[8]] + props[0].tokens[:-1]])
    out = d.forward_train(torch.tensor(tokens), taps, torch.tensor([8]), prev_tokens=prev)
    assert (out.markov_logits[0] - logits[0]).abs().max() < TOL


def test_default_teacher_forcing_uses_ground_truth():
    tgt = target()
    d = drafter("dspark", tgt)
    tokens, taps = sequence_data(tgt, d)
    anchors = torch.tensor([2, 9])
    out = d.forward_train(torch.tensor(tokens), taps, anchors)
    assert out.prev_tokens.tolist() == [tokens[2:2 + d.gamma], tokens[9:9 + d.gamma]]
    forced = d.forward_train(torch.tensor(tokens), taps, anchors, prev_tokens=out.prev_tokens)
    assert torch.equal(out.markov_logits, forced.markov_logits)


@pytest.mark.parametrize("kind", ["dflash", "dspark"])
def test_batched_propose_matches_single(kind):
    tgt = target()
    d = drafter(kind, tgt)
    tokens, taps = sequence_data(tgt, d)
    anchors = [7, 0, 20, 13]
    single = [d.propose_with_logits([seq_at(d, tokens, taps, a, sid=i)]) for i, a in enumerate(anchors)]
    seqs = [seq_at(d, tokens, taps, a, sid=i) for i, a in enumerate(anchors)]
    props, logits = d.propose_with_logits(seqs)
    for i, (p1, l1) in enumerate(single):
        assert (logits[i] - l1[0]).abs().max() < TOL
        assert props[i].tokens == p1[0].tokens
        if kind == "dspark":
            assert (props[i].confidence_logits - p1[0].confidence_logits).abs().max() < TOL


def test_observe_is_incremental():
    tgt = target()
    d = drafter("dflash", tgt)
    tokens, taps = sequence_data(tgt, d)
    whole = seq_at(d, tokens, taps, 20, chunks=1)
    pieces = seq_at(d, tokens, taps, 20, chunks=6)
    # observed taps wait for the next draft; projecting them batched or chunk by chunk is the same
    assert pieces.draft_state.length == 20 and pieces.draft_state.projected == 0
    d._flush([whole.draft_state, pieces.draft_state])
    assert pieces.draft_state.projected == 20 and not pieces.draft_state.pending
    for i in range(len(d.layers)):
        for a, b in zip(whole.draft_state.kv(i), pieces.draft_state.kv(i)):
            assert a.shape == b.shape and (a - b).abs().max() < TOL
    # the context cache grows past its initial capacity
    st = whole.draft_state
    st.truncate(0)
    big = torch.randn(300, taps.shape[1])
    whole.num_processed = 300
    d.observe(whole, big, None)       # more rows than MAX_PENDING_ROWS: projected at once
    assert st.projected == 300 and st.cache.max_len >= 300


def test_truncate_reaches_pending_and_projected_context():
    """Rollback past pending (not yet projected) taps and past projected ones: the next draft sees
    exactly the context of a sequence observed up to the cut in one go."""
    tgt = target()
    d = drafter("dspark", tgt)
    tokens, taps = sequence_data(tgt, d)
    for projected, cut in ((12, 18), (12, 8)):
        s = seq_at(d, tokens, taps, projected, chunks=1)
        d._flush([s.draft_state])
        s.num_processed = 22
        d.observe(s, taps[projected:22], None)
        assert s.draft_state.projected == projected and s.draft_state.length == 22
        d.truncate(s, cut)
        assert s.draft_state.length == cut
        s.tokens, s.num_processed = list(tokens[:cut + 1]), cut
        ref = seq_at(d, tokens, taps, cut, chunks=1, sid=1)
        (a,), la = d.propose_with_logits([s])
        (b,), lb = d.propose_with_logits([ref])
        assert a.tokens == b.tokens and (la - lb).abs().max() < TOL


def same_probs(a, b) -> bool:
    """Two proposals' distributions are the same: both absent (greedy drafts) or equal."""
    return (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))


@pytest.mark.parametrize("kind", ["dflash", "dspark", "dspark-rnn"])
def test_probs_are_the_sampled_distribution(kind):
    tgt = target()
    d = drafter(kind, tgt)
    tokens, taps = sequence_data(tgt, d)
    params = SamplingParams(temperature=1.0, seed=1234)
    s = seq_at(d, tokens, taps, 12, params)
    props, logits = d.propose_with_logits([s])
    p = props[0]
    assert p.probs.shape == (d.gamma, tgt.cfg.vocab_size)
    assert torch.allclose(p.probs.sum(-1), torch.ones(d.gamma, dtype=p.probs.dtype), atol=1e-5)
    assert torch.equal(p.probs, probabilities(logits[0], params))
    # re-draw with the same seed: the proposal's tokens come out of these very distributions
    g = params.generator()
    if kind == "dflash":
        redrawn = sample(p.probs, g).tolist()
    else:
        redrawn = [int(sample(p.probs[k:k + 1], g)[0]) for k in range(d.gamma)]
    assert redrawn == p.tokens
    # and the distributions are the model's: independently recomputed by the training forward
    prev = torch.tensor([[tokens[12]] + p.tokens[:-1]])
    out = d.forward_train(torch.tensor(tokens), taps, torch.tensor([12]), prev_tokens=prev)
    assert (probabilities(final_train_logits(out)[0], params) - p.probs).abs().max() < 1e-5


def test_sampled_frequencies_follow_probs():
    """Empirically, slot 0 of DSpark draws follow Proposal.probs (top-k 4, temperature 1.5)."""
    tgt = target()
    d = drafter("dspark", tgt)
    tokens, taps = sequence_data(tgt, d)
    params = SamplingParams(temperature=1.5, top_k=4, seed=0)
    s = seq_at(d, tokens, taps, 12, params)
    counts, probs0, n = torch.zeros(tgt.cfg.vocab_size), None, 400
    for i in range(n):
        s.generator.manual_seed(i)
        p = d.propose([s])[0]
        counts[p.tokens[0]] += 1
        probs0 = p.probs[0] if probs0 is None else probs0
        assert torch.equal(p.probs[0], probs0)
        assert int((p.probs > 0).sum(-1).max()) <= 4
    assert 0.5 * (counts / n - probs0).abs().sum() < 0.1


@pytest.mark.parametrize("kind", ["dflash", "dspark"])
def test_reduced_vocab(kind):
    tgt = target()
    d = drafter(kind, tgt, draft_vocab_size=40)
    counts = torch.arange(tgt.cfg.vocab_size).float().flip(0) % 17      # some frequency profile
    d2t, t2d = dvocab.build_vocab_mapping(counts, 40, always_include=[299])
    d.set_draft_vocab(d2t, t2d)
    sd = d.state_dict()
    assert sd["d2t"].dtype == torch.long and sd["t2d"].dtype == torch.bool and int(sd["t2d"].sum()) == 40
    if kind == "dspark":
        assert sd["markov_head.markov_w2.weight"].shape == (40, 16)
        assert sd["markov_head.markov_w1.weight"].shape == (tgt.cfg.vocab_size, 16)
    tokens, taps = sequence_data(tgt, d)
    s = seq_at(d, tokens, taps, 10, SamplingParams(temperature=1.0, seed=5))
    props, logits = d.propose_with_logits([s])
    p = props[0]
    assert logits.shape[-1] == 40
    assert p.probs.shape == (d.gamma, tgt.cfg.vocab_size)
    assert float(p.probs[:, ~t2d].abs().max()) == 0.0
    assert torch.allclose(p.probs.sum(-1), torch.ones(d.gamma), atol=1e-5)
    assert all(t2d[t] for t in p.tokens)
    assert all(float(p.probs[k, t]) > 0 for k, t in enumerate(p.tokens))
    # the training forward scores the same draft vocabulary
    g = seq_at(d, tokens, taps, 10)
    gp, gl = d.propose_with_logits([g])
    prev = torch.tensor([[tokens[10]] + gp[0].tokens[:-1]])
    out = d.forward_train(torch.tensor(tokens), taps, torch.tensor([10]), prev_tokens=prev)
    assert (final_train_logits(out)[0] - gl[0]).abs().max() < TOL
    # the draft logits are the target's LM head rows of the draft vocabulary
    full = tgt.logits(out.hidden[0])
    assert (out.logits[0] - full[:, dvocab.target_ids(d.d2t)]).abs().max() < TOL


def test_vocab_mapping_helpers():
    counts = torch.tensor([5, 0, 9, 9, 1, 7, 0, 2])
    d2t, t2d = dvocab.build_vocab_mapping(counts, 4, always_include=[6])
    ids = dvocab.target_ids(d2t)
    assert ids.tolist() == [2, 3, 5, 6]                 # 9, 9, 7 and the forced id 6; ascending
    assert d2t.tolist() == [2, 2, 3, 3]
    assert t2d.tolist() == [False, False, True, True, False, True, True, False]
    assert dvocab.target_to_draft(torch.tensor([5, 0, 6]), t2d).tolist() == [2, -1, 3]
    assert dvocab.draft_to_target(torch.tensor([0, 3]), d2t).tolist() == [2, 6]
    probs = dvocab.expand_probs(torch.tensor([[0.1, 0.2, 0.3, 0.4]]), d2t, 8)
    assert probs[0].tolist() == pytest.approx([0, 0, 0.1, 0.2, 0, 0.3, 0.4, 0])
    assert dvocab.count_tokens([[1, 1, 3], [7]], 8).tolist() == [0, 2, 0, 1, 0, 0, 0, 1]
    dvocab.check_mapping(d2t, t2d, 8)
    with pytest.raises(DSparkError):
        dvocab.check_mapping(d2t, ~t2d, 8)


def test_confidences_and_calibration():
    tgt = target()
    d = drafter("dspark", tgt)
    tokens, taps = sequence_data(tgt, d)
    p = d.propose([seq_at(d, tokens, taps, 9)])[0]
    assert torch.allclose(p.confidences, torch.sigmoid(p.confidence_logits))
    temps = [0.5, 1.0, 2.0, 3.0, 4.0]
    d.load_calibration({"temperatures": temps})
    q = d.propose([seq_at(d, tokens, taps, 9)])[0]
    assert torch.equal(q.confidence_logits, p.confidence_logits)
    assert torch.allclose(q.confidences, torch.sigmoid(p.confidence_logits / torch.tensor(temps)))
    assert len(q.truncated(2).confidences) == 2
    assert d.calibration()["biases"] == [0.0] * 5        # a calibration.json without "biases": zeros
    # a per-position bias: c_k = sigmoid(z_k / T_k + b_k)
    biases = [-1.5, 0.0, 0.25, 1.0, -0.5]
    d.load_calibration({"temperatures": temps, "biases": biases})
    r = d.propose([seq_at(d, tokens, taps, 9)])[0]
    assert torch.allclose(r.confidences, torch.sigmoid(p.confidence_logits / torch.tensor(temps) + torch.tensor(biases)))
    assert d.calibration() == {"temperatures": temps, "biases": biases}
    assert calibration_of(d) == d.calibration()
    d.load_calibration({"temperatures": [1.0] * 5, "biases": [0.0, 0.0, 0.5, 0.0, 0.0]})
    assert calibration_of(d) is not None                 # a bias alone is a calibration too
    d.load_calibration({"temperatures": [1.0] * 5, "biases": [0.0] * 5})
    assert calibration_of(d) is None
    for bad in ({"temperatures": [1.0, 2.0]}, {"temperatures": [1.0] * 5, "biases": [0.0] * 4},
                {"temperatures": [1.0] * 5, "biases": [0.0] * 4 + [float("nan")]},
                {"temperatures": [1.0] * 5, "biases": [0.0] * 4 + [float("inf")]},
                {"temperatures": [1.0] * 5, "biases": [0.0] * 4 + ["1"]},
                {"temperatures": [1.0] * 5, "biases": 0.5}):
        with pytest.raises(DSparkError):
            d.load_calibration(bad)
    assert d.calibration()["biases"] == [0.0] * 5        # a refused calibration changes nothing
    # a "greedy" section calibrates greedy requests (their own acceptance rule); sampled ones keep the top level
    g_temps, g_biases = [2.0, 1.0, 1.0, 0.5, 1.0], [1.0, 0.5, 0.0, 0.0, -1.0]
    d.load_calibration({"temperatures": temps, "biases": biases,
                        "greedy": {"temperatures": g_temps, "biases": g_biases}})
    z = p.confidence_logits
    greedy_seq = seq_at(d, tokens, taps, 9)
    sampled_seq = seq_at(d, tokens, taps, 9, params=SamplingParams(temperature=1.0, seed=4), sid=1)
    pg, ps = d.propose([greedy_seq, sampled_seq])
    assert torch.allclose(pg.confidences, torch.sigmoid(z / torch.tensor(g_temps) + torch.tensor(g_biases)))
    zs = ps.confidence_logits
    assert torch.allclose(ps.confidences, torch.sigmoid(zs / torch.tensor(temps) + torch.tensor(biases)))
    assert calibration_of(d, greedy=True) == {"temperatures": g_temps, "biases": g_biases}
    assert calibration_of(d)["greedy"] == calibration_of(d, greedy=True)
    with pytest.raises(DSparkError, match="greedy"):
        d.load_calibration({"temperatures": [1.0] * 5, "greedy": {"temperatures": [1.0, 2.0]}})
    assert calibration_of(d, greedy=True) == {"temperatures": g_temps, "biases": g_biases}   # unchanged
    d.load_calibration({"temperatures": [1.0] * 5})
    assert calibration_of(d, greedy=True) is None        # no greedy section: greedy requests use the top level
    # behind n-gram lookup the "behind_lookup" section replaces the whole calibration (its own greedy part)
    l_temps, l_biases, lg_biases = [1.0, 2.0, 1.0, 1.0, 0.5], [0.5, 0.0, -0.5, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0, 1.0]
    file = {"temperatures": temps, "biases": biases, "greedy": {"temperatures": g_temps, "biases": g_biases},
            "behind_lookup": {"temperatures": l_temps, "biases": l_biases, "online_rate": 0.1,
                              "greedy": {"temperatures": l_temps, "biases": lg_biases}}}
    d.load_calibration(file)
    assert d.calibration() == file                       # kept whole (export writes calibration() back)
    pg, ps = d.propose([seq_at(d, tokens, taps, 9), seq_at(d, tokens, taps, 9, params=SamplingParams(1.0, seed=4), sid=1)])
    assert torch.allclose(pg.confidences, torch.sigmoid(z / torch.tensor(g_temps) + torch.tensor(g_biases)))
    looked_up = LookupFirst(d)
    assert calibration_of(looked_up) == file["behind_lookup"] == d.calibration() and d.fit_in_use(False)[2] == 0.1
    assert d.fit_in_use(True)[2] == 0.0
    pg, ps = d.propose([seq_at(d, tokens, taps, 9), seq_at(d, tokens, taps, 9, params=SamplingParams(1.0, seed=4), sid=1)])
    assert torch.allclose(pg.confidences, torch.sigmoid(z / torch.tensor(l_temps) + torch.tensor(lg_biases)))
    assert torch.allclose(ps.confidences, torch.sigmoid(ps.confidence_logits / torch.tensor(l_temps)
                                                        + torch.tensor(l_biases)))
    with pytest.raises(DSparkError, match="behind_lookup"):
        d.load_calibration({"temperatures": temps, "behind_lookup": {"temperatures": [1.0, 2.0]}})
    with pytest.raises(DSparkError, match="behind_lookup' section: must be a JSON object"):
        d.load_calibration({"temperatures": temps, "behind_lookup": [1.0]})
    with pytest.raises(DSparkError, match="behind_lookup' section: calibration 'greedy'"):
        d.load_calibration({"temperatures": temps, "behind_lookup": {"temperatures": temps, "greedy": {"biases": []}}})
    assert calibration_of(d) == file["behind_lookup"]    # refused: unchanged
    # a section with one regime: the file calibrates the other one behind lookup too
    d.load_calibration({"temperatures": temps, "biases": biases,
                        "behind_lookup": {"greedy": {"temperatures": l_temps, "biases": lg_biases}}})
    LookupFirst(d)
    assert d.calibration() == {"temperatures": temps, "biases": biases,
                               "greedy": {"temperatures": l_temps, "biases": lg_biases}}
    d.load_calibration({"temperatures": temps})
    LookupFirst(d)
    assert d.calibration() == {"temperatures": temps, "biases": [0.0] * 5}   # no section: the rest stays in use
    # the confidence head can go without the Markov features, or away entirely
    d2 = drafter("dspark", tgt, confidence_head_with_markov=False)
    assert d2.state_dict()["confidence_head.proj.weight"].shape == (1, tgt.cfg.hidden_size)
    d3 = drafter("dspark", tgt, enable_confidence_head=False)
    assert not any(k.startswith("confidence_head") for k in d3.state_dict())
    assert d3.propose([seq_at(d3, tokens, taps, 9)])[0].confidences is None


def test_state_dict_has_no_target_weights_and_names_follow_layouts():
    tgt = target()
    d = drafter("dspark-gated", tgt)
    sd = d.state_dict()
    assert not any("embed_tokens" in k or "lm_head" in k for k in sd)
    for k in ("fc.weight", "hidden_norm.weight", "norm.weight", "mask_embedding",
              "layers.0.self_attn.q_proj.weight", "layers.1.mlp.down_proj.weight",
              "markov_head.markov_w1.weight", "markov_head.markov_w2.weight",
              "markov_head.gate_proj.weight", "markov_head.gate_proj.bias",
              "confidence_head.proj.weight", "confidence_head.proj.bias"):
        assert k in sd, k
    h, r = tgt.cfg.hidden_size, 16
    assert sd["fc.weight"].shape == (h, len(d.tap_layers) * h)
    assert sd["markov_head.gate_proj.weight"].shape == (r, h + r)
    assert sd["confidence_head.proj.weight"].shape == (1, h + r)
    assert drafter("dspark-rnn", tgt).state_dict()["markov_head.joint_proj.weight"].shape == (3 * r, 2 * r + h)
    assert d.tap_layers == (1, 2) and d.config.tap_layers == [1, 2] and d.gamma == 5


def test_fresh_dspark_drafts_like_its_backbone():
    tgt = target()
    d = DSparkDrafter.build(DSparkConfig(block_size=4, markov_rank=8), tgt)
    tokens, taps = sequence_data(tgt, d)
    out = d.forward_train(torch.tensor(tokens), taps, torch.tensor([5, 9]))
    assert torch.equal(out.markov_logits, out.logits)


def test_forward_train_gradients_reach_drafter_only():
    tgt = target()
    tgt.requires_grad_(False)
    d = drafter("dspark-rnn", tgt).train()
    tokens, taps = sequence_data(tgt, d)
    g = torch.Generator().manual_seed(0)
    anchors = sample_anchors(torch.ones(T_LEN), 6, g)
    assert anchors.numel() == 6 and bool((anchors[1:] > anchors[:-1]).all()) and int(anchors.max()) < T_LEN - 1
    out = d.forward_train(torch.tensor(tokens), taps, anchors)
    ce = torch.nn.functional.cross_entropy(out.markov_logits[out.valid], out.labels[out.valid])
    (ce + out.confidence_logits.square().mean()).backward()
    for name, p in d.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in tgt.parameters())
    # eligible anchors need a supervised successor
    mask = torch.tensor([0, 1, 1, 1, 0, 1, 1, 0])
    assert sample_anchors(mask, 10).tolist() == [1, 2, 5]


def test_config_errors():
    tgt = target()
    with pytest.raises(DSparkError, match="markov_head_type"):
        DSparkDrafter.build(DSparkConfig(markov_head_type="lstm"), tgt)
    with pytest.raises(DSparkError, match="tap_layers"):
        DFlashDrafter.build(DFlashConfig(tap_layers=[0, 9]), tgt)
    with pytest.raises(DSparkError, match="full vocabulary"):
        DFlashDrafter.build(DFlashConfig(), tgt).set_draft_vocab(torch.zeros(3, dtype=torch.long))


def wrap(model, name="tiny"):
    return Target(name=name, path=Path("."), model=model, tokenizer=None)


@pytest.mark.parametrize("kind", ["dflash", "dspark-gated"])
def test_checkpoint_round_trip(tmp_path, kind):
    tgt = target()
    d = drafter(kind, tgt, draft_vocab_size=60 if kind == "dflash" else 0)
    if kind == "dflash":
        d.set_draft_vocab(*dvocab.build_vocab_mapping(torch.arange(300) % 13, 60))
    save_drafter(d, tmp_path / "ck", "tiny")
    # readable as any new file is (safetensors alone writes 0o600): another user can serve it
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "ck" / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~mask
    if kind != "dflash":
        (tmp_path / "ck" / "calibration.json").write_text(json.dumps({"temperatures": [2.0] * 5,
                                                                      "biases": [0.5] * 5}))
    e = load_drafter(tmp_path / "ck", wrap(tgt))
    assert type(e) is type(d) and e.config == d.config
    tokens, taps = sequence_data(tgt, d)
    for params in (GREEDY, SamplingParams(temperature=0.8, top_p=0.9, seed=7)):
        a = d.propose([seq_at(d, tokens, taps, 14, params)])[0]
        b = e.propose([seq_at(e, tokens, taps, 14, params)])[0]
        assert a.tokens == b.tokens and same_probs(a.probs, b.probs)
        assert (a.probs is None) == params.greedy      # greedy drafts carry no distribution
        if kind != "dflash":
            assert torch.equal(a.confidence_logits, b.confidence_logits)
            assert torch.allclose(b.confidences, torch.sigmoid(a.confidence_logits / 2.0 + 0.5))


def test_checkpoint_target_mismatch_and_corruption(tmp_path):
    tgt = target()
    d = drafter("dspark", tgt)
    save_drafter(d, tmp_path / "ck", "tiny")
    with pytest.raises(DSparkError, match="vocab_size"):
        load_drafter(tmp_path / "ck", wrap(target(vocab=310), "other"))
    with pytest.raises(DSparkError, match="hidden_size"):
        load_drafter(tmp_path / "ck", wrap(target(hidden=48), "other"))
    weights = tmp_path / "ck" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:len(data) // 2])
    with pytest.raises(DSparkError, match="corrupt weights file .*model.safetensors"):
        load_drafter(tmp_path / "ck", wrap(tgt))
    weights.unlink()
    with pytest.raises(DSparkError, match="weights file .*model.safetensors is missing"):
        load_drafter(tmp_path / "ck", wrap(tgt))


@pytest.mark.parametrize("kind,arch,layer_form", [("dflash", "llama", "engine"), ("dspark-rnn", "llama", "engine"),
                                                   ("dspark", "gemma3", "engine"), ("dspark", "llama", "target"),
                                                   ("dflash", "gemma3", "target")])
def test_engine_greedy_output_is_the_targets(kind, arch, layer_form):
    """Through the engine (chunked prefill, requests joining mid-run, batched proposals) the
    drafters' state stays consistent and the output is plain greedy decoding, in both layer forms."""
    from lossless import greedy_reference, run_engine
    model = tiny_model(arch)
    d = drafter(kind, model, gamma=4, layer_form=layer_form)
    g = torch.Generator().manual_seed(7)
    prompts = [torch.randint(3, 96, (5 + 3 * i,), generator=g).tolist() for i in range(4)]
    got, engine = run_engine(model, d, prompts, [GREEDY] * len(prompts), 12, stagger=True)
    assert got == [greedy_reference(model, p, 12) for p in prompts]
    assert engine.stats.drafted > 0


def test_online_calibration_at_run_time_is_what_the_evaluation_replays():
    """With an "online_rate", each request's confidences follow its own verified rounds
    (stats.survival_feedback). The evaluation reads the same confidences back from the round
    records (metrics.runtime_confidences): a request restarts from the fixed calibration, greedy
    and sampled requests step at their own section's rate, and the output stays the target's."""
    from deepspec.eval.metrics import runtime_confidences
    from lossless import greedy_reference, run_engine

    class Recording(DSparkDrafter):
        def verified(self, seq, proposal, record):
            self.seen.append((record, None if proposal.confidences is None else proposal.confidences.tolist()))
            super().verified(seq, proposal, record)

    model = tiny_model("llama")
    d = drafter("dspark", model, gamma=4)
    d.__class__, d.seen = Recording, []
    temps, biases = [1.5, 1.0, 0.8, 1.2], [0.3, -0.2, 0.0, 0.1]
    calib = {"temperatures": temps, "biases": biases, "online_rate": 0.3,
             "greedy": {"temperatures": temps, "biases": biases, "online_rate": 0.1}}
    d.load_calibration(calib)
    assert d.calibration() == calib
    g = torch.Generator().manual_seed(7)
    prompts = [torch.randint(3, 96, (5 + 3 * i,), generator=g).tolist() for i in range(4)]
    params = [GREEDY, SamplingParams(temperature=1.0, seed=1)] * 2
    got, _ = run_engine(model, d, prompts, params, 16, stagger=True)
    first = min(r.request for r, _ in d.seen)            # request ids count up from the first (greedy)
    assert got[0::2] == [greedy_reference(model, p, 16) for p in prompts[0::2]]
    for greedy in (True, False):
        # a request's rounds, together and in order (as eval writes them; here the requests interleave)
        rows = sorted([(r, c) for r, c in d.seen if (r.request % 2 == first % 2) == greedy],
                      key=lambda x: x[0].request)
        replay, _, _ = runtime_confidences([r for r, _ in rows], temps, biases, online_rate=0.1 if greedy else 0.3)
        fixed, _, _ = runtime_confidences([r for r, _ in rows], temps, biases)
        for (r, conf), want in zip(rows, replay):
            assert conf == pytest.approx(want[:r.proposed].tolist(), abs=1e-5)
        assert not np.allclose(replay, fixed, equal_nan=True)    # the offsets moved
    for bad in (-0.1, 1.5, "0.1", float("nan")):
        with pytest.raises(DSparkError, match="online_rate"):
            d.load_calibration({"temperatures": temps, "online_rate": bad})
    d.load_calibration({"temperatures": [1.0] * 4, "online_rate": 0.2})
    assert calibration_of(d) == {"temperatures": [1.0] * 4, "biases": [0.0] * 4, "online_rate": 0.2}


@pytest.mark.parametrize("arch", ["llama", "qwen3", "gemma3"])
def test_engine_layer_form_is_what_engines_run(arch):
    """The default draft layer is the Qwen3 form engines run for every target family: q/k norm,
    plain (w, not 1 + w) norms, no sandwich norms, SiLU, head_dim^-0.5, full attention; block
    inputs are the target's bare table rows (Gemma's sqrt(H) scaling is not applied)."""
    tgt = target(arch, dtype=torch.float64)
    d = drafter("dflash", tgt, mask_token_id=5)
    assert d.config.layer_form == "engine"
    c = d.draft_cfg
    assert (c.qk_norm, c.sandwich_norm, c.norm_offset, c.hidden_act, c.attn_scale, c.attention_bias) == \
        (True, False, False, "silu", None, False)
    assert c.layer_types == ["full", "full"] and c.sliding_window is None
    names = set(d.state_dict())
    assert "layers.0.self_attn.q_norm.weight" in names and not any("feedforward_layernorm" in n for n in names)
    assert all(not n.offset for n in d.modules() if isinstance(n, RMSNorm))
    x = d._block_inputs(torch.tensor([7, 9]))
    table = tgt.model.embed_tokens.weight
    assert torch.equal(x[:, 0], table[[7, 9]]) and torch.equal(x[0, 1], table[5])
    legacy = drafter("dflash", tgt, mask_token_id=5, layer_form="target")
    assert torch.equal(legacy._block_inputs(torch.tensor([7]))[0, 0], tgt.model.embed(torch.tensor([7]))[0])
    assert ("layers.0.self_attn.q_norm.weight" in legacy.state_dict()) == (arch != "llama")


def test_checkpoints_without_layer_form_load_in_the_legacy_form(tmp_path):
    """Drafters saved before `layer_form` existed were trained with target-shaped layers; they load
    as such (and drafts are unchanged), while new configs default to the engine form."""
    tgt = target("llama")
    d = drafter("dspark", tgt, layer_form="target")
    save_drafter(d, tmp_path / "ck", "tiny")
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    del meta["config"]["layer_form"]
    (tmp_path / "ck" / "config.json").write_text(json.dumps(meta))
    e = load_drafter(tmp_path / "ck", wrap(tgt))
    assert e.config.layer_form == "target" and DSparkConfig().layer_form == "engine"
    tokens, taps = sequence_data(tgt, d)
    a = d.propose([seq_at(d, tokens, taps, 14)])[0]
    b = e.propose([seq_at(e, tokens, taps, 14)])[0]
    assert a.tokens == b.tokens and same_probs(a.probs, b.probs)
    with pytest.raises(DSparkError, match="layer_form"):
        DFlashDrafter.build(DFlashConfig(layer_form="llama"), tgt)
