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
"""
from __future__ import annotations

from .cli import add_export_arguments, add_import_arguments, run_export, run_import, serve_hint
from .layouts import LAYOUTS, SUPPORTED, head_rows
from .read import detect_layout, import_drafter, read_layout
from .validate import (VALIDATORS, validate_deepspec, validate_dflash, validate_eagle3,
                       validate_speculators)
from .write import (_BUILDERS, build_layout, check_engine_form, check_supported, check_taps_below_last,
                    draft_layer_config, export_drafter, hf_config_from_model_config)

__all__ = ["LAYOUTS", "SUPPORTED", "VALIDATORS", "validate_deepspec", "validate_dflash", "validate_eagle3",
           "validate_speculators", "build_layout", "export_drafter", "import_drafter", "read_layout",
           "detect_layout", "hf_config_from_model_config", "check_supported", "check_engine_form",
           "check_taps_below_last", "draft_layer_config", "head_rows", "serve_hint",
           "add_export_arguments", "run_export", "add_import_arguments", "run_import", "_BUILDERS"]
