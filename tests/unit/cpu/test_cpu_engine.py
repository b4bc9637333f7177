"""The in-flight batching engine: exact greedy outputs under each policy, limits, cancel, thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from cpukit import VOCAB, Collector, greedy_reference, make_engine, prompts, run_to_completion

from tritonsla.cpu.config import EngineConfig
from tritonsla.cpu.engine import Engine
from tritonsla.cpu.errors import EngineConfigError, QueueFullError
from tritonsla.cpu.model import GPT2Model
from tritonsla.engine_request import (
    FinishReason,
    GenerationRequest,
    InvalidRequestError,
    SamplingParams,
)

NEW = 20
PROMPTS = prompts(1, [3, 30, 9, 1, 26, 12])


@pytest.fixture(scope="module")
def expected(model: GPT2Model) -> list[list[int]]:
    return [greedy_reference(model, p, NEW) for p in PROMPTS]


@pytest.mark.parametrize(
    ("policy", "chunked", "max_num_tokens", "kv_tokens"),
    [
        ("guaranteed_no_evict", False, 40, None),
        ("guaranteed_no_evict", True, 16, 160),  # KV for 3-4 requests at once: others queue
        ("max_utilization", False, 40, 64),  # 8 blocks: sequences get paused and resumed
        ("max_utilization", True, 16, 96),
    ],
)
def test_batched_greedy_equals_single_sequence_greedy(
    checkpoint_dir: Path,
    expected: list[list[int]],
    policy: str,
    chunked: bool,
    max_num_tokens: int,
    kv_tokens: int | None,
) -> None:
    engine = make_engine(
        checkpoint_dir,
        batch_scheduler_policy=policy,
        enable_chunked_context=chunked,
        max_num_tokens=max_num_tokens,
        max_tokens_in_paged_kv_cache=kv_tokens,
    )
    out = Collector()
    for i, prompt in enumerate(PROMPTS[:3]):
        engine.submit(out.request(i, prompt, NEW, streaming=i % 2 == 0))
    for _ in range(4):  # the first requests are decoding when the others arrive
        engine.step()
    for i, prompt in enumerate(PROMPTS[3:], start=3):
        engine.submit(out.request(i, prompt, NEW, streaming=i % 2 == 0))
    most_waiting = 0
    while engine.step():
        most_waiting = max(most_waiting, engine.stats().waiting)
    for i, prompt in enumerate(PROMPTS):
        final = out.final(i)
        assert final.finish_reason is FinishReason.LENGTH
        if i % 2 == 0:
            assert out.streamed(i) == expected[i]
            assert len(out.events[i]) == NEW  # one event per generated token
        else:
            assert list(final.token_ids) == [*prompt, *expected[i]]
    stats = engine.stats()
    assert (stats.active, stats.waiting, stats.paused, stats.kv_blocks_used) == (0, 0, 0, 0)
    assert stats.generated_tokens == NEW * len(PROMPTS)
    if kv_tokens is not None:
        assert most_waiting > 0  # capacity made requests wait, none failed
    if policy == "max_utilization":
        assert stats.preemptions > 0
        assert stats.context_tokens > sum(map(len, PROMPTS)) + NEW * len(PROMPTS)  # recomputed


def test_chunked_context_prefills_a_long_prompt_over_several_steps(checkpoint_dir: Path) -> None:
    engine = make_engine(checkpoint_dir, enable_chunked_context=True, max_num_tokens=8)
    out = Collector()
    engine.submit(out.request("long", PROMPTS[1], 2))
    steps = run_to_completion(engine)
    assert steps == 4 + 1  # 30 prompt tokens in chunks of 8, then one decode step
    assert out.final("long").finish_reason is FinishReason.LENGTH


def test_outputs_follow_the_tensorrt_llm_layout(
    checkpoint_dir: Path, expected: list[list[int]]
) -> None:
    engine = make_engine(checkpoint_dir)
    out = Collector()
    prompt = PROMPTS[2]
    engine.submit(out.request("full", prompt, NEW, return_log_probs=True))
    engine.submit(out.request("gen", prompt, NEW, exclude_input_in_output=True))
    engine.submit(out.request("stream", prompt, NEW, streaming=True, return_log_probs=True))
    run_to_completion(engine)
    full, gen = out.final("full"), out.final("gen")
    assert list(full.token_ids) == [*prompt, *expected[2]]
    assert list(gen.token_ids) == expected[2]
    assert len(out.events["full"]) == len(out.events["gen"]) == 1
    assert len(full.log_probs) == NEW and all(lp <= 0 for lp in full.log_probs)
    assert full.cum_log_prob == pytest.approx(sum(full.log_probs), abs=1e-4)
    assert gen.log_probs == tuple([0.0] * NEW)  # not requested
    stream = out.events["stream"]
    assert [len(e.token_ids) for e in stream] == [1] * NEW
    assert [e.log_probs[0] for e in stream] == pytest.approx(list(full.log_probs), abs=1e-5)
    assert stream[-1].cum_log_prob == pytest.approx(full.cum_log_prob, abs=1e-4)


def first_new_token_index(tokens: list[int], start: int) -> int:
    """Index >= start of a token that does not occur before it."""
    return next(k for k in range(start, len(tokens)) if tokens[k] not in tokens[:k])


def test_end_id_stops_without_being_output_and_min_tokens_delays_it(
    checkpoint_dir: Path, expected: list[list[int]]
) -> None:
    generated = expected[0]
    k = first_new_token_index(generated, 4)
    end_id = generated[k]
    engine = make_engine(checkpoint_dir)
    out = Collector()
    engine.submit(out.request("end", PROMPTS[0], NEW, end_id=end_id, streaming=True))
    engine.submit(out.request("end-full", PROMPTS[0], NEW, end_id=end_id))
    late = SamplingParams(min_tokens=k + 1)
    engine.submit(out.request("min", PROMPTS[0], NEW, end_id=end_id, sampling=late))
    run_to_completion(engine)
    assert out.streamed("end") == generated[:k]
    assert out.final("end").finish_reason is FinishReason.END_ID
    assert out.final("end").token_ids == ()  # the end token itself is never sent
    assert list(out.final("end-full").token_ids) == [*PROMPTS[0], *generated[:k]]
    banned = list(out.final("min").token_ids[len(PROMPTS[0]) :])
    assert banned[:k] == generated[:k] and len(banned) > k and banned[k] != end_id


def test_stop_words_end_generation_and_stay_in_the_output(
    checkpoint_dir: Path, expected: list[list[int]]
) -> None:
    generated = expected[4]
    k = first_new_token_index(generated, 3)
    stop = (generated[k - 1], generated[k])
    engine = make_engine(checkpoint_dir)
    out = Collector()
    other = (VOCAB - 1, VOCAB - 2, VOCAB - 3)
    request = out.request(
        "s", PROMPTS[4], NEW, stop_words=(other, stop), exclude_input_in_output=True
    )
    engine.submit(request)
    run_to_completion(engine)
    final = out.final("s")
    assert list(final.token_ids) == generated[: k + 1]
    assert final.finish_reason is FinishReason.STOP_WORDS


def test_bad_words_are_never_generated(checkpoint_dir: Path, expected: list[list[int]]) -> None:
    banned = expected[3][0]
    engine = make_engine(checkpoint_dir)
    out = Collector()
    sampling = SamplingParams(bad_words=((banned,),))
    engine.submit(
        out.request("b", PROMPTS[3], NEW, sampling=sampling, exclude_input_in_output=True)
    )
    run_to_completion(engine)
    tokens = list(out.final("b").token_ids)
    assert len(tokens) == NEW and banned not in tokens


def test_seeded_sampling_does_not_depend_on_batch_neighbours(checkpoint_dir: Path) -> None:
    sampling = SamplingParams(top_k=50, temperature=1.5, seed=7)

    def run(neighbours: int) -> list[int]:
        engine = make_engine(checkpoint_dir)
        out = Collector()
        engine.submit(out.request("x", PROMPTS[2], NEW, sampling=sampling, streaming=True))
        for i in range(neighbours):
            engine.submit(out.request(i, PROMPTS[i], NEW, sampling=SamplingParams(top_p=0.9)))
        run_to_completion(engine)
        return out.streamed("x")

    alone = run(0)
    assert alone == run(3)
    other_seed = make_engine(checkpoint_dir)
    out = Collector()
    reseeded = SamplingParams(top_k=50, temperature=1.5, seed=8)
    other_seed.submit(out.request("y", PROMPTS[2], NEW, sampling=reseeded, streaming=True))
    run_to_completion(other_seed)
    assert out.streamed("y") != alone


def test_kv_exhaustion_queues_instead_of_failing(
    checkpoint_dir: Path, expected: list[list[int]]
) -> None:
    engine = make_engine(checkpoint_dir, max_tokens_in_paged_kv_cache=48)  # 6 blocks of 8
    out = Collector()
    engine.submit(out.request("a", PROMPTS[2], NEW))  # 9 + 20 tokens: 4 blocks reserved
    engine.submit(out.request("b", PROMPTS[2], NEW))
    engine.step()
    stats = engine.stats()
    assert (stats.active, stats.waiting, stats.kv_blocks_used) == (1, 1, 4)
    run_to_completion(engine)
    for rid in ("a", "b"):
        assert list(out.final(rid).token_ids) == [*PROMPTS[2], *expected[2]]


def test_queue_overflow_raises_queue_full(checkpoint_dir: Path) -> None:
    engine = make_engine(checkpoint_dir, max_queue_size=2)
    out = Collector()
    engine.submit(out.request(1, PROMPTS[0], 4))
    engine.submit(out.request(2, PROMPTS[0], 4))
    with pytest.raises(QueueFullError, match=r"2 requests already wait \(max_queue_size 2\)"):
        engine.submit(out.request(3, PROMPTS[0], 4))
    engine.step()  # both admitted: the queue has room again
    engine.submit(out.request(3, PROMPTS[0], 4))


def test_cancel_frees_the_slot_and_blocks(checkpoint_dir: Path) -> None:
    engine = make_engine(checkpoint_dir, max_batch_size=1)
    out = Collector()
    flag = threading.Event()
    engine.submit(out.request("run", PROMPTS[1], NEW))
    engine.submit(out.request("queued", PROMPTS[0], NEW))
    engine.submit(out.request("polled", PROMPTS[0], NEW, is_cancelled=flag.is_set))
    engine.step()
    engine.step()
    assert engine.stats().kv_blocks_used == 7 and engine.stats().waiting == 2
    engine.cancel("run")
    engine.cancel("queued")
    engine.cancel("unknown")  # ignored
    engine.step()
    for rid in ("run", "queued"):
        final = out.final(rid)
        assert final.finish_reason is FinishReason.CANCELLED and final.token_ids == ()
    stats = engine.stats()
    assert (stats.active, stats.waiting) == (1, 0)  # "polled" took the freed slot
    assert stats.kv_blocks_used == 3
    flag.set()
    time.sleep(0.03)  # past the is_cancelled polling interval
    engine.step()
    assert out.final("polled").finish_reason is FinishReason.CANCELLED
    assert engine.stats().kv_blocks_used == 0 and not engine.step()


def test_a_failing_callback_cancels_its_request(checkpoint_dir: Path) -> None:
    engine = make_engine(checkpoint_dir)
    seen = []

    def explode(event) -> None:
        seen.append(event)
        if not event.final:
            raise RuntimeError("client gone")

    engine.submit(GenerationRequest("x", PROMPTS[0], NEW, explode, streaming=True))
    run_to_completion(engine)
    assert seen[-1].finish_reason is FinishReason.CANCELLED and len(seen) == 2
    assert engine.stats().kv_blocks_used == 0


@pytest.mark.parametrize(
    ("prompt_len", "new", "options", "message"),
    [
        (20, 4, {"max_input_len": 16}, r"prompt of 20 tokens exceeds max_input_len 16"),
        (20, 120, {}, r"plus request_output_len 120 exceeds max_seq_len 128"),
        (50, 4, {"max_num_tokens": 32}, r"exceeds max_num_tokens 32 and chunked context is off"),
        (
            30,
            40,
            {"max_tokens_in_paged_kv_cache": 64},
            r"needs 9 KV blocks but the whole cache has 8",
        ),
        (0, 4, {}, r"`input_ids` is empty"),
        (3, 0, {}, r"`request_output_len` is 0"),
    ],
)
def test_requests_that_can_never_run_are_rejected(
    checkpoint_dir: Path, prompt_len: int, new: int, options: dict, message: str
) -> None:
    engine = make_engine(checkpoint_dir, **options)
    with pytest.raises(InvalidRequestError, match=message):
        engine.submit(Collector().request("r", [5] * prompt_len, new))
    assert engine.stats().waiting == 0


def test_bad_request_fields_are_rejected(checkpoint_dir: Path) -> None:
    engine = make_engine(checkpoint_dir)
    out = Collector()
    with pytest.raises(InvalidRequestError, match=r"outside the vocabulary \[0, 256\)"):
        engine.submit(out.request("r", [1, VOCAB], 4))
    with pytest.raises(InvalidRequestError, match=r"`end_id` 999 is outside"):
        engine.submit(out.request("r", [1], 4, end_id=999))
    with pytest.raises(InvalidRequestError, match=r"`stop_words_list` holds \[\]"):
        engine.submit(out.request("r", [1], 4, stop_words=((),)))
    engine.submit(out.request("r", [1], 4))
    with pytest.raises(InvalidRequestError, match=r"request id 'r' is already in use"):
        engine.submit(out.request("r", [1], 4))


def test_engine_config_errors_name_the_setting(checkpoint_dir: Path) -> None:
    with pytest.raises(
        EngineConfigError, match=r"`batch_scheduler_policy`: 'fifo' is not supported"
    ):
        EngineConfig(checkpoint_dir, batch_scheduler_policy="fifo")
    with pytest.raises(EngineConfigError, match=r"`precision`: 'fp16' is not supported"):
        EngineConfig(checkpoint_dir, precision="fp16")
    with pytest.raises(EngineConfigError, match=r"`max_batch_size`: 0 is below 1"):
        EngineConfig(checkpoint_dir, max_batch_size=0)
    with pytest.raises(EngineConfigError, match=r"exceeds the checkpoint's n_positions 128"):
        Engine(EngineConfig(checkpoint_dir, max_seq_len=4096))
    with pytest.raises(EngineConfigError, match=r"`max_input_len`: 64 leaves no room"):
        Engine(EngineConfig(checkpoint_dir, max_seq_len=64, max_input_len=64))


def test_worker_thread_serves_requests_then_blocks_when_idle(
    checkpoint_dir: Path, expected: list[list[int]]
) -> None:
    done = threading.Event()
    out = Collector()

    def callback(event) -> None:
        out(event)
        if event.final and len([r for r in out.events.values() if r[-1].final]) == 3:
            done.set()

    engine = make_engine(checkpoint_dir)
    calls = []
    step = engine.step
    engine.step = lambda: calls.append(1) or step()  # count every wake-up of the worker
    with engine:
        for i in range(3):
            engine.submit(GenerationRequest(i, PROMPTS[i], NEW, callback, streaming=True))
        assert done.wait(timeout=30)
        time.sleep(0.05)
        wakeups = len(calls)
        time.sleep(0.2)
        assert len(calls) == wakeups  # idle: the worker blocks instead of polling
        assert engine._thread is not None and engine._thread.is_alive()
        engine.submit(GenerationRequest("late", PROMPTS[3], 2, out))
        deadline = time.monotonic() + 30
        while "late" not in out.events or not out.events["late"][-1].final:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    for i in range(3):
        assert out.streamed(i) == expected[i]


def test_stop_ends_live_requests_with_an_error(checkpoint_dir: Path) -> None:
    engine = make_engine(checkpoint_dir)
    out = Collector()
    engine.submit(out.request("r", PROMPTS[0], NEW))
    engine.stop()
    final = out.final("r")
    assert final.finish_reason is FinishReason.ERROR and final.error == "engine stopped"
    assert engine.stats().waiting == 0
