"""Per-sequence KV cache in fixed slots, with O(1) rollback.

Per layer, `k[i]` and `v[i]` are indexed [slot, position, kv_head, head_dim]; in memory each is
head-major, [slots, kv_heads, max_len, head_dim] (`k[i]` is a transposed view): one head's keys lie
one after another, as torch's attention takes them ([B, heads, len, D]) and the CPU runtime's
attention (qkernels.c rt_attention) reads the values. The CPU runtime's caches (`blocked_keys`) hold
the keys in blocks of KEY_BLOCK positions, each block transposed: `k[i]` is [slots, kv_heads,
blocks, head_dim, KEY_BLOCK], so one vector load gives one dim of 16 consecutive keys and a query's
scores need no sums across lanes (session 42). `keys(i)` reads either layout position-major.
A sequence owns one slot; its length is a Python int, so rejecting draft tokens is just lowering
that number (the stale entries are overwritten by the next write). Sliding-window layers keep their
full history too and limit what they see through the mask, so rollback is the same for them.
"""
from __future__ import annotations

import torch

from ..batch import FlatBatch


class CacheFullError(RuntimeError):
    pass


KEY_BLOCK = 16   # qkernels.c KEY_BLOCK


class KVCache:
    def __init__(self, num_layers: int, num_slots: int, max_len: int, num_kv_heads: int,
                 head_dim: int, dtype=torch.float32, device="cpu", blocked_keys: bool = False):
        shape = (num_slots, num_kv_heads, max_len, head_dim)
        # Zeros, not empty: masked keys still enter the value product, and 0 * NaN would be NaN.
        if blocked_keys:
            kshape = (num_slots, num_kv_heads, -(-max_len // KEY_BLOCK), head_dim, KEY_BLOCK)
            self.k = [torch.zeros(kshape, dtype=dtype, device=device) for _ in range(num_layers)]
        else:
            self.k = [torch.zeros(shape, dtype=dtype, device=device).transpose(1, 2) for _ in range(num_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device).transpose(1, 2) for _ in range(num_layers)]
        self.num_slots, self.max_len, self.blocked_keys = num_slots, max_len, blocked_keys
        self.lengths = [0] * num_slots
        self._free = list(range(num_slots - 1, -1, -1))

    @staticmethod
    def head_major(t: torch.Tensor) -> bool:
        """Whether a [slots, max_len, kv_heads, head_dim] tensor lies head-major in memory, as
        KVCache's do (what the CPU runtime's attention reads through its address)."""
        return t.transpose(1, 2).is_contiguous()

    @staticmethod
    def block_keys(keys: torch.Tensor) -> torch.Tensor:
        """[slots, len, kv_heads, D] keys -> the blocked layout [slots, kv_heads, blocks, D, KEY_BLOCK]
        (positions past len zero)."""
        s, n, h, d = keys.shape
        nb = -(-n // KEY_BLOCK)
        padded = keys.new_zeros(s, nb * KEY_BLOCK, h, d)
        padded[:, :n] = keys
        return padded.view(s, nb, KEY_BLOCK, h, d).permute(0, 3, 1, 4, 2).contiguous()

    @staticmethod
    def unblock_keys(blocked: torch.Tensor) -> torch.Tensor:
        """The blocked layout -> [slots, blocks * KEY_BLOCK, kv_heads, D] (a copy)."""
        s, h, nb, d, kb = blocked.shape
        return blocked.permute(0, 2, 4, 1, 3).reshape(s, nb * kb, h, d)

    def keys(self, layer: int) -> torch.Tensor:
        """Layer `layer`'s keys [slots, max_len, kv_heads, D] whatever the layout (a copy when blocked)."""
        k = self.k[layer]
        return self.unblock_keys(k)[:, :self.max_len] if self.blocked_keys else k

    def copy_prefix(self, other: "KVCache", n: int) -> None:
        """The first n entries of every slot and layer of `other` (same layout; copied into this cache's
        dtype and device), e.g. into a larger cache."""
        for mine, theirs in zip(self.k, other.k):
            if self.blocked_keys:
                nb = -(-n // KEY_BLOCK)
                mine[:theirs.shape[0], :, :nb] = theirs[:, :, :nb]
            else:
                mine[:theirs.shape[0], :n] = theirs[:, :n]
        for mine, theirs in zip(self.v, other.v):
            mine[:theirs.shape[0], :n] = theirs[:, :n]

    @classmethod
    def for_model(cls, cfg, num_slots: int, max_len: int, dtype, device, num_layers: int | None = None,
                  blocked_keys: bool = False):
        return cls(num_layers or cfg.num_layers, num_slots, max_len, cfg.num_kv_heads, cfg.head_dim,
                   dtype, device, blocked_keys)

    # --- slot bookkeeping -------------------------------------------------------------------
    @property
    def free_slots(self) -> int:
        return len(self._free)

    @property
    def free_slot_ids(self) -> tuple[int, ...]:
        """The free slots, the one `allocate()` takes by default last."""
        return tuple(self._free)

    def allocate(self, slot: int | None = None, keep: int = 0) -> int:
        """A free slot (the given one, or any) whose first `keep` entries count as held. Released
        slots keep their entries, so a new sequence that starts with the tokens a slot's last
        sequence held can skip computing them again (the engine's prefix reuse)."""
        if not self._free:
            raise CacheFullError("no free KV-cache slot")
        if slot is None:
            slot = self._free.pop()
        elif slot in self._free:
            self._free.remove(slot)
        else:
            raise ValueError(f"KV-cache slot {slot} is not free")
        if not 0 <= keep <= self.max_len:
            raise ValueError(f"cannot keep {keep} entries of a slot that holds {self.max_len}")
        self.lengths[slot] = keep
        return slot

    def release(self, slot: int) -> None:
        self.lengths[slot] = 0
        self._free.append(slot)

    def truncate(self, slot: int, length: int) -> None:
        """Forget everything past `length` tokens (rejected drafts)."""
        if not 0 <= length <= self.lengths[slot]:
            raise ValueError(f"cannot truncate slot {slot} of length {self.lengths[slot]} to {length}")
        self.lengths[slot] = length

    # --- reads and writes for one forward ---------------------------------------------------
    def check_room(self, batch: FlatBatch) -> None:
        for slot, start, end in zip(batch.slots, batch.starts, batch.ends):
            if start != self.lengths[slot]:
                raise ValueError(f"slot {slot} holds {self.lengths[slot]} tokens, batch starts at {start}")
            if end > self.max_len:
                raise CacheFullError(f"sequence needs {end} cache entries, the cache holds {self.max_len}")

    def write(self, layer: int, batch: FlatBatch, k: torch.Tensor, v: torch.Tensor) -> None:
        """k, v [N, kv_heads, D] for the batch's new tokens."""
        if self.blocked_keys:
            by_block = self.k[layer].permute(0, 2, 4, 1, 3)      # [slots, blocks, KEY_BLOCK, kv_heads, D], a view
            by_block[batch.row_slot, batch.positions // KEY_BLOCK, batch.positions % KEY_BLOCK] = k
            self.v[layer][batch.row_slot, batch.positions] = v
        elif batch.single:
            s, a, b = batch.slots[0], batch.starts[0], batch.ends[0]
            self.k[layer][s, a:b] = k
            self.v[layer][s, a:b] = v
        else:
            self.k[layer][batch.row_slot, batch.positions] = k
            self.v[layer][batch.row_slot, batch.positions] = v

    def read(self, layer: int, batch: FlatBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys/values of the batch's sequences up to their new ends: [B, kv_heads, max_ctx, D]."""
        if self.blocked_keys:
            idx, nb = batch.slot_index, -(-batch.max_ctx // KEY_BLOCK)
            k = self.unblock_keys(self.k[layer][:, :, :nb].index_select(0, idx))[:, :batch.max_ctx]
            return k.transpose(1, 2), self.v[layer][:, :batch.max_ctx].index_select(0, idx).transpose(1, 2)
        if batch.single:
            s, b = batch.slots[0], batch.ends[0]
            return (self.k[layer][s, :b].unsqueeze(0).transpose(1, 2),
                    self.v[layer][s, :b].unsqueeze(0).transpose(1, 2))
        k = self.k[layer][:, :batch.max_ctx].index_select(0, batch.slot_index)
        v = self.v[layer][:, :batch.max_ctx].index_select(0, batch.slot_index)
        return k.transpose(1, 2), v.transpose(1, 2)

    def commit(self, batch: FlatBatch) -> None:
        for slot, end in zip(batch.slots, batch.ends):
            self.lengths[slot] = end
