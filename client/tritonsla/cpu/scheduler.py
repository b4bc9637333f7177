"""In-flight batching: which sequences run in the next step, with how many tokens each.

Before every step the scheduler fills a token budget (`max_num_tokens`) as TensorRT-LLM's
capacity and micro-batch schedulers do: running sequences first, oldest first (a decode costs one
token, a partly prefilled prompt its next chunk), then new requests in arrival order while the
batch has room (`max_batch_size`), the budget has tokens and the KV cache has blocks. Admission
is first-come first-served: when the head of the queue does not fit, nothing behind it is
admitted, so a large request is never starved.

- `guaranteed_no_evict`: a request is admitted only once blocks for its prompt plus
  `max_new_tokens` are reserved, so a running sequence never waits for memory.
- `max_utilization`: a request is admitted when the blocks for its next chunk are free. When a
  running sequence needs a block and none is left, the most recently admitted sequence is
  paused: its blocks are freed and it later resumes ahead of new requests by recomputing its
  prefix (prompt and tokens generated so far).
- Chunked context: a prompt longer than the remaining budget is prefilled over several steps.
  Without it a prompt must fit the budget of one step (the engine rejects longer prompts); a
  resumed sequence is always recomputed in chunks.
"""

from __future__ import annotations

from collections import deque

from tritonsla.cpu.config import Policy
from tritonsla.cpu.kv_cache import PagedKVCache
from tritonsla.cpu.sequence import Sequence


class Scheduler:
    """Waiting, paused and running sequences, and the plan of the next step."""

    def __init__(
        self,
        cache: PagedKVCache,
        *,
        max_batch_size: int,
        max_num_tokens: int,
        policy: Policy,
        chunked_context: bool,
    ) -> None:
        self.cache = cache
        self.max_batch_size = max_batch_size
        self.max_num_tokens = max_num_tokens
        self.policy = policy
        self.chunked_context = chunked_context
        self.waiting: deque[Sequence] = deque()
        self.paused: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.preemptions = 0

    def schedule(self) -> list[tuple[Sequence, int]]:
        """Pick `(sequence, n_tokens)` pairs for the next step, reserving their KV blocks."""
        plan: list[tuple[Sequence, int]] = []
        budget = self.max_num_tokens
        for seq in list(self.running):
            if budget == 0:
                break
            if seq not in self.running:  # paused while making room for an older sequence
                continue
            n = min(seq.pending, budget)
            if self._make_room(seq, seq.num_computed + n):
                plan.append((seq, n))
                budget -= n
        while budget and len(self.running) < self.max_batch_size:
            queue = self.paused or self.waiting
            if not queue:
                break
            seq = queue[0]
            chunkable = self.chunked_context or queue is self.paused
            n = min(seq.pending, budget) if chunkable else seq.pending
            if n > budget or not self.cache.reserve(seq, self._reservation(seq, n)):
                break
            queue.popleft()
            self.running.append(seq)
            plan.append((seq, n))
            budget -= n
        return plan

    def remove(self, seq: Sequence) -> None:
        """Forget a finished or cancelled sequence and free its blocks."""
        self.cache.free(seq)
        if seq in self.running:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        elif seq in self.paused:
            self.paused.remove(seq)

    def _reservation(self, seq: Sequence, n: int) -> int:
        if self.policy == "guaranteed_no_evict":
            return seq.final_len
        return seq.num_computed + n

    def _make_room(self, seq: Sequence, n_tokens: int) -> bool:
        """Grow `seq` to `n_tokens`, pausing the newest sequences if needed (max_utilization)."""
        while not self.cache.reserve(seq, n_tokens):
            victim = self.running[-1]
            self._pause(victim)
            if victim is seq:
                return False
        return True

    def _pause(self, seq: Sequence) -> None:
        self.cache.free(seq)
        seq.num_computed = 0
        self.running.remove(seq)
        self.paused.appendleft(seq)
        self.preemptions += 1
