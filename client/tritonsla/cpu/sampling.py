"""Choosing the next token: logits processing, greedy and random sampling, log-probs.

Semantics follow TensorRT-LLM's sampling config where it defines them:
- `top_k == 0 and top_p == 0` (the defaults) or `top_k == 1` is greedy; `temperature == 0` is
  greedy too (TensorRT-LLM rejects it; clients often send it meaning greedy).
- `seed` defaults to 0, as in TensorRT-LLM: unseeded sampling is reproducible. Each
  request owns its generator, so batching never changes which numbers a request draws.
- Order: temperature (when sampling; it cannot change a greedy choice), then repetition /
  presence / frequency penalties over every token of the sequence (prompt and output), then
  `min_tokens` (end_id banned until that many tokens were generated) and `bad_words` (a word's
  last token is banned when the sequence ends with the rest of it); then top-k, then top-p
  within the top-k, renormalised.
- Log-probs are those of the processed distribution (after temperature and penalties, before
  top-k / top-p truncation).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tritonsla.engine_request import SamplingParams


class TokenSampler:
    """One request's sampler: its settings, its random generator and its token counts."""

    def __init__(
        self, params: SamplingParams, prompt: Sequence[int], vocab_size: int, end_id: int | None
    ) -> None:
        self.params = params
        self.end_id = end_id
        self.rng = np.random.default_rng(params.seed)
        self.counts = np.bincount(prompt, minlength=vocab_size) if params.penalised else None

    @property
    def processes(self) -> bool:
        """Whether logits need per-request processing before the choice."""
        p = self.params
        scaled = not p.greedy and p.temperature != 1.0
        return scaled or p.penalised or p.min_tokens > 0 or bool(p.bad_words)

    def process(self, logits: np.ndarray, tokens: Sequence[int], n_generated: int) -> None:
        """Apply temperature, penalties, min_tokens and bad words to one row, in place."""
        p = self.params
        if not p.greedy and p.temperature != 1.0:
            logits /= p.temperature
        if self.counts is not None:
            seen = self.counts > 0
            if p.repetition_penalty != 1.0:
                hit = logits[seen]
                logits[seen] = np.where(
                    hit > 0, hit / p.repetition_penalty, hit * p.repetition_penalty
                )
            logits[seen] -= p.presence_penalty
            logits -= p.frequency_penalty * self.counts
        if self.end_id is not None and n_generated < p.min_tokens:
            logits[self.end_id] = -np.inf
        for word in p.bad_words:
            head = word[:-1]
            if not head or tuple(tokens[-len(head) :]) == head:
                logits[word[-1]] = -np.inf

    def observe(self, token: int) -> None:
        """Count a generated token for the penalties."""
        if self.counts is not None:
            self.counts[token] += 1

    def draw(self, logits: np.ndarray) -> int:
        """Sample one token from a processed row with top-k then top-p."""
        p = self.params
        k = p.top_k if 0 < p.top_k < len(logits) else len(logits)
        candidates = np.argpartition(logits, -k)[-k:] if k < len(logits) else np.arange(k)
        order = np.argsort(-logits[candidates], kind="stable")
        candidates = candidates[order]
        probs = np.exp(logits[candidates] - logits[candidates[0]])
        probs /= probs.sum()
        if 0 < p.top_p < 1:
            keep = int(np.searchsorted(np.cumsum(probs), p.top_p)) + 1
            probs = probs[:keep] / probs[:keep].sum()
        cumulative = np.cumsum(probs)
        index = int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1], side="right"))
        return int(candidates[min(index, len(probs) - 1)])


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities along the last axis."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def choose_tokens(
    logits: np.ndarray,
    samplers: Sequence[TokenSampler],
    histories: Sequence[Sequence[int]],
    n_generated: Sequence[int],
    want_log_probs: Sequence[bool],
) -> tuple[np.ndarray, np.ndarray]:
    """Next token per row of `logits` (modified in place) and its log-prob (0 where unwanted)."""
    for row, sampler in enumerate(samplers):
        if sampler.processes:
            sampler.process(logits[row], histories[row], n_generated[row])
    tokens = logits.argmax(axis=-1)
    for row, sampler in enumerate(samplers):
        if not sampler.params.greedy:
            tokens[row] = sampler.draw(logits[row])
    log_probs = np.zeros(len(samplers), np.float32)
    rows = np.flatnonzero(want_log_probs)
    if len(rows):
        log_probs[rows] = log_softmax(logits[rows])[np.arange(len(rows)), tokens[rows]]
    for sampler, token in zip(samplers, tokens, strict=True):
        sampler.observe(int(token))
    return tokens, log_probs
