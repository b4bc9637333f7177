"""Settings of the CPU engine, named after TensorRT-LLM's executor and Triton parameters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tritonsla.cpu.errors import EngineConfigError
from tritonsla.cpu.layers import PRECISIONS, Precision

Policy = Literal["guaranteed_no_evict", "max_utilization"]
POLICIES: tuple[str, ...] = ("guaranteed_no_evict", "max_utilization")


@dataclass(frozen=True)
class EngineConfig:
    """How one engine runs.

    `None` sizes derive from the checkpoint: `max_seq_len` = n_positions, `max_input_len` =
    max_seq_len - 1, `max_tokens_in_paged_kv_cache` = max_batch_size * max_seq_len.
    `max_queue_size` 0 means unbounded (as Triton's queue policy).
    """

    checkpoint_dir: Path
    precision: Precision = "fp32"
    max_batch_size: int = 8
    max_num_tokens: int = 8192
    max_tokens_in_paged_kv_cache: int | None = None
    tokens_per_block: int = 32
    batch_scheduler_policy: Policy = "guaranteed_no_evict"
    enable_chunked_context: bool = False
    max_queue_size: int = 0
    max_input_len: int | None = None
    max_seq_len: int | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise EngineConfigError(
                "precision", f"{self.precision!r} is not supported", f"use one of {PRECISIONS}"
            )
        if self.batch_scheduler_policy not in POLICIES:
            raise EngineConfigError(
                "batch_scheduler_policy",
                f"{self.batch_scheduler_policy!r} is not supported",
                f"use one of {POLICIES}",
            )
        minimums = {
            "max_batch_size": (self.max_batch_size, 1),
            "max_num_tokens": (self.max_num_tokens, 1),
            "tokens_per_block": (self.tokens_per_block, 1),
            "max_queue_size": (self.max_queue_size, 0),
            "max_input_len": (self.max_input_len, 1),
            "max_seq_len": (self.max_seq_len, 2),
            "max_tokens_in_paged_kv_cache": (self.max_tokens_in_paged_kv_cache, 1),
        }
        for name, (value, least) in minimums.items():
            if value is not None and value < least:
                raise EngineConfigError(name, f"{value} is below {least}", f"set it to >= {least}")

    def limits(self, n_positions: int) -> Limits:
        """Resolve the sizes left to the checkpoint and check them against it."""
        max_seq_len = self.max_seq_len or n_positions
        if max_seq_len > n_positions:
            raise EngineConfigError(
                "max_seq_len",
                f"{max_seq_len} exceeds the checkpoint's n_positions {n_positions}",
                f"set it to <= {n_positions}",
            )
        max_input_len = self.max_input_len or max_seq_len - 1
        if max_input_len >= max_seq_len:
            raise EngineConfigError(
                "max_input_len",
                f"{max_input_len} leaves no room to generate within max_seq_len {max_seq_len}",
                f"set it to <= {max_seq_len - 1}",
            )
        kv_tokens = self.max_tokens_in_paged_kv_cache or self.max_batch_size * max_seq_len
        if kv_tokens < self.tokens_per_block:
            raise EngineConfigError(
                "max_tokens_in_paged_kv_cache",
                f"{kv_tokens} is less than one block of {self.tokens_per_block} tokens",
                f"set it to >= {self.tokens_per_block}",
            )
        return Limits(max_seq_len, max_input_len, kv_tokens)


@dataclass(frozen=True)
class Limits:
    """Sizes an engine enforces, resolved against its checkpoint."""

    max_seq_len: int
    max_input_len: int
    kv_tokens: int
