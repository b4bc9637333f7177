"""Stop requests find the live request that carries the same Triton request id."""

from __future__ import annotations

import numpy as np

from tritonsla.cpu.request_ids import RequestIds, is_stop_request


def test_stop_flag():
    assert is_stop_request({"stop": np.array([[True]])})
    assert not is_stop_request({"stop": np.array([[False]])})
    assert not is_stop_request({"input_ids": np.array([[1]])})


def test_ids_map_and_release():
    ids = RequestIds()
    first = ids.new("abc")
    assert ids.lookup("abc") == first
    second = ids.new("abc")  # a newer request reusing the id wins
    assert ids.lookup("abc") == second != first
    ids.release("abc", first)  # the older one finishing does not forget the newer one
    assert ids.lookup("abc") == second
    ids.release("abc", second)
    assert ids.lookup("abc") is None
    anonymous = ids.new("")
    assert ids.lookup("") is None and anonymous not in (first, second)
