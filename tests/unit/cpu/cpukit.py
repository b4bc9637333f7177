"""Helpers of the CPU engine tests: tiny model sizes, prompts, reference generation, events."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tritonsla.cpu.config import EngineConfig
from tritonsla.cpu.engine import Engine
from tritonsla.cpu.model import GPT2Model
from tritonsla.engine_request import GenerationRequest, OutputEvent

VOCAB = 256
EOS = 0
TINY = {"n_layer": 2, "n_head": 4, "n_embd": 64, "n_positions": 128}


def greedy_reference(model: GPT2Model, prompt: Sequence[int], n: int) -> list[int]:
    """Greedy continuation of one prompt with the uncached reference forward."""
    tokens = list(prompt)
    for _ in range(n):
        tokens.append(int(model.reference_logits(tokens)[-1].argmax()))
    return tokens[len(prompt) :]


def prompts(seed: int, lengths: Sequence[int]) -> list[tuple[int, ...]]:
    """Random prompts avoiding the end id."""
    rng = np.random.default_rng(seed)
    return [tuple(int(t) for t in rng.integers(1, VOCAB, n)) for n in lengths]


class Collector:
    """Records the events of every request; `request()` makes requests that report here."""

    def __init__(self) -> None:
        self.events: dict[object, list[OutputEvent]] = {}

    def __call__(self, event: OutputEvent) -> None:
        self.events.setdefault(event.request_id, []).append(event)

    def request(self, request_id: object, prompt: Sequence[int], n: int, **kw) -> GenerationRequest:
        return GenerationRequest(request_id, tuple(prompt), n, self, **kw)

    def final(self, request_id: object) -> OutputEvent:
        events = self.events[request_id]
        assert events[-1].final and all(not e.final for e in events[:-1])
        return events[-1]

    def streamed(self, request_id: object) -> list[int]:
        """All tokens a request received, concatenated over its events."""
        self.final(request_id)
        return [t for event in self.events[request_id] for t in event.token_ids]


def make_engine(checkpoint_dir: Path, **options) -> Engine:
    defaults = {"max_batch_size": 4, "max_num_tokens": 64, "tokens_per_block": 8}
    return Engine(EngineConfig(checkpoint_dir, **(defaults | options)))


def run_to_completion(engine: Engine, max_steps: int = 10_000) -> int:
    """Step a (not started) engine until it is idle; returns the number of steps."""
    for steps in range(max_steps):
        if not engine.step():
            return steps
    raise AssertionError("engine did not become idle")


def replace(request: GenerationRequest, **changes) -> GenerationRequest:
    return dataclasses.replace(request, **changes)


def as_triton(prompt, n: int, **extra) -> dict[str, np.ndarray]:
    """Input tensors shaped as the Python backend hands them over (batch dimension first)."""
    tensors = {
        "input_ids": np.array([prompt], np.int32),
        "input_lengths": np.array([len(prompt)], np.int32),
        "request_output_len": np.array([n], np.int32),
    }
    return tensors | extra


def model_config(checkpoint: str, **parameters: str) -> dict:
    """A model config in the JSON form Triton passes to `initialize` (int64 as strings)."""
    params = {"gpt_model_path": checkpoint} | parameters
    return {
        "name": "realtime_tensorrt_llm",
        "max_batch_size": 4,
        "model_transaction_policy": {"decoupled": True},
        "dynamic_batching": {"default_queue_policy": {"max_queue_size": "8"}},
        "parameters": {k: {"string_value": v} for k, v in params.items()},
    }
