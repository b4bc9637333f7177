"""A client's cancellation becomes TensorRT-LLM's `stop` request for the engine."""

from __future__ import annotations

import threading
import time

from tritonsla.bls.core import BlsModels, CancelWatcher, stop_request


def test_stop_request_names_the_live_request():
    request = stop_request(BlsModels("p", "rt_tensorrt_llm"), "req-7")
    assert request.model == "rt_tensorrt_llm" and request.request_id == "req-7"
    assert bool(request.inputs["stop"].reshape(-1)[0]) is True
    assert request.decoupled
    assert {"input_ids", "input_lengths", "request_output_len"} <= set(request.inputs)


def test_watcher_fires_once_when_cancelled():
    cancelled = threading.Event()
    calls: list[float] = []
    with CancelWatcher(cancelled.is_set, lambda: calls.append(time.monotonic()), 0.01) as w:
        time.sleep(0.05)
        assert calls == [] and not w.fired
        cancelled.set()
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
    assert len(calls) == 1 and w.fired


def test_watcher_stops_quietly_when_the_request_ends():
    calls: list[int] = []
    with CancelWatcher(lambda: False, lambda: calls.append(1), 0.01) as watcher:
        pass
    assert calls == [] and not watcher.fired
