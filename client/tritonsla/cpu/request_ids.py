"""Engine ids for Triton requests, so a `stop` request can find the request it names.

TensorRT-LLM cancels a live request when a request with the same Triton request id arrives with
`stop` set; the CPU engine does the same. Requests without an id cannot be stopped that way
(they can still be cancelled by their own client). If two live requests share an id, `stop`
reaches the newer one.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np


def is_stop_request(tensors: dict[str, np.ndarray]) -> bool:
    """Whether the request only asks to stop another one (input `stop` is true)."""
    stop = tensors.get("stop")
    return stop is not None and bool(np.asarray(stop).reshape(-1)[0])


class RequestIds:
    """Thread-safe map of live Triton request ids to engine request ids."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._live: dict[str, int] = {}
        self._lock = threading.Lock()

    def new(self, triton_id: str) -> int:
        """A fresh engine id, remembered under `triton_id` when it is not empty."""
        engine_id = next(self._counter)
        if triton_id:
            with self._lock:
                self._live[triton_id] = engine_id
        return engine_id

    def lookup(self, triton_id: str) -> int | None:
        """The live engine id of `triton_id`, if any."""
        with self._lock:
            return self._live.get(triton_id)

    def release(self, triton_id: str, engine_id: int) -> None:
        """Forget `triton_id` once its request `engine_id` has finished."""
        with self._lock:
            if self._live.get(triton_id) == engine_id:
                del self._live[triton_id]
