"""The layouts, which drafter goes where, and why not (shared by validate / write / read / cli)."""
from __future__ import annotations

import torch


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

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
           "float64": torch.float64}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
# verifier architectures written into speculators_config when the target's config.json is not at hand
HF_ARCHS = {"llama": "LlamaForCausalLM", "qwen3": "Qwen3ForCausalLM", "gemma3": "Gemma3ForCausalLM"}



def names(items: list[str], limit: int = 8) -> str:
    """A short listing of tensor names for error messages."""
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def head_rows(drafter) -> torch.Tensor:
    """The target LM head's rows of the draft vocabulary ([V', H]; [V, H] for the full one)."""
    from dspark.drafters import vocab as dvocab
    w = drafter.target_model.lm_head.weight.detach()
    if getattr(drafter, "d2t", None) is None:
        return w
    return w.index_select(0, dvocab.target_ids(drafter.d2t).to(w.device))
