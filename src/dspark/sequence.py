"""The state of one request as the engine and the drafters see it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .sampling import SamplingParams
from .stats import RoundRecord


@dataclass
class Sequence:
    id: int
    tokens: list[int]                 # prompt + committed output; the last one is the anchor
    prompt_len: int
    params: SamplingParams
    generator: torch.Generator
    max_new_tokens: int
    slot: int = -1                    # target KV-cache slot
    num_processed: int = 0            # tokens[:num_processed] are in the target's KV cache
    draft_state: Any = None           # owned by the drafter
    stop: list[str] = field(default_factory=list)
    rounds: list[RoundRecord] = field(default_factory=list)   # one per verification round (dspark.stats)
    # the request's online calibration: a logit offset per draft slot (stats.survival_feedback)
    confidence_offsets: list[float] = field(default_factory=list)
    # Set by the engine for one drafting call: the policy's rule (Policy.draft_stop) saying, from the
    # prefix survivals of this request's drafts so far, whether the last would still be verified; a
    # drafter that drafts slot by slot stops at the first that would not (None: the whole block)
    draft_stop: Any = None
    # Set by the engine for one drafting call too: how many slots of its block a block drafter
    # drafts (Policy.draft_width; None: all of them)
    draft_width: int | None = None

    @property
    def num_new(self) -> int:
        return len(self.tokens) - self.prompt_len

    @property
    def output_ids(self) -> list[int]:
        return self.tokens[self.prompt_len:]
