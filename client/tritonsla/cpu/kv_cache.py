"""A paged KV cache: one pool of fixed-size blocks shared by every sequence.

Capacity is `max_tokens // tokens_per_block` blocks (as TensorRT-LLM sizes its paged cache from
`max_tokens_in_paged_kv_cache` and `tokens_per_block`). A sequence owns a list of blocks (its
block table) and grows block by block; finishing, cancelling or pausing it returns its blocks.
K and V live in one pool laid out `[layer, slot, 2 (K, V), head, head_dim]`, where a slot is one
token position of one block (`slot = block * tokens_per_block + offset`); one gather fetches
both. The pool comes from `np.zeros`, so the OS backs pages only once they are written.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np


class PagedKVCache:
    """Block accounting plus K/V storage for every layer."""

    def __init__(
        self, n_layer: int, n_head: int, head_dim: int, max_tokens: int, tokens_per_block: int
    ) -> None:
        if tokens_per_block < 1 or max_tokens < tokens_per_block:
            raise ValueError(
                f"KV cache of {max_tokens} tokens cannot hold one block of {tokens_per_block}"
            )
        self.tokens_per_block = tokens_per_block
        self.num_blocks = max_tokens // tokens_per_block
        self.kv = np.zeros(
            (n_layer, self.num_blocks * tokens_per_block, 2, n_head, head_dim), np.float32
        )
        self._free = list(range(self.num_blocks - 1, -1, -1))
        self._slots: dict[Hashable, np.ndarray] = {}

    @property
    def num_free_blocks(self) -> int:
        """Blocks no sequence holds."""
        return len(self._free)

    @property
    def num_used_blocks(self) -> int:
        """Blocks held by sequences."""
        return self.num_blocks - len(self._free)

    def blocks_for(self, n_tokens: int) -> int:
        """Blocks needed to hold `n_tokens` tokens."""
        return -(-n_tokens // self.tokens_per_block)

    def capacity(self, seq: Hashable) -> int:
        """Tokens the blocks held by `seq` can store."""
        slots = self._slots.get(seq)
        return 0 if slots is None else len(slots)

    def missing_blocks(self, seq: Hashable, n_tokens: int) -> int:
        """Blocks `seq` still needs to hold `n_tokens` tokens in total."""
        return max(0, self.blocks_for(n_tokens) - self.capacity(seq) // self.tokens_per_block)

    def reserve(self, seq: Hashable, n_tokens: int) -> bool:
        """Grow `seq` to hold `n_tokens` tokens; all or nothing. False when blocks run out."""
        missing = self.missing_blocks(seq, n_tokens)
        if missing > len(self._free):
            return False
        if missing:
            blocks = np.array([self._free.pop() for _ in range(missing)], np.int64)
            offsets = np.arange(self.tokens_per_block, dtype=np.int64)
            new = (blocks[:, None] * self.tokens_per_block + offsets).reshape(-1)
            old = self._slots.get(seq)
            self._slots[seq] = new if old is None else np.concatenate([old, new])
        return True

    def free(self, seq: Hashable) -> None:
        """Return every block of `seq` to the pool (no-op for an unknown sequence)."""
        slots = self._slots.pop(seq, None)
        if slots is not None:
            self._free.extend(
                int(b) for b in slots[:: self.tokens_per_block] // self.tokens_per_block
            )

    def slots(self, seq: Hashable, start: int, stop: int) -> np.ndarray:
        """Slot indices of token positions `[start, stop)` of `seq` (must be reserved)."""
        slots = self._slots[seq]
        if stop > len(slots):
            raise IndexError(f"positions up to {stop} exceed the {len(slots)} reserved for {seq!r}")
        return slots[start:stop]
