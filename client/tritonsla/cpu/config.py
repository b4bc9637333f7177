"""Settings of the CPU engine, named after TensorRT-LLM's executor and Triton parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tritonsla.cpu.errors import EngineConfigError
from tritonsla.cpu.layers import PRECISIONS, Precision

Policy = Literal["guaranteed_no_evict", "max_utilization"]
POLICIES: tuple[str, ...] = ("guaranteed_no_evict", "max_utilization")

WaitingQueuePolicy = Literal["fcfs", "priority"]
WAITING_QUEUE_POLICIES: tuple[str, ...] = ("fcfs", "priority")
"""TensorRT-LLM LLM API `scheduler_config.waiting_queue_policy` (tensorrt_llm/llmapi/llm_args.py,
class WaitingQueuePolicy): FCFS = "fcfs" since NVIDIA/TensorRT-LLM#11330 (Feb 2026), PRIORITY =
"priority" since NVIDIA/TensorRT-LLM#12362 (main, e.g. commit 4f557563bf88, whose
tests/unittest/llmapi/test_request_priority.py builds `create_waiting_queue(WaitingQueuePolicy.
PRIORITY)`). Neither is known to be in the 1.2.x releases."""


@dataclass(frozen=True)
class EngineConfig:
    """How one engine runs.

    `None` sizes derive from the checkpoint: `max_seq_len` = n_positions, `max_input_len` =
    max_seq_len - 1, `max_tokens_in_paged_kv_cache` = max_batch_size * max_seq_len.
    `max_queue_size` 0 means unbounded (as Triton's queue policy).

    Priority follows Triton's levels: `priority_levels` 0 turns them off (every request is
    level 0); otherwise level 1 is the highest and a request without one gets
    `default_priority_level`. `max_queue_size_by_level` bounds the waiting requests of a level
    (Triton's `priority_queue_policy`); levels it omits use `max_queue_size`.
    `waiting_queue_policy` "priority" orders waiting requests by level (see scheduler.py).
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
    waiting_queue_policy: WaitingQueuePolicy = "fcfs"
    priority_levels: int = 0
    default_priority_level: int = 0
    max_queue_size_by_level: Mapping[int, int] = field(default_factory=dict)

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
        self._check_priority()

    def queue_limit(self, level: int) -> int:
        """How many requests of `level` may wait (0 = unbounded)."""
        return self.max_queue_size_by_level.get(level, self.max_queue_size)

    def level_of(self, priority: int) -> int:
        """The level a request with Triton priority `priority` (0 = default) waits at."""
        if not self.priority_levels:
            return 0
        return priority or self.default_priority_level

    def _check_priority(self) -> None:
        if self.waiting_queue_policy not in WAITING_QUEUE_POLICIES:
            raise EngineConfigError(
                "waiting_queue_policy",
                f"{self.waiting_queue_policy!r} is not supported",
                f"use one of {WAITING_QUEUE_POLICIES}",
            )
        levels = self.priority_levels
        if levels < 0:
            raise EngineConfigError("priority_levels", f"{levels} is below 0", "set it to >= 0")
        if self.waiting_queue_policy == "priority" and not levels:
            raise EngineConfigError(
                "waiting_queue_policy",
                "'priority' needs priority levels but priority_levels is 0",
                "set priority_levels >= 1 or use 'fcfs'",
            )
        default = self.default_priority_level
        allowed = range(1, levels + 1) if levels else range(1)
        if default not in allowed:
            raise EngineConfigError(
                "default_priority_level",
                f"{default} is not a level of priority_levels {levels}",
                f"set it to one of {list(allowed)}",
            )
        for level, size in self.max_queue_size_by_level.items():
            if level not in range(1, levels + 1):
                raise EngineConfigError(
                    "max_queue_size_by_level",
                    f"level {level} is not in 1..priority_levels ({levels})",
                    "bound only levels the engine has",
                )
            if size < 0:
                raise EngineConfigError(
                    "max_queue_size_by_level", f"level {level}: {size} is below 0", "set >= 0"
                )

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
