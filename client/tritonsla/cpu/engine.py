"""The CPU engine: requests in, a worker thread running batched steps, events out.

`submit()` validates and queues a request; the worker thread repeats: drop cancelled requests,
plan a step (Scheduler), run the model over every planned chunk at once, sample the next token
of every sequence whose context is complete, and deliver the resulting events to the request
callbacks (outside the engine lock, so a callback may call back into the engine). With nothing
to do the thread blocks on a condition variable; it never polls an empty engine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from tritonsla.cpu.checkpoint import load_checkpoint
from tritonsla.cpu.config import EngineConfig
from tritonsla.cpu.errors import QueueFullError
from tritonsla.cpu.model import Chunk, GPT2Model, StepInput
from tritonsla.cpu.sampling import choose_tokens
from tritonsla.cpu.scheduler import Scheduler
from tritonsla.cpu.sequence import Sequence
from tritonsla.engine_request import (
    FinishReason,
    GenerationRequest,
    InvalidRequestError,
    OutputEvent,
    check_priority,
    check_word_list,
)

log = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 0.02  # how often `is_cancelled` callables are asked (each may be an IPC)

Delivery = tuple[Callable[[OutputEvent], None], OutputEvent]


@dataclass(frozen=True)
class EngineStats:
    """A snapshot of the engine's load and counters."""

    active: int
    waiting: int
    paused: int
    kv_blocks_used: int
    kv_blocks_free: int
    steps: int
    context_tokens: int
    generated_tokens: int
    preemptions: int


class Engine:
    """A GPT-2 engine with in-flight batching over a paged KV cache."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.model = GPT2Model(load_checkpoint(config.checkpoint_dir), config.precision)
        self.limits = config.limits(self.model.config.n_positions)
        self.cache = self.model.new_cache(self.limits.kv_tokens, config.tokens_per_block)
        self.scheduler = Scheduler(
            self.cache,
            max_batch_size=config.max_batch_size,
            max_num_tokens=config.max_num_tokens,
            policy=config.batch_scheduler_policy,
            chunked_context=config.enable_chunked_context,
            waiting_queue_policy=config.waiting_queue_policy,
        )
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._live: dict[Hashable, Sequence] = {}
        self._cancel_ids: set[Hashable] = set()
        self._last_poll = 0.0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._notified = False
        self._steps = self._context_tokens = self._generated_tokens = 0

    # --- client side -----------------------------------------------------------------------------
    def submit(self, request: GenerationRequest) -> None:
        """Queue a request; raises InvalidRequestError or QueueFullError instead of queueing."""
        self._validate(request)
        level = self.config.level_of(request.priority)
        seq = Sequence(request, self.model.config.vocab_size, level)
        with self._wakeup:
            if request.request_id in self._live:
                raise InvalidRequestError(f"request id {request.request_id!r} is already in use")
            self._check_queue(level)
            self._live[request.request_id] = seq
            self.scheduler.add(seq)
            self._notify()

    def _check_queue(self, level: int) -> None:
        """Raise QueueFullError when `level`'s waiting requests reached its bound."""
        limit = self.config.queue_limit(level)
        if not limit:
            return
        waiting = self.scheduler.num_waiting(level)
        if waiting >= limit:
            where = f" at priority level {level}" if level else ""
            raise QueueFullError(
                f"{waiting} requests already wait{where} (max_queue_size {limit}); retry later "
                "or send to a less loaded endpoint"
            )

    def cancel(self, request_id: Hashable) -> None:
        """Drop a request at the next step: its slot and KV blocks are freed."""
        with self._wakeup:
            if request_id in self._live:
                self._cancel_ids.add(request_id)
                self._notify()

    def stats(self) -> EngineStats:
        """Current load and counters."""
        with self._lock:
            return EngineStats(
                active=len(self.scheduler.running),
                waiting=len(self.scheduler.waiting),
                paused=len(self.scheduler.paused),
                kv_blocks_used=self.cache.num_used_blocks,
                kv_blocks_free=self.cache.num_free_blocks,
                steps=self._steps,
                context_tokens=self._context_tokens,
                generated_tokens=self._generated_tokens,
                preemptions=self.scheduler.preemptions,
            )

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="tritonsla-cpu-engine")
            self._thread.daemon = True
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the worker thread; requests still live end with an ERROR event."""
        with self._wakeup:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._notify()
        if thread is not None:
            thread.join(timeout)
        self._fail_all("engine stopped")

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- worker side -----------------------------------------------------------------------------
    def step(self) -> bool:
        """Run one scheduling step; False when there was nothing to do."""
        with self._lock:
            events = self._drop_cancelled()
            plan = self.scheduler.schedule()
            chunks = [
                Chunk(
                    seq.tokens[seq.num_computed : seq.num_computed + n],
                    seq.num_computed,
                    self.cache.slots(seq, 0, seq.num_computed + n),
                )
                for seq, n in plan
            ]
        if plan:
            try:
                logits = self.model.forward(StepInput.build(chunks), self.cache)
            except Exception as exc:  # keep serving other requests if one step fails
                log.exception("CPU engine step failed")
                with self._lock:
                    events += [self._finish(seq, FinishReason.ERROR, str(exc)) for seq, _ in plan]
            else:
                with self._lock:
                    events += self._advance(plan, logits)
        _deliver(events, on_error=self.cancel)
        return bool(plan or events)

    def _run(self) -> None:
        idle = False
        while True:
            with self._wakeup:
                while idle and not self._notified and not self._stopping:
                    self._wakeup.wait()
                self._notified = False
                if self._stopping:
                    return
            try:
                idle = not self.step()
            except Exception:  # a bug must not leave clients waiting forever
                log.exception("CPU engine step failed; failing every live request")
                self._fail_all("internal error in the CPU engine; see the server log")
                idle = True

    def _fail_all(self, message: str) -> None:
        with self._lock:
            events = [self._finish(seq, FinishReason.ERROR, message) for seq in self._all()]
        _deliver(events, on_error=None)

    def _advance(self, plan: list[tuple[Sequence, int]], logits: np.ndarray) -> list[Delivery]:
        """Account the step's tokens, sample where a context is complete, finish sequences."""
        ready = []
        for row, (seq, n) in enumerate(plan):
            seq.num_computed += n
            self._context_tokens += n
            if seq.pending == 0:
                ready.append((row, seq))
        self._steps += 1
        if not ready:
            return []
        rows = [row for row, _ in ready]
        seqs = [seq for _, seq in ready]
        tokens, log_probs = choose_tokens(
            logits[rows],
            [seq.sampler for seq in seqs],
            [seq.tokens for seq in seqs],
            [seq.n_generated for seq in seqs],
            [seq.request.return_log_probs for seq in seqs],
        )
        events = []
        for seq, token, log_prob in zip(seqs, tokens.tolist(), log_probs.tolist(), strict=True):
            reason = seq.accept(token, log_prob)
            if reason is not FinishReason.END_ID:
                self._generated_tokens += 1
            if reason is not None:
                events.append(self._finish(seq, reason))
            elif (event := seq.progress_event()) is not None:
                events.append((seq.request.callback, event))
        return events

    def _drop_cancelled(self) -> list[Delivery]:
        now = time.monotonic()
        if now - self._last_poll >= CANCEL_POLL_SECONDS:
            self._last_poll = now
            for seq in self._all():
                check = seq.request.is_cancelled
                if check is not None and check():
                    self._cancel_ids.add(seq.request.request_id)
        events = [
            self._finish(self._live[rid], FinishReason.CANCELLED)
            for rid in self._cancel_ids
            if rid in self._live
        ]
        self._cancel_ids.clear()
        return events

    def _finish(self, seq: Sequence, reason: FinishReason, error: str | None = None) -> Delivery:
        self.scheduler.remove(seq)
        self._live.pop(seq.request.request_id, None)
        return seq.request.callback, seq.final_event(reason, error)

    def _all(self) -> list[Sequence]:
        return list(self._live.values())

    def _notify(self) -> None:
        self._notified = True
        self._wakeup.notify()

    def _validate(self, request: GenerationRequest) -> None:
        vocab = self.model.config.vocab_size
        prompt_len = len(request.input_ids)
        limits = self.limits
        if prompt_len == 0:
            raise InvalidRequestError("`input_ids` is empty; send at least one token")
        if not all(0 <= t < vocab for t in request.input_ids):
            raise InvalidRequestError(f"`input_ids` holds ids outside the vocabulary [0, {vocab})")
        if request.max_new_tokens < 1:
            raise InvalidRequestError(
                f"`request_output_len` is {request.max_new_tokens}; ask for at least 1 token"
            )
        if prompt_len > limits.max_input_len:
            raise InvalidRequestError(
                f"prompt of {prompt_len} tokens exceeds max_input_len {limits.max_input_len}; "
                "shorten the prompt or raise the engine's max_input_len"
            )
        if prompt_len + request.max_new_tokens > limits.max_seq_len:
            raise InvalidRequestError(
                f"prompt of {prompt_len} tokens plus request_output_len {request.max_new_tokens} "
                f"exceeds max_seq_len {limits.max_seq_len}; ask for fewer tokens"
            )
        if not self.config.enable_chunked_context and prompt_len > self.config.max_num_tokens:
            raise InvalidRequestError(
                f"prompt of {prompt_len} tokens exceeds max_num_tokens "
                f"{self.config.max_num_tokens} and chunked context is off; enable "
                "enable_chunked_context or raise max_num_tokens"
            )
        blocks = self.cache.blocks_for(prompt_len + request.max_new_tokens)
        if blocks > self.cache.num_blocks:
            raise InvalidRequestError(
                f"the request needs {blocks} KV blocks but the whole cache has "
                f"{self.cache.num_blocks}; ask for fewer tokens or raise "
                "max_tokens_in_paged_kv_cache"
            )
        if request.end_id is not None and not 0 <= request.end_id < vocab:
            raise InvalidRequestError(f"`end_id` {request.end_id} is outside [0, {vocab})")
        request.sampling.validate(vocab)
        check_word_list("stop_words_list", request.stop_words, vocab)
        check_priority(request.priority, self.config.priority_levels)


def _deliver(events: list[Delivery], on_error: Callable[[Hashable], None] | None) -> None:
    """Call each event's callback; a failing callback cancels its (unfinished) request."""
    for callback, event in events:
        try:
            callback(event)
        except Exception:
            log.exception("callback of request %r failed", event.request_id)
            if on_error is not None and not event.final:
                on_error(event.request_id)
