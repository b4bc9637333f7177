"""Admission and eviction decisions of the in-flight batching scheduler."""

from __future__ import annotations

from cpukit import Collector

from tritonsla.cpu.kv_cache import PagedKVCache
from tritonsla.cpu.scheduler import Scheduler
from tritonsla.cpu.sequence import Sequence


def make(
    policy: str = "guaranteed_no_evict",
    *,
    blocks: int = 8,
    batch: int = 4,
    tokens: int = 16,
    chunked: bool = False,
) -> Scheduler:
    cache = PagedKVCache(1, 1, 1, max_tokens=4 * blocks, tokens_per_block=4)
    return Scheduler(
        cache, max_batch_size=batch, max_num_tokens=tokens, policy=policy, chunked_context=chunked
    )


def seq(prompt_len: int, new: int) -> Sequence:
    return Sequence(Collector().request(object(), [1] * prompt_len, new), vocab_size=8)


def run(scheduler: Scheduler, plan: list[tuple[Sequence, int]]) -> list[tuple[Sequence, int]]:
    """Pretend the step ran: K/V computed, token 1 sampled where the context is complete."""
    for s, n in plan:
        s.num_computed += n
        if s.pending == 0 and s.accept(1, 0.0) is not None:
            scheduler.remove(s)
    return plan


def test_no_evict_reserves_prompt_plus_output_and_admits_in_order() -> None:
    scheduler = make(blocks=8)
    a, b, c = seq(6, 10), seq(2, 2), seq(2, 2)  # a: 16 tokens = 4 blocks
    big = seq(10, 10)  # 5 blocks
    scheduler.waiting.extend([a, big, b, c])
    plan = scheduler.schedule()
    assert plan == [(a, 6)]  # big does not fit the 4 free blocks, and b may not jump it
    assert scheduler.cache.num_used_blocks == 4 and list(scheduler.waiting) == [big, b, c]


def test_token_budget_and_batch_size_bound_a_step() -> None:
    scheduler = make(blocks=32, batch=3, tokens=10)
    seqs = [seq(4, 4) for _ in range(4)]
    scheduler.waiting.extend(seqs)
    assert run(scheduler, scheduler.schedule()) == [(seqs[0], 4), (seqs[1], 4)]  # 3rd: > 10
    assert scheduler.schedule() == [(seqs[0], 1), (seqs[1], 1), (seqs[2], 4)]  # batch of 3


def test_chunked_context_splits_a_prompt_across_steps() -> None:
    scheduler = make(blocks=32, tokens=8, chunked=True)
    long, short = seq(20, 2), seq(3, 2)
    scheduler.waiting.extend([long, short])
    assert run(scheduler, scheduler.schedule()) == [(long, 8)]
    assert run(scheduler, scheduler.schedule()) == [(long, 8)]
    assert scheduler.schedule() == [(long, 4), (short, 3)]  # the last chunk leaves room


def test_max_utilization_pauses_the_newest_and_resumes_it_first() -> None:
    scheduler = make("max_utilization", blocks=3, tokens=16)
    old, new = seq(4, 8), seq(4, 8)  # 12 tokens each at most; 3 blocks hold 12 in all
    scheduler.waiting.extend([old, new])
    assert run(scheduler, scheduler.schedule()) == [(old, 4), (new, 4)]  # 1 block each
    assert run(scheduler, scheduler.schedule()) == [(old, 1)]  # one free block: old gets it
    assert scheduler.running == [old] and list(scheduler.paused) == [new]
    assert scheduler.preemptions == 1 and new.num_computed == 0 and new.n_generated == 1
    late = seq(1, 1)
    scheduler.waiting.append(late)
    plan = run(scheduler, scheduler.schedule())
    while new not in scheduler.running:
        assert late not in scheduler.running  # nothing overtakes the paused sequence
        plan = run(scheduler, scheduler.schedule())
    assert old.n_generated == 8 and old not in scheduler.running  # finished first
    assert [s for s, _ in plan] == [new, late]
    assert plan[0][1] == 5  # new recomputes its prompt and its generated token
