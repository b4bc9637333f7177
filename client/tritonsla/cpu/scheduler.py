"""In-flight batching: which sequences run in the next step, with how many tokens each.

Before every step the scheduler fills a token budget (`max_num_tokens`) as TensorRT-LLM's
capacity and micro-batch schedulers do: running sequences first, oldest first (a decode costs one
token, a partly prefilled prompt its next chunk), then queued sequences in queue order while the
batch has room (`max_batch_size`), the budget has tokens and the KV cache has blocks. Admission
is head-of-line: when the head of the queue does not fit, nothing behind it is admitted, so a
large request is never starved.

Queue order (`waiting_queue_policy`, named after TensorRT-LLM's LLM API
`scheduler_config.waiting_queue_policy`):
- `fcfs`: paused sequences first, then waiting ones in arrival order.
- `priority`: by priority level (1 first), then paused before waiting, then arrival, as
  TensorRT-LLM's executor queue (`insertRequestInOrder`: descending priority, FCFS among equals).

Capacity policy (`batch_scheduler_policy`):
- `guaranteed_no_evict`: a request is admitted only once blocks for its prompt plus
  `max_new_tokens` are reserved, so a running sequence never waits for memory and nothing is
  ever paused, whatever the priorities: a higher level only goes first in the queue.
- `max_utilization`: a request is admitted when the blocks for its next chunk are free. When a
  running sequence needs a block and none is left, a running sequence is paused: the most
  recently admitted one (`fcfs`), or the one of the lowest priority, newest among equals
  (`priority`). Its blocks are freed and it later resumes by recomputing its prefix (prompt and
  tokens generated so far), which leaves its output unchanged.
- Priority preemption (`max_utilization` with `priority`): when the head of the queue cannot be
  admitted because the batch is full or the KV cache lacks blocks, running sequences of a
  strictly lower priority are paused (lowest level first, newest among equals) if that frees
  enough; never for an equal or lower priority, and never for the token budget.
- Chunked context: a prompt longer than the remaining budget is prefilled over several steps.
  Without it a prompt must fit the budget of one step (the engine rejects longer prompts); a
  resumed sequence is always recomputed in chunks.
"""

from __future__ import annotations

from collections import deque

from tritonsla.cpu.config import Policy, WaitingQueuePolicy
from tritonsla.cpu.kv_cache import PagedKVCache
from tritonsla.cpu.sequence import Sequence

Plan = list[tuple[Sequence, int]]


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
        waiting_queue_policy: WaitingQueuePolicy = "fcfs",
    ) -> None:
        self.cache = cache
        self.max_batch_size = max_batch_size
        self.max_num_tokens = max_num_tokens
        self.policy = policy
        self.chunked_context = chunked_context
        self.by_priority = waiting_queue_policy == "priority"
        self.waiting: deque[Sequence] = deque()
        self.paused: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.preemptions = 0

    def add(self, seq: Sequence) -> None:
        """Queue a new sequence: behind every waiting one of its rank (arrival order)."""
        rank = self._rank(seq)
        index = len(self.waiting)
        while index and self._rank(self.waiting[index - 1]) > rank:
            index -= 1
        self.waiting.insert(index, seq)

    def num_waiting(self, level: int) -> int:
        """Waiting (not paused) sequences of priority level `level`."""
        return sum(1 for seq in self.waiting if seq.level == level)

    def schedule(self) -> Plan:
        """Pick `(sequence, n_tokens)` pairs for the next step, reserving their KV blocks."""
        plan: Plan = []
        budget = self.max_num_tokens
        for seq in list(self.running):
            if budget == 0:
                break
            if seq not in self.running:  # paused while making room for another sequence
                continue
            n = min(seq.pending, budget)
            budget += self._make_room(seq, seq.num_computed + n, plan)
            if seq in self.running:
                plan.append((seq, n))
                budget -= n
        self._admit(plan, budget)
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

    def _admit(self, plan: Plan, budget: int) -> None:
        """Admit queued sequences head-of-line, preempting lower priorities where allowed."""
        while budget:
            queue = self._head_queue()
            if queue is None:
                break
            seq = queue[0]
            chunkable = self.chunked_context or queue is self.paused
            n = min(seq.pending, budget) if chunkable else seq.pending
            if n > budget:
                break
            if len(self.running) >= self.max_batch_size or not self.cache.reserve(
                seq, self._reservation(seq, n)
            ):
                victims = self._victims_for(seq, n)
                if not victims:
                    break
                for victim in victims:
                    budget += self._pause(victim, plan)
                continue
            queue.popleft()
            self.running.append(seq)
            plan.append((seq, n))
            budget -= n

    def _head_queue(self) -> deque[Sequence] | None:
        """The queue whose head is admitted next: paused unless a waiting one outranks it."""
        if not self.paused:
            return self.waiting or None
        if self.waiting and self._rank(self.waiting[0]) < self._rank(self.paused[0]):
            return self.waiting
        return self.paused

    def _victims_for(self, seq: Sequence, n: int) -> list[Sequence]:
        """Running sequences to pause so `seq` fits (none if preemption is off or cannot help)."""
        if not self.by_priority or self.policy != "max_utilization":
            return []
        lower = [s for s in self.running if s.level > seq.level]
        order = sorted(lower, key=lambda s: (s.level, self.running.index(s)), reverse=True)
        missing_blocks = self.cache.missing_blocks(seq, self._reservation(seq, n))
        missing_blocks -= self.cache.num_free_blocks
        missing_slots = len(self.running) + 1 - self.max_batch_size
        victims: list[Sequence] = []
        for victim in order:
            if missing_blocks <= 0 and missing_slots <= 0:
                break
            victims.append(victim)
            missing_blocks -= self.cache.capacity(victim) // self.cache.tokens_per_block
            missing_slots -= 1
        return victims if missing_blocks <= 0 and missing_slots <= 0 else []

    def _reservation(self, seq: Sequence, n: int) -> int:
        if self.policy == "guaranteed_no_evict":
            return seq.final_len
        return seq.num_computed + n

    def _make_room(self, seq: Sequence, n_tokens: int, plan: Plan) -> int:
        """Grow `seq` to `n_tokens`, pausing sequences if needed (max_utilization).

        Returns the budget freed by pausing sequences already planned; `seq` itself is paused
        when it is the one to give way.
        """
        freed = 0
        while not self.cache.reserve(seq, n_tokens):
            victim = self._eviction_victim()
            freed += self._pause(victim, plan)
            if victim is seq:
                break
        return freed

    def _eviction_victim(self) -> Sequence:
        """The running sequence to pause when the KV cache runs out."""
        if not self.by_priority:
            return self.running[-1]
        lowest = max(seq.level for seq in self.running)
        return next(seq for seq in reversed(self.running) if seq.level == lowest)

    def _pause(self, seq: Sequence, plan: Plan) -> int:
        """Free `seq`'s blocks and queue it to resume; returns the tokens it had planned."""
        self.cache.free(seq)
        seq.num_computed = 0
        self.running.remove(seq)
        rank = self._rank(seq)
        index = 0
        while index < len(self.paused) and self._rank(self.paused[index]) < rank:
            index += 1
        self.paused.insert(index, seq)
        self.preemptions += 1
        planned = [entry for entry in plan if entry[0] is seq]
        for entry in planned:
            plan.remove(entry)
        return sum(n for _, n in planned)

    def _rank(self, seq: Sequence) -> int:
        return seq.level if self.by_priority else 0
