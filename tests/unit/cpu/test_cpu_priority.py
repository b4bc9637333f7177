"""Priority levels in the CPU engine: queue order, per-level bounds, preemption, config, tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cpukit import (
    Collector,
    as_triton,
    greedy_reference,
    make_engine,
    model_config,
    prompts,
    run_to_completion,
)

from tritonsla.cpu.config import EngineConfig
from tritonsla.cpu.errors import EngineConfigError, QueueFullError
from tritonsla.cpu.kv_cache import PagedKVCache
from tritonsla.cpu.model import GPT2Model
from tritonsla.cpu.scheduler import Scheduler
from tritonsla.cpu.sequence import Sequence
from tritonsla.cpu.triton_config import settings_from_model_config
from tritonsla.cpu.triton_io import request_from_tensors
from tritonsla.engine_request import InvalidRequestError, OutputEvent

SHARED = {"waiting_queue_policy": "priority", "priority_levels": 3, "default_priority_level": 2}


# --- the scheduler alone -------------------------------------------------------------------------
def make(
    policy: str = "max_utilization", order: str = "priority", *, blocks: int = 16, batch: int = 4
) -> Scheduler:
    cache = PagedKVCache(1, 1, 1, max_tokens=4 * blocks, tokens_per_block=4)
    return Scheduler(
        cache,
        max_batch_size=batch,
        max_num_tokens=64,
        policy=policy,
        chunked_context=False,
        waiting_queue_policy=order,
    )


def seq(level: int, prompt_len: int = 4, new: int = 8) -> Sequence:
    return Sequence(Collector().request(object(), [1] * prompt_len, new), 8, level)


def step(scheduler: Scheduler) -> list[tuple[Sequence, int]]:
    """Plan a step and pretend it ran: K/V computed, token 1 sampled where the context is done."""
    plan = scheduler.schedule()
    for s, n in plan:
        s.num_computed += n
        if s.pending == 0 and s.accept(1, 0.0) is not None:
            scheduler.remove(s)
    return plan


@pytest.mark.parametrize(
    ("order", "expected"), [("fcfs", [0, 1, 2, 3, 4]), ("priority", [1, 3, 2, 0, 4])]
)
def test_waiting_order_is_arrival_or_level_then_arrival(order: str, expected: list[int]) -> None:
    scheduler = make(order=order)
    seqs = [seq(level) for level in (3, 1, 2, 1, 3)]
    for s in seqs:
        scheduler.add(s)
    assert list(scheduler.waiting) == [seqs[i] for i in expected]
    assert scheduler.num_waiting(1) == 2 and scheduler.num_waiting(2) == 1


def test_admission_stays_head_of_line_within_the_order() -> None:
    scheduler = make("guaranteed_no_evict", blocks=4)
    big, small, high = seq(2, 4, 12), seq(3, 2, 2), seq(1, 4, 12)  # 4, 1 and 4 blocks
    for s in (big, small, high):
        scheduler.add(s)
    assert scheduler.schedule() == [(high, 4)]  # big no longer fits; small may not jump it
    assert list(scheduler.waiting) == [big, small]


def test_full_batch_pauses_the_lowest_priority_newest_first() -> None:
    scheduler = make(batch=3)
    old3, mid, new3 = seq(3), seq(2), seq(3)
    for s in (old3, mid, new3):
        scheduler.add(s)
    step(scheduler)
    assert scheduler.running == [mid, old3, new3]
    high = seq(1)
    scheduler.add(high)
    plan = scheduler.schedule()
    assert (high, 4) in plan and (new3, 1) not in plan
    assert list(scheduler.paused) == [new3] and new3.num_computed == 0
    assert scheduler.preemptions == 1 and scheduler.cache.capacity(new3) == 0


def test_full_kv_cache_pauses_lower_priorities_until_the_request_fits() -> None:
    scheduler = make(blocks=4)
    lows = [seq(3, 2, 8) for _ in range(4)]  # one block each: the cache is full
    for s in lows:
        scheduler.add(s)
    step(scheduler)
    high = seq(1, 8, 4)  # needs 2 blocks
    scheduler.add(high)
    plan = scheduler.schedule()
    assert plan[-1] == (high, 8) and list(scheduler.paused) == [lows[2], lows[3]]
    assert [s for s, _ in plan[:-1]] == lows[:2] and scheduler.preemptions == 2


def test_running_sequence_short_of_kv_pauses_a_lower_priority_one_already_planned() -> None:
    scheduler = make(blocks=3)
    low, high = seq(3), seq(1)
    scheduler.add(low)
    step(scheduler)  # low is admitted first and stays ahead of high in the batch
    scheduler.add(high)
    step(scheduler)
    assert scheduler.running == [low, high]  # low: 6 tokens in 2 blocks, high: 5 tokens in 1
    plan = scheduler.schedule()  # low is planned, then high needs a block and none is free
    assert plan == [(high, 1)] and list(scheduler.paused) == [low]
    assert scheduler.cache.capacity(low) == 0 and low.num_computed == 0


@pytest.mark.parametrize(
    ("policy", "order", "levels", "newcomer"),
    [
        ("guaranteed_no_evict", "priority", (3, 3), 1),  # no eviction policy: it waits
        ("max_utilization", "priority", (2, 2), 2),  # equal priority
        ("max_utilization", "priority", (2, 2), 3),  # lower priority
        ("max_utilization", "fcfs", (3, 3), 1),  # levels ignored
    ],
)
def test_no_preemption(policy: str, order: str, levels: tuple[int, int], newcomer: int) -> None:
    scheduler = make(policy, order, batch=2)
    for level in levels:
        scheduler.add(seq(level))
    step(scheduler)
    scheduler.add(seq(newcomer))
    assert len(scheduler.schedule()) == 2
    assert scheduler.preemptions == 0 and not scheduler.paused and len(scheduler.waiting) == 1


def test_no_preemption_when_pausing_every_lower_priority_would_not_be_enough() -> None:
    scheduler = make(blocks=4)
    high_running, low = seq(1, 7, 8), seq(3, 2, 4)  # 2 blocks and 1 block
    scheduler.add(high_running)
    scheduler.add(low)
    step(scheduler)
    scheduler.add(seq(2, 12, 4))  # 3 blocks: only 1 free + 1 held by low
    assert [s for s, _ in scheduler.schedule()] == [high_running, low]
    assert scheduler.preemptions == 0


def test_waiting_higher_priority_goes_before_a_paused_lower_one() -> None:
    scheduler = make(batch=1)
    low = seq(3)
    scheduler.add(low)
    step(scheduler)
    high, higher = seq(2), seq(1)
    scheduler.add(high)
    step(scheduler)  # low paused for high
    scheduler.add(higher)
    assert scheduler.schedule() == [(higher, 4)]  # high paused in turn
    assert list(scheduler.paused) == [high, low]


# --- the engine ----------------------------------------------------------------------------------
NEW = 12
PROMPTS = prompts(5, [26, 9, 3])


class Finishes(Collector):
    """A Collector that also records the order in which requests finish."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[object] = []

    def __call__(self, event: OutputEvent) -> None:
        super().__call__(event)
        if event.final:
            self.order.append(event.request_id)


@pytest.mark.parametrize(
    "limits",
    [
        {"max_batch_size": 1},  # the batch is full
        {"max_tokens_in_paged_kv_cache": 40, "max_batch_size": 4},  # the KV cache is full
    ],
)
def test_preempted_request_resumes_with_unchanged_output(
    checkpoint_dir: Path, model: GPT2Model, limits: dict
) -> None:
    engine = make_engine(
        checkpoint_dir, batch_scheduler_policy="max_utilization", **SHARED, **limits
    )
    out = Finishes()
    engine.submit(out.request("low", PROMPTS[0], NEW, priority=3))
    engine.step()
    engine.step()
    engine.submit(out.request("high", PROMPTS[1], NEW, priority=1))
    engine.step()
    assert engine.stats().paused == 1
    run_to_completion(engine)
    assert engine.stats().preemptions >= 1
    assert out.order == ["high", "low"]
    for rid, prompt in (("low", PROMPTS[0]), ("high", PROMPTS[1])):
        expected = [*prompt, *greedy_reference(model, prompt, NEW)]
        assert list(out.final(rid).token_ids) == expected


def test_fcfs_engine_serves_in_arrival_order_whatever_the_priority(checkpoint_dir: Path) -> None:
    config = SHARED | {"waiting_queue_policy": "fcfs"}
    engine = make_engine(checkpoint_dir, max_batch_size=1, **config)
    out = Finishes()
    for rid, priority in (("a", 3), ("b", 1), ("c", 0)):
        engine.submit(out.request(rid, PROMPTS[2], 2, priority=priority))
    run_to_completion(engine)
    assert out.order == ["a", "b", "c"] and engine.stats().preemptions == 0


def test_priority_engine_serves_waiting_requests_by_level(checkpoint_dir: Path) -> None:
    engine = make_engine(checkpoint_dir, max_batch_size=1, **SHARED)
    out = Finishes()
    for rid, priority in (("a", 3), ("b", 0), ("c", 1), ("d", 2)):  # b: default level 2
        engine.submit(out.request(rid, PROMPTS[2], 2, priority=priority))
    run_to_completion(engine)
    assert out.order == ["c", "b", "d", "a"]


def test_each_level_has_its_own_queue_bound(checkpoint_dir: Path) -> None:
    engine = make_engine(checkpoint_dir, max_queue_size=2, max_queue_size_by_level={1: 1}, **SHARED)
    out = Collector()
    engine.submit(out.request("r1", PROMPTS[2], 2, priority=1))
    with pytest.raises(QueueFullError, match=r"1 requests already wait at priority level 1"):
        engine.submit(out.request("r2", PROMPTS[2], 2, priority=1))
    for rid in ("d1", "d2"):  # priority 0: the default level 2, bounded by max_queue_size
        engine.submit(out.request(rid, PROMPTS[2], 2))
    with pytest.raises(QueueFullError, match=r"at priority level 2 \(max_queue_size 2\)"):
        engine.submit(out.request("d3", PROMPTS[2], 2, priority=2))
    engine.submit(out.request("b1", PROMPTS[2], 2, priority=3))  # level 3 still has room


def test_out_of_range_priority_is_refused(checkpoint_dir: Path) -> None:
    engine = make_engine(checkpoint_dir, **SHARED)
    with pytest.raises(InvalidRequestError, match=r"`priority` 4 exceeds this model's 3"):
        engine.submit(Collector().request("x", PROMPTS[2], 2, priority=4))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"waiting_queue_policy": "lifo"}, r"`waiting_queue_policy`: 'lifo' is not supported"),
        ({"waiting_queue_policy": "priority"}, r"`waiting_queue_policy`: 'priority' needs"),
        ({"priority_levels": 3}, r"`default_priority_level`: 0 is not a level"),
        ({"default_priority_level": 1}, r"`default_priority_level`: 1 is not a level of .* 0"),
        (SHARED | {"max_queue_size_by_level": {4: 1}}, r"level 4 is not in 1..priority_levels"),
        (SHARED | {"max_queue_size_by_level": {1: -1}}, r"level 1: -1 is below 0"),
        ({"priority_levels": -1}, r"`priority_levels`: -1 is below 0"),
    ],
)
def test_engine_config_priority_errors(options: dict, message: str) -> None:
    with pytest.raises(EngineConfigError, match=message):
        EngineConfig(Path("ckpt"), **options)


# --- Triton glue ---------------------------------------------------------------------------------
def shared_config(**batching) -> dict:
    config = model_config("ckpt", waiting_queue_policy="priority")
    config["dynamic_batching"] |= {"priority_levels": "3", "default_priority_level": "2"} | batching
    return config


def test_priority_settings_from_model_config(tmp_path: Path) -> None:
    policies = {
        "1": {"max_queue_size": 8, "timeout_action": "REJECT", "allow_timeout_override": True},
        "3": {"max_queue_size": "4096", "default_timeout_microseconds": "0"},
        "2": {},
    }
    engine = settings_from_model_config(
        shared_config(priority_queue_policy=policies), tmp_path
    ).engine
    assert (engine.waiting_queue_policy, engine.priority_levels) == ("priority", 3)
    assert engine.default_priority_level == 2 and engine.max_queue_size == 8
    assert engine.max_queue_size_by_level == {1: 8, 3: 4096, 2: 0}
    assert [engine.queue_limit(level) for level in (1, 2, 3)] == [8, 0, 4096]
    plain = settings_from_model_config(model_config("ckpt"), tmp_path).engine
    assert (plain.waiting_queue_policy, plain.priority_levels, plain.level_of(2)) == ("fcfs", 0, 0)


@pytest.mark.parametrize(
    ("batching", "message"),
    [
        ({"priority_levels": "three"}, r"`dynamic_batching.priority_levels`: 'three' is not an"),
        ({"default_priority_level": 4}, r"`dynamic_batching.default_priority_level`: 4 is not a"),
        (
            {"priority_queue_policy": {"first": {"max_queue_size": 1}}},
            r"`dynamic_batching.priority_queue_policy key`: 'first' is not an integer",
        ),
        (
            {"priority_queue_policy": {"7": {"max_queue_size": 1}}},
            r"`dynamic_batching.priority_queue_policy`: level 7 is not in 1..priority_levels",
        ),
        (
            {"priority_queue_policy": {"1": {"max_queue_size": 1.5}}},
            r"`dynamic_batching.priority_queue_policy\[1\].max_queue_size`: 1.5 is not an",
        ),
        ({"priority_queue_policy": {"1": 8}}, r"priority_queue_policy\[1\]`: 8 is not a queue"),
        ({"priority_queue_policy": [8]}, r"`dynamic_batching.priority_queue_policy`: \[8\] is"),
        (
            {"default_queue_policy": {"max_queue_size": -1}},
            r"`dynamic_batching.default_queue_policy.max_queue_size`: -1 is below 0",
        ),
    ],
)
def test_bad_priority_config_values_are_named(tmp_path: Path, batching: dict, message: str) -> None:
    with pytest.raises(EngineConfigError, match=message):
        settings_from_model_config(shared_config(**batching), tmp_path)


def test_bad_waiting_queue_policy_parameter_is_named(tmp_path: Path) -> None:
    config = model_config("ckpt", waiting_queue_policy="shortest")
    with pytest.raises(EngineConfigError, match=r"`waiting_queue_policy`: 'shortest' is not"):
        settings_from_model_config(config, tmp_path)


@pytest.mark.parametrize("shape", [(1,), (1, 1)])
def test_priority_tensor_is_read_and_checked(shape: tuple[int, ...]) -> None:
    tensors = as_triton([5, 6], 3, priority=np.full(shape, 2, np.int32))
    assert request_from_tensors(1, tensors, print, priority_levels=3).priority == 2
    assert request_from_tensors(1, as_triton([5, 6], 3), print, priority_levels=3).priority == 0
    too_low = as_triton([5, 6], 3, priority=np.array([4], np.int32))
    with pytest.raises(InvalidRequestError, match=r"`priority` 4 exceeds this model's 3"):
        request_from_tensors(1, too_low, print, priority_levels=3)
    negative = as_triton([5, 6], 3, priority=np.array([-1], np.int32))
    with pytest.raises(InvalidRequestError, match=r"`priority` -1 is below 0"):
        request_from_tensors(1, negative, print, priority_levels=3)
    assert request_from_tensors(1, too_low, print).priority == 4  # no levels: ignored by the engine
