"""DSpark: the DFlash backbone + a sequential (Markov) head + a confidence head.

The backbone (dflash.py) drafts a block in one pass: final hidden states h_k and logits U_k for
slots k = 0..gamma-1 (slot k predicts the token at anchor_pos + k + 1). The sequential head then
samples left to right, correcting each slot with the token drawn just before it:

    e_k      = W1[x_{k-1}]                       markov_head.markov_w1  [V, r] (an embedding)
    logits_k = U_k + B_k                          x_{-1} = the anchor
    vanilla  B_k = W2 e_k                         markov_head.markov_w2  [V', r]
    gated    B_k = W2 (sigmoid(G [h_k; e_k] + g) * e_k)            markov_head.gate_proj  [r, H + r]
    rnn      [a; c; o] = J [s_{k-1}; e_k; h_k] + j, s_0 = 0         markov_head.joint_proj [3r, 2r + H]
             s_k = sigmoid(a) s_{k-1} + (1 - sigmoid(a)) tanh(c),  B_k = W2 tanh(o)

so a slot costs one r-vector lookup and one [r] x [r, V'] product (plus an [H + r] -> r product for
the gated / RNN heads); the LM head runs once per block, in the backbone. Tokens are drawn from
`probabilities(logits_k, seq.params)`, and Proposal.probs holds exactly those distributions (after
the bias and the sampling processing); a greedy request's drafts are argmaxes and carry none (greedy
verification compares argmaxes). On the CPU runtime a lone request's loop runs in C: greedy inside
the round's one call (runtime.DraftForward.round), sampled by temperature and top-p in another
(runtime.DraftForward.markov_sample: the same softmax and nucleus up to float summation order,
Proposal.probs what it drew from). A lone sampled request stops at the first draft its policy
would not verify (Sequence.draft_stop), knowable before drawing it: slot k's confidence reads only
x_{k-1}.

Confidence head: c_k = sigmoid(w^T [h_k ; e_k] + b) (`confidence_head.proj` [1, H + r]; [1, H] with
confidence_head_with_markov off), h_k = the backbone's final hidden AFTER the final `norm` (the LM
head's input), in training and inference alike. Proposal.confidence_logits are the raw logits;
Proposal.confidences = sigmoid(logit_k / T_k + b_k + e_k curvature(logit_k) + d_k) with the STS
temperatures, biases and curvatures (zero unless fitted by sts-beta) of `load_calibration` and the
request's online offsets d_k (Sequence.confidence_offsets, zero unless the
calibration has an "online_rate": after each verified round they step towards what the request's
drafts actually do, stats.survival_feedback; a fixed calibration cannot follow one request's domain).
Behind n-gram lookup (`ngram+dspark`) the drafter drafts only where lookup found nothing, a different
mix of contexts (no greedy loops); calibration.json's optional "behind_lookup" section, fitted on
such rounds (`deepspec calibrate --behind-lookup`), replaces there the fits it holds (its sampled one,
its "greedy" one, or both; `behind_lookup`).

Training (`forward_train`, inherited) teacher-forces x_{k-1} with the ground truth and returns U,
the Markov-corrected logits and the confidence logits for every block and slot.

markov_w2 starts at zero, so a fresh DSpark drafts exactly like its DFlash backbone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from ..errors import DSparkError
from ..models.layers import Linear
from ..models.runtime import markov_greedy
from ..schedule import BatchOneAdmission
from ..sampling import argmax, sample_logits
from ..sequence import Sequence
from ..stats import RoundRecord, survival_feedback
from .base import Proposal
from .checkpoint import register
from .dflash import BlockTrainOutput, DFlashConfig, DFlashDrafter

HEAD_TYPES = ("vanilla", "gated", "rnn")


def _number(x) -> bool:
    """A finite JSON number (bool is an int in Python, but not a calibration value)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class CalibrationFit(NamedTuple):
    """One fit of calibration.json as the runtime applies it: c_k = sigmoid(z_k / T_k + b_k +
    e_k curvature(z_k) + d_k), d being the request's online offsets, stepped at online_rate."""
    temperatures: list[float]
    biases: list[float]
    online_rate: float
    curvatures: list[float]

    def to_json(self) -> dict:
        """calibration.json's form: "biases" always, "curvatures" and "online_rate" only where they
        are not 0."""
        return {"temperatures": list(self.temperatures), "biases": list(self.biases),
                **({"curvatures": list(self.curvatures)} if any(self.curvatures) else {}),
                **({"online_rate": self.online_rate} if self.online_rate else {})}


def calibration_fit(data: dict, gamma: int | None = None) -> CalibrationFit:
    """One fit of a calibration.json's content, checked: gamma positive finite temperatures (any
    number when gamma is None), as many finite biases, as many curvatures e with |e| <= 1 / T
    (beyond it the map from logit to confidence would not be monotone) and its online rate
    (`online_rate_of`). No "biases" or "curvatures" (files written before they existed) means
    zeros."""
    temps = data.get("temperatures") if isinstance(data, dict) else None
    n = gamma if gamma is not None else len(temps) if isinstance(temps, list) else "gamma"
    if not isinstance(temps, list) or len(temps) != n or not all(_number(t) and t > 0 for t in temps):
        raise DSparkError(f"calibration needs 'temperatures': {n} positive numbers, got {temps!r}")
    biases = data.get("biases", [0.0] * n)
    if not isinstance(biases, list) or len(biases) != n or not all(_number(b) for b in biases):
        raise DSparkError(f"calibration 'biases' must be {n} finite numbers (one per temperature), got {biases!r}")
    bends = data.get("curvatures", [0.0] * n)
    if (not isinstance(bends, list) or len(bends) != n
            or not all(_number(e) and abs(e) * t <= 1.0 + 1e-9 for e, t in zip(bends, temps))):
        raise DSparkError(f"calibration 'curvatures' must be {n} numbers e with |e| <= 1 / T (one per "
                          f"temperature), got {bends!r}")
    return CalibrationFit([float(t) for t in temps], [float(b) for b in biases], online_rate_of(data),
                          [float(e) for e in bends])


def curvature(logits: torch.Tensor) -> torch.Tensor:
    """2 log cosh(z / 2), the calibration's curvature feature (deepspec.eval.metrics.curvature)."""
    a = logits.abs()
    return a + 2.0 * torch.log1p(torch.exp(-a)) - 2.0 * math.log(2.0)


LOOKUP_SECTION = "behind_lookup"   # calibration.json: the fit for drafting behind n-gram lookup
# calibration.json's sampled fit (its top level) is for requests sampled at temperature 1; the
# optional "by_temperature" section holds fits for other sampling temperatures ({"0.7": {...}}), and
# a sampled request takes the fit whose temperature is nearest its own. The head is trained on the
# target's distribution at temperature 1: sharper sampling keeps more drafts than it predicts (at
# T 0.7 the T = 1 fit was under-confident by 4.5 points at position 1; RESULTS.md, session 36).
BY_TEMPERATURE = "by_temperature"
SAMPLED_FIT_TEMPERATURE = 1.0


def online_rate_of(data: dict) -> float:
    """A calibration section's "online_rate", the step of each request's online correction
    (stats.survival_feedback), checked: a number in [0, 1]; none (files written before it existed)
    means 0, no online correction."""
    rate = data.get("online_rate", 0.0) if isinstance(data, dict) else 0.0
    if not _number(rate) or not 0.0 <= rate <= 1.0:
        raise DSparkError(f"calibration 'online_rate' must be a number in [0, 1], got {rate!r}")
    return float(rate)


def behind_lookup_calibration(data: dict) -> dict:
    """The calibration that applies behind n-gram lookup: calibration.json's "behind_lookup" section
    replaces the fits it has (sampled: "temperatures" ...; "greedy"; each of "by_temperature") and the
    rest of the file supplies the others. A file without the section applies as it is."""
    section = data.get(LOOKUP_SECTION) if isinstance(data, dict) else None
    if section is None:
        return data
    if not isinstance(section, dict):
        raise DSparkError(f"calibration '{LOOKUP_SECTION}' section: must be a JSON object, got {section!r}")
    whole = (dict(section) if "temperatures" in section
             else {k: v for k, v in data.items() if k not in ("greedy", BY_TEMPERATURE, LOOKUP_SECTION)})
    if section.get("greedy", data.get("greedy")) is not None:
        whole["greedy"] = section.get("greedy", data.get("greedy"))
    fit_temperatures(data), fit_temperatures(section)              # checked before they are merged
    by_t = {**(data.get(BY_TEMPERATURE) or {}), **(section.get(BY_TEMPERATURE) or {})}
    if by_t:                                                       # each temperature's fit likewise
        whole[BY_TEMPERATURE] = by_t
    return whole


def fit_temperatures(data: dict) -> dict[float, str | None]:
    """The sampling temperatures a calibration's sampled fits are for: {1.0: None (the top level),
    0.7: "0.7" (its key in "by_temperature"), ...}, checked."""
    section = data.get(BY_TEMPERATURE) if isinstance(data, dict) else None
    out: dict[float, str | None] = {SAMPLED_FIT_TEMPERATURE: None}
    if section is None:
        return out
    if not isinstance(section, dict):
        raise DSparkError(f"calibration '{BY_TEMPERATURE}' section: must be a JSON object, got {section!r}")
    for key in section:
        try:
            t = float(key)
        except ValueError:
            t = float("nan")
        if not (math.isfinite(t) and t > 0) or t == SAMPLED_FIT_TEMPERATURE:
            raise DSparkError(f"calibration '{BY_TEMPERATURE}' section: keys are sampling temperatures > 0 "
                              f"other than {SAMPLED_FIT_TEMPERATURE:g} (the top level's), got {key!r}")
        out[t] = key
    return out


def nearest_fit_temperature(data: dict | list[float], temperature: float) -> float:
    """The temperature of the sampled fit that applies to a request sampled at `temperature`: the
    nearest one the calibration has (the higher of two equally near). data: the calibration, or
    the temperatures of its fits."""
    temps = data if isinstance(data, list) else fit_temperatures(data)
    return min(temps, key=lambda t: (abs(t - temperature), -t))


def calibration_in_use(data: dict, greedy: bool, behind_lookup: bool = False,
                       gamma: int | None = None,
                       temperature: float = SAMPLED_FIT_TEMPERATURE) -> CalibrationFit:
    """The fit (temperatures, biases, online rate, curvatures) that the runtime applies to a
    request's confidences, from calibration.json's content, checked (gamma of each when given):
    greedy requests read the "greedy" section when there is one, sampled ones the fit for the
    sampling temperature nearest theirs (`nearest_fit_temperature`), and behind n-gram lookup the
    file as `behind_lookup_calibration` makes it. The one rule: DSparkDrafter applies it, `deepspec
    calibrate --score` scores recorded rounds with it."""
    if behind_lookup and isinstance(data, dict) and data.get(LOOKUP_SECTION) is not None:
        try:
            return calibration_in_use(behind_lookup_calibration(data), greedy, False, gamma, temperature)
        except DSparkError as e:
            prefix = f"calibration '{LOOKUP_SECTION}' section: "
            raise DSparkError(str(e) if str(e).startswith(prefix) else prefix + str(e)) from None
    if greedy and isinstance(data, dict) and data.get("greedy") is not None:
        try:
            return calibration_fit(data["greedy"], gamma)
        except DSparkError as e:
            raise DSparkError(f"calibration 'greedy' section: {e}") from None
    if not greedy:
        temps = fit_temperatures(data)
        key = temps[nearest_fit_temperature(list(temps), temperature)]
        if key is not None:
            try:
                section = data[BY_TEMPERATURE][key]
                return calibration_fit(section, gamma)
            except DSparkError as e:
                raise DSparkError(f"calibration '{BY_TEMPERATURE}' fit {key}: {e}") from None
    return calibration_fit(data, gamma)


@dataclass
class DSparkConfig(DFlashConfig):
    markov_rank: int = 256
    markov_head_type: str = "vanilla"           # "vanilla" (Markov, default) | "gated" | "rnn"
    enable_confidence_head: bool = True
    confidence_head_with_markov: bool = True    # confidence input [h; W1[x_prev]] instead of h


class MarkovHead(nn.Module):
    """The sequential head: a low-rank bias on each slot's logits from the previous token."""

    def __init__(self, kind: str, vocab_in: int, vocab_out: int, rank: int, hidden: int):
        super().__init__()
        self.kind, self.rank = kind, rank
        self.markov_w1 = nn.Embedding(vocab_in, rank)
        self.markov_w2 = Linear(rank, vocab_out, bias=False)
        if kind == "gated":
            self.gate_proj = Linear(hidden + rank, rank)
        elif kind == "rnn":
            self.joint_proj = Linear(2 * rank + hidden, 3 * rank)

    def embed(self, prev: torch.Tensor) -> torch.Tensor:
        """Previous target token ids [...] -> e = W1[x] [..., r]."""
        return self.markov_w1(prev)

    def init_state(self, like: torch.Tensor) -> torch.Tensor | None:
        """The recurrent state for hidden states `like` [..., H] (RNN head only)."""
        if self.kind != "rnn":
            return None
        return like.new_zeros(like.shape[:-1] + (self.rank,))

    def step(self, e: torch.Tensor, h: torch.Tensor, state: torch.Tensor | None):
        """One slot: e [..., r], h [..., H] -> (bias [..., V'], next state)."""
        if self.kind == "vanilla":
            z = e
        elif self.kind == "gated":
            z = torch.sigmoid(self.gate_proj(torch.cat([h, e], dim=-1))) * e
        else:
            a, c, o = self.joint_proj(torch.cat([state, e, h], dim=-1)).chunk(3, dim=-1)
            gate = torch.sigmoid(a)
            state = gate * state + (1.0 - gate) * torch.tanh(c)
            z = torch.tanh(o)
        return self.markov_w2(z), state

    def block_bias(self, e: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Teacher-forced biases of whole blocks: e [..., g, r], h [..., g, H] -> [..., g, V']."""
        if self.kind != "rnn":
            return self.step(e, h, None)[0]
        state = self.init_state(h[..., 0, :])
        out = []
        for k in range(h.shape[-2]):
            bias, state = self.step(e[..., k, :], h[..., k, :], state)
            out.append(bias)
        return torch.stack(out, dim=-2)


class ConfidenceHead(nn.Module):
    def __init__(self, in_dim: int):
        super().__init__()
        self.proj = nn.Linear(in_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """[..., in_dim] -> raw fp32 confidence logits [...]."""
        return self.proj(features).squeeze(-1).float()


@register
class DSparkDrafter(DFlashDrafter):
    """DSpark drafter (algorithm "dspark"): the DFlash state_dict plus markov_head.markov_w1.weight
    [V, r], markov_head.markov_w2.weight [V', r] (gate_proj.* / joint_proj.* for the gated / RNN
    heads) and confidence_head.proj.{weight [1, H + r], bias [1]}."""
    algorithm = "dspark"
    Config = DSparkConfig
    drafts_behind_lookup = False   # behind_lookup() sets it: the file's "behind_lookup" fits apply

    def _validate(self, config, tcfg, taps) -> None:
        super()._validate(config, tcfg, taps)
        if config.markov_head_type not in HEAD_TYPES:
            raise DSparkError(f"dspark: markov_head_type must be one of {', '.join(HEAD_TYPES)}, "
                              f"got {config.markov_head_type!r}")
        if config.markov_rank < 1:
            raise DSparkError(f"dspark: markov_rank must be >= 1, got {config.markov_rank}")

    def _build_heads(self) -> None:
        cfg, h = self.config, self.target_cfg.hidden_size
        self.markov_head = MarkovHead(cfg.markov_head_type, self.target_cfg.vocab_size, self.vocab_out,
                                      cfg.markov_rank, h)
        if cfg.enable_confidence_head:
            self.confidence_head = ConfidenceHead(h + (cfg.markov_rank if cfg.confidence_head_with_markov else 0))
        else:
            self.confidence_head = None
        self.load_calibration({"temperatures": [1.0] * self.gamma})   # the identity until a file is loaded

    def _init_weights(self) -> None:
        super()._init_weights()
        with torch.no_grad():
            self.markov_head.markov_w2.weight.zero_()

    # --- calibration ------------------------------------------------------------------------
    def load_calibration(self, data: dict) -> None:
        """calibration.json: {"temperatures": [T_0, ..., T_{gamma-1}], "biases": [b_0, ..., b_{gamma-1}]}
        for sampled requests; "biases" is optional (files written before it existed): zeros. An
        optional "greedy" section of the same form is used for greedy requests, whose verification
        rule differs (a draft token survives only as the target's argmax): one fit cannot match both.
        An optional "behind_lookup" section applies once this drafter drafts behind n-gram lookup.
        An optional "by_temperature" section holds sampled fits for other sampling temperatures.
        Which fit applies is `calibration_in_use`'s rule; every one is checked here, all or nothing."""
        fits, fit_temps = {}, {}
        for behind in (False, True):
            section = behind_lookup_calibration(data) if behind else data
            fit_temps[behind] = list(fit_temperatures(section))
            for t in (None, *fit_temps[behind]):                  # None: greedy
                fits[(t is None, behind, t)] = calibration_in_use(data, t is None, behind, self.gamma,
                                                                  t or SAMPLED_FIT_TEMPERATURE)
        self.calibration_file, self._fits, self._fit_temps = data, fits, fit_temps

    def fit_in_use(self, greedy: bool, temperature: float = SAMPLED_FIT_TEMPERATURE) -> CalibrationFit:
        """The fit (temperatures, biases, online rate, curvatures) applied now to a greedy request or
        to one sampled at `temperature`."""
        behind = self.drafts_behind_lookup
        if greedy:
            return self._fits[(True, behind, None)]
        return self._fits[(False, behind, nearest_fit_temperature(self._fit_temps[behind], temperature))]

    def _form(self, behind: bool) -> dict:
        """The fits that apply (behind lookup or not) in calibration.json's form
        (`CalibrationFit.to_json`; "greedy" only where the file has such a section)."""
        data = behind_lookup_calibration(self.calibration_file) if behind else self.calibration_file
        out = self._fits[(False, behind, SAMPLED_FIT_TEMPERATURE)].to_json()
        if data.get("greedy") is not None:
            out["greedy"] = self._fits[(True, behind, None)].to_json()
        others = {key: self._fits[(False, behind, t)].to_json() for t, key in fit_temperatures(data).items() if key}
        if others:
            out[BY_TEMPERATURE] = others
        return out

    def calibration(self) -> dict:
        """The calibration in use in calibration.json's form; before behind_lookup() the file's
        "behind_lookup" section is kept (export writes it back)."""
        out = self._form(self.drafts_behind_lookup)
        if not self.drafts_behind_lookup and self.calibration_file.get(LOOKUP_SECTION) is not None:
            out[LOOKUP_SECTION] = self._form(True)
        return out

    def behind_lookup(self) -> None:
        """This drafter now drafts only where n-gram lookup has nothing (LookupFirst calls it): its
        calibration's "behind_lookup" section, when it has one, becomes the one in use."""
        self.drafts_behind_lookup = True

    def calibrated(self, confidence_logits: torch.Tensor, greedy: bool = False,
                   offsets: list[float] | None = None,
                   temperature: float = SAMPLED_FIT_TEMPERATURE) -> torch.Tensor:
        """sigmoid(logit_k / T_k + b_k + e_k curvature(logit_k) + d_k) over the last dimension (slots
        0..n-1), with the fit for a greedy request or for one sampled at `temperature` (`fit_in_use`);
        d = a request's online offsets (zero past their end, or without them)."""
        n = confidence_logits.shape[-1]
        like = dict(dtype=confidence_logits.dtype, device=confidence_logits.device)
        temps, b, bends = self.calibration_terms(greedy, temperature, offsets, n)
        x = confidence_logits / torch.tensor(temps, **like) + torch.tensor(b, **like)
        if any(bends):
            x = x + torch.tensor(bends, **like) * curvature(confidence_logits)
        return torch.sigmoid(x)

    def calibration_terms(self, greedy: bool, temperature: float, offsets: list[float] | None,
                          n: int) -> tuple[list[float], list[float], list[float]]:
        """(T_k, b_k + d_k, e_k) of slots 0..n-1 (`calibrated`'s terms)."""
        fit = self.fit_in_use(greedy, temperature)
        b = list(fit.biases[:n])
        for k, d in enumerate((offsets or [])[:n]):
            b[k] += d
        return list(fit.temperatures[:n]), b, list(fit.curvatures[:n])

    def verified(self, seq: Sequence, proposal: Proposal, record: RoundRecord) -> None:
        """The request's online calibration learns from the round (when the calibration has a rate)."""
        rate = self.fit_in_use(seq.params.greedy, seq.params.temperature).online_rate
        if rate and proposal.confidences is not None:
            survival_feedback(seq.confidence_offsets, proposal.confidences.tolist(), record, rate)

    # --- heads --------------------------------------------------------------------------------
    def _confidence(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor | None:
        if self.confidence_head is None:
            return None
        feats = torch.cat([h, e.to(h.dtype)], dim=-1) if self.config.confidence_head_with_markov else h
        return self.confidence_head(feats)

    def _train_heads(self, out: BlockTrainOutput) -> None:
        head = self.markov_head
        e = head.embed(out.prev_tokens)
        autocast_u = torch.is_autocast_enabled(out.logits.device.type) and out.logits.dtype != torch.float32
        if head.kind == "vanilla" and autocast_u:
            # U in autocast's dtype (DraftHead under bf16 training): U + e @ W2^T as one addmm, instead of
            # the bias, two fp32 copies and an fp32 add over [blocks, gamma, V'] (and their backward)
            u = out.logits.reshape(-1, out.logits.shape[-1])
            out.markov_logits = torch.addmm(u, e.reshape(-1, e.shape[-1]), head.markov_w2.weight.t()).view_as(out.logits)
        else:
            out.markov_logits = out.logits + head.block_bias(e, out.hidden).float()
        out.confidence_logits = self._confidence(out.hidden, e)

    def _packed_markov_w2(self):
        """W2's packed weight when the greedy Markov loop can run in C (runtime.markov_greedy): a
        vanilla head on the integer runtime, its weights unchanged since they were packed."""
        head = self.markov_head
        w2 = head.markov_w2
        pw = w2.packed
        if (self.runtime is None or torch.is_grad_enabled() or head.kind != "vanilla" or pw is None
                or pw.precision != "fast" or not pw.packs(w2.weight) or head.markov_w1.weight.dtype != torch.float32):
            return None
        return pw

    def round_heads(self) -> dict:
        """rt_draft_round's fields for the heads (runtime.DraftForward.round_args): the greedy
        vanilla Markov loop runs inside the round's C call wherever runtime.markov_greedy would run
        it, with the confidence head after each slot's product."""
        pw = self._packed_markov_w2()
        if pw is None:
            return {}
        head, d2t = self.markov_head, self.d2t
        out = {"w1": head.markov_w1.weight.detach().contiguous(), "r": head.rank, "w2": pw.tiles,
               "w2_S": pw.tile_scale, "w2_L": pw.tile_low, "w2_bits": pw.kind}
        if d2t is not None:
            out["d2t"] = d2t.to(torch.int64).contiguous()
        if self.confidence_head is not None:
            proj = self.confidence_head.proj
            out.update(conf_w=proj.weight.detach().float().reshape(-1).contiguous(), conf_b=float(proj.bias),
                       conf_markov=int(self.config.confidence_head_with_markov))
        return out

    def _sample_in_c(self, seqs: list[Sequence], logits: torch.Tensor, hidden: torch.Tensor, anchors: torch.Tensor):
        """One sampled request's Markov loop in one C call (runtime.DraftForward.markov_sample) where
        it can run: the vanilla head on the runtime (round_args' w1), sampling by temperature and
        top-p (no top-k), and no stop rule but the dspark policy's batch-1 admission, whose SPS
        values the C loop reads. Returns (draft ids [1, n], final logits, distributions [n, V'],
        confidence logits [1, n] or None), or None: the loop below. The same distribution (softmax,
        then the nucleus) as `probabilities`, by the same C code on the CPU, drawn at uniforms from
        the request's generator."""
        if len(seqs) != 1 or self.runtime is None or seqs[0].params.top_k:
            return None
        args = self.runtime.round_args(self)
        s = seqs[0]
        if args is None or not args.w1 or (s.draft_stop is not None and not isinstance(s.draft_stop, BatchOneAdmission)):
            return None
        g = logits.shape[1]                                   # the slots this round drafts
        temps, cal_b, cal_e = self.calibration_terms(False, s.params.temperature, s.confidence_offsets, g)
        sps = None if s.draft_stop is None else s.draft_stop.steps_per_second(g + 1)
        u = torch.rand(g, generator=s.generator, device=s.generator.device)
        idx, final, q, conf = self.runtime.markov_sample(args, logits[0], hidden[0], int(anchors[0]),
                                                         s.params.temperature, s.params.top_p, u, temps, cal_b,
                                                         cal_e, sps)
        return idx[None], final[None], q, None if conf is None else conf[None]

    def _sample(self, seqs: list[Sequence], logits: torch.Tensor, hidden: torch.Tensor,
                anchors: torch.Tensor, drafted=None) -> tuple[list[Proposal], torch.Tensor]:
        """Left to right over the block, all sequences at once per slot, or in C: drafted holds
        (draft ids, their logits, confidence logits) when the round's call already ran the loop
        for a greedy request (DFlashDrafter._round_in_c), and `_sample_in_c` runs it for one
        sampled request."""
        b, g = logits.shape[:2]
        head = self.markov_head
        greedy = all(s.params.greedy for s in seqs)
        probs: list[list[torch.Tensor]] = [[] for _ in seqs]
        w2 = self._packed_markov_w2() if greedy and drafted is None else None
        sampled_in_c = None if greedy or drafted is not None else self._sample_in_c(seqs, logits, hidden, anchors)
        if drafted is not None:
            idx, final, conf = drafted
        elif sampled_in_c is not None:
            idx, final, q, conf = sampled_in_c
            probs[0] = list(q)                                        # its rows, as the loop below appends them
        elif w2 is not None:
            # the same loop in one C call (runtime.markov_greedy): the same products and argmaxes
            idx, final = markov_greedy(logits, head.markov_w1.weight, w2, self.d2t, anchors)
            prev = torch.cat([anchors[:, None], self.to_target_ids(idx[:, :-1])], dim=1)
            conf = self._confidence(hidden, head.embed(prev))                 # [B, gamma] or None
        else:
            prev = anchors                                     # target ids of x_{k-1}
            state = head.init_state(hidden[:, 0])
            final = torch.empty_like(logits)
            idx = torch.empty(b, g, dtype=torch.long, device=logits.device)
            per_slot, conf_slots = [], []
            # A lone sampled request stops at the first draft its policy would not verify
            # (Sequence.draft_stop): slot k's confidence needs only x_{k-1}, so it is known before
            # x_k is drawn, and the choice depends on no value the policy's own rule does not read.
            stop = seqs[0].draft_stop if b == 1 and not greedy and self.confidence_head is not None else None
            for k in range(g):
                e = head.embed(prev)
                if stop is not None:
                    conf_slots.append(self._confidence(hidden[:, k], e))
                    s = seqs[0]
                    c = self.calibrated(torch.stack(conf_slots, -1)[0], False, s.confidence_offsets, s.params.temperature)
                    if not stop(torch.cumprod(c.double().clamp(0, 1), 0).tolist()):
                        final[:, k:] = logits[:, k:]          # slots not drafted keep the backbone's logits
                        conf_slots.pop()
                        break
                per_slot.append(e)
                bias, state = head.step(e, hidden[:, k], state)
                lk = logits[:, k] + bias.float()
                final[:, k] = lk
                if greedy:
                    idx[:, k] = argmax(lk)
                else:
                    for j, s in enumerate(seqs):
                        t, p = sample_logits(lk[j:j + 1], s.params, s.generator)
                        idx[j, k] = t[0]
                        probs[j].append(p[0])
                prev = self.to_target_ids(idx[:, k])
            n = len(per_slot)
            idx = idx[:, :n]
            if stop is not None:
                conf = torch.stack(conf_slots, -1) if n else hidden.new_zeros(b, 0)
            else:
                # the confidence of every slot at once: it reads the slot's state and its x_{k-1} only
                conf = self._confidence(hidden, torch.stack(per_slot, dim=1))     # [B, gamma] or None
        out = []
        for j, s in enumerate(seqs):
            # greedy verification compares argmaxes: a greedy request's drafts need no distribution
            p = None if s.params.greedy else self.full_probs(
                torch.stack(probs[j]) if probs[j] else logits.new_zeros(0, logits.shape[-1]))
            c = None if conf is None else conf[j]
            out.append(Proposal(self.to_target_ids(idx[j]).tolist(), p,
                                confidences=None if c is None else self.calibrated(
                                    c, s.params.greedy, s.confidence_offsets, s.params.temperature),
                                confidence_logits=c))
        return out, final
