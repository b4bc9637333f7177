"""Engine-side state of one request: its tokens, its progress through the KV cache, its output."""

from __future__ import annotations

from tritonsla.cpu.sampling import TokenSampler
from tritonsla.engine_request import FinishReason, GenerationRequest, OutputEvent


class Sequence:
    """A request being served.

    `tokens` holds the prompt then the generated tokens; the first `num_computed` of them have
    their K/V in the cache. Pausing a sequence (KV evicted) resets `num_computed` to 0, so it
    resumes by recomputing its whole prefix, generated tokens included. `level` is the priority
    level it waits at (1 highest; 0 when the engine has no levels). Hashes by identity: the KV
    cache keys block tables by Sequence.
    """

    def __init__(self, request: GenerationRequest, vocab_size: int, level: int = 0) -> None:
        self.request = request
        self.level = level
        self.tokens: list[int] = list(request.input_ids)
        self.prompt_len = len(self.tokens)
        self.num_computed = 0
        self.sampler = TokenSampler(request.sampling, request.input_ids, vocab_size, request.end_id)
        self.log_probs: list[float] = []
        self._cum_log_prob = 0.0
        self._num_sent = 0

    @property
    def n_generated(self) -> int:
        """Tokens generated so far."""
        return len(self.tokens) - self.prompt_len

    @property
    def pending(self) -> int:
        """Tokens whose K/V still have to be computed before the next token can be sampled."""
        return len(self.tokens) - self.num_computed

    @property
    def final_len(self) -> int:
        """Length of the sequence if it runs to `max_new_tokens`."""
        return self.prompt_len + self.request.max_new_tokens

    def accept(self, token: int, log_prob: float) -> FinishReason | None:
        """Take a sampled token; return why the sequence is finished, if it is."""
        request = self.request
        if token == request.end_id:
            return FinishReason.END_ID
        self.tokens.append(token)
        self.log_probs.append(log_prob)
        self._cum_log_prob += log_prob
        if any(tuple(self.tokens[-len(word) :]) == word for word in request.stop_words):
            return FinishReason.STOP_WORDS
        if self.n_generated >= request.max_new_tokens:
            return FinishReason.LENGTH
        return None

    def progress_event(self) -> OutputEvent | None:
        """The streaming response due after a step: the tokens not sent yet, if any."""
        if not self.request.streaming or self._num_sent == self.n_generated:
            return None
        token_ids, log_probs = self._take_unsent()
        return OutputEvent(self.request.request_id, token_ids, log_probs, self._cum(), False)

    def final_event(self, reason: FinishReason, error: str | None = None) -> OutputEvent:
        """The last response: unsent tokens when streaming, the whole output otherwise."""
        request = self.request
        if reason in (FinishReason.CANCELLED, FinishReason.ERROR):
            return OutputEvent(request.request_id, (), (), self._cum(), True, reason, error)
        if request.streaming:
            token_ids, log_probs = self._take_unsent()
        else:
            start = self.prompt_len if request.exclude_input_in_output else 0
            token_ids, log_probs = tuple(self.tokens[start:]), tuple(self.log_probs)
        return OutputEvent(request.request_id, token_ids, log_probs, self._cum(), True, reason)

    def _take_unsent(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        sent, self._num_sent = self._num_sent, self.n_generated
        return tuple(self.tokens[self.prompt_len + sent :]), tuple(self.log_probs[sent:])

    def _cum(self) -> float:
        return self._cum_log_prob
