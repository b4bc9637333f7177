"""What a client hands an engine, and what the engine hands back: the request types every engine
kind serving the `tensorrt_llm` contract shares (`cpu`, the numpy engine; `llmapi`, TensorRT-LLM's
LLM API), with their checks and the error that refuses a request.

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

from tritonsla.errors import TritonSlaError


class InvalidRequestError(TritonSlaError):
    """A request is malformed or can never fit this engine's limits."""


WordList = tuple[tuple[int, ...], ...]
"""Stop or bad words: each word a tuple of token ids."""


@dataclass(frozen=True)
class SamplingParams:
    """Per-request sampling settings (TensorRT-LLM input names in the field docs)."""

    temperature: float = 1.0
    top_k: int = 0  # runtime_top_k
    top_p: float = 0.0  # runtime_top_p
    seed: int = 0
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    min_tokens: int = 0
    bad_words: WordList = ()

    @property
    def greedy(self) -> bool:
        """Whether the next token is always the arg-max."""
        return self.temperature == 0 or self.top_k == 1 or (self.top_k == 0 and self.top_p == 0)

    @property
    def penalised(self) -> bool:
        """Whether any repetition, presence or frequency penalty applies."""
        return (
            self.repetition_penalty != 1.0
            or self.presence_penalty != 0.0
            or self.frequency_penalty != 0.0
        )

    def validate(self, vocab_size: int) -> None:
        """Raise InvalidRequestError naming the first out-of-range setting."""
        checks = (
            ("temperature", self.temperature, self.temperature >= 0, ">= 0"),
            ("runtime_top_k", self.top_k, self.top_k >= 0, ">= 0"),
            ("runtime_top_p", self.top_p, 0 <= self.top_p <= 1, "within [0, 1]"),
            ("repetition_penalty", self.repetition_penalty, self.repetition_penalty > 0, "> 0"),
            ("min_tokens", self.min_tokens, self.min_tokens >= 0, ">= 0"),
            ("seed", self.seed, self.seed >= 0, ">= 0"),
        )
        for name, value, ok, rule in checks:
            if not ok:
                raise InvalidRequestError(f"`{name}` is {value}; it must be {rule}")
        check_word_list("bad_words_list", self.bad_words, vocab_size)


def check_word_list(name: str, words: WordList, vocab_size: int) -> None:
    """Reject empty words and token ids outside the vocabulary."""
    for word in words:
        if not word or not all(0 <= t < vocab_size for t in word):
            raise InvalidRequestError(
                f"`{name}` holds {list(word)}: every word needs 1+ token ids in [0, {vocab_size})"
            )


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
