"""What a client hands the engine, and what the engine hands back.

Output semantics follow TensorRT-LLM's executor (as its Triton `tensorrt_llm` model forwards them):
- Non-streaming: one final event whose `token_ids` are the prompt followed by the generated
  tokens, or the generated tokens alone when `exclude_input_in_output`.
- Streaming: one event per step carrying only the token(s) new since the previous event (the
  prompt is never repeated); the last event has `final=True`.
- Generation stops at `end_id` (the end token is not part of the output, as in TensorRT-LLM:
  NVIDIA/TensorRT-LLM#2190), after `max_new_tokens`, or once the sequence ends with a stop word
  (the stop word's tokens are part of the output).
- `log_probs` are those of the tokens in the event that were generated (never of prompt tokens);
  `cum_log_prob` sums the log-probs of all tokens generated so far.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import Enum

from tritonsla.cpu.errors import InvalidRequestError
from tritonsla.cpu.sampling import SamplingParams, WordList


class FinishReason(str, Enum):
    """Why a request ended."""

    END_ID = "end_id"
    LENGTH = "length"
    STOP_WORDS = "stop_words"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass(frozen=True)
class OutputEvent:
    """One response for a request: new tokens (streaming) or the whole output (final)."""

    request_id: Hashable
    token_ids: tuple[int, ...]
    log_probs: tuple[float, ...]
    cum_log_prob: float
    final: bool
    finish_reason: FinishReason | None = None
    error: str | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """A request to generate up to `max_new_tokens` tokens after `input_ids`.

    `callback` receives every OutputEvent, from the engine's thread. `is_cancelled` is polled
    by the engine (e.g. Triton's `response_sender.is_cancelled`); when it returns True the
    request is dropped and gets a final CANCELLED event. `priority` is a Triton priority level
    (1 is the highest; 0 = the engine's default level).
    """

    request_id: Hashable
    input_ids: tuple[int, ...]
    max_new_tokens: int
    callback: Callable[[OutputEvent], None]
    end_id: int | None = None
    streaming: bool = False
    exclude_input_in_output: bool = False
    return_log_probs: bool = False
    sampling: SamplingParams = field(default_factory=SamplingParams)
    stop_words: WordList = ()
    is_cancelled: Callable[[], bool] | None = None
    priority: int = 0


def check_priority(priority: int, levels: int) -> None:
    """Refuse a priority below 0, or above `levels` when the model has levels (0 = none)."""
    if priority < 0:
        raise InvalidRequestError(f"`priority` {priority} is below 0; 0 means the default level")
    if levels and priority > levels:
        raise InvalidRequestError(
            f"`priority` {priority} exceeds this model's {levels} priority levels; send 1 "
            f"(highest) to {levels}, or 0 for the default level"
        )
