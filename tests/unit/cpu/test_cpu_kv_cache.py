"""Paged KV cache: capacity in blocks, all-or-nothing growth, freeing, slot addresses."""

from __future__ import annotations

import numpy as np
import pytest

from tritonsla.cpu.kv_cache import PagedKVCache


def test_capacity_is_whole_blocks_of_the_token_budget() -> None:
    cache = PagedKVCache(n_layer=2, n_head=2, head_dim=4, max_tokens=100, tokens_per_block=32)
    assert cache.num_blocks == 3 and cache.num_free_blocks == 3
    assert cache.kv.shape == (2, 96, 2, 2, 4)
    with pytest.raises(ValueError, match="cannot hold one block"):
        PagedKVCache(1, 1, 1, max_tokens=16, tokens_per_block=32)


def test_reserve_grows_block_by_block_and_is_all_or_nothing() -> None:
    cache = PagedKVCache(1, 1, 1, max_tokens=40, tokens_per_block=8)  # 5 blocks
    assert cache.reserve("a", 9) and cache.capacity("a") == 16 and cache.num_used_blocks == 2
    assert cache.reserve("a", 16) and cache.num_used_blocks == 2  # fits the blocks it has
    assert cache.missing_blocks("b", 30) == 4
    assert not cache.reserve("b", 30)  # needs 4, only 3 free: nothing taken
    assert cache.num_free_blocks == 3 and cache.capacity("b") == 0
    assert cache.reserve("b", 24) and cache.num_free_blocks == 0
    cache.free("a")
    assert cache.num_free_blocks == 2 and cache.capacity("a") == 0
    cache.free("a")  # freeing twice is harmless
    assert cache.num_free_blocks == 2


def test_slots_address_each_position_inside_its_blocks() -> None:
    cache = PagedKVCache(1, 1, 1, max_tokens=32, tokens_per_block=4)
    cache.reserve("a", 4)
    cache.reserve("b", 4)
    cache.reserve("a", 6)  # a's second block comes after b's
    slots = cache.slots("a", 0, 6)
    assert slots.tolist() == [0, 1, 2, 3, 8, 9]
    assert cache.slots("b", 1, 3).tolist() == [5, 6]
    assert len(np.unique(np.concatenate([slots, cache.slots("b", 0, 4)]))) == 10
    with pytest.raises(IndexError, match="exceed the 8 reserved"):
        cache.slots("a", 0, 9)
