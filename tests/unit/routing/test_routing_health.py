"""Replica health: capped exponential backoff between probes; suspects and their strikes."""

from __future__ import annotations

import pytest

from tritonsla.routing.health import HealthBoard, backoff_s, probe_ready
from tritonsla.server.ports import free_ports


def test_backoff_doubles_from_the_base_up_to_the_cap():
    schedule = [backoff_s(n, base=0.1, cap=5.0) for n in range(1, 10)]
    assert schedule == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    assert backoff_s(10_000, base=0.1, cap=5.0) == 5.0
    with pytest.raises(ValueError, match="`failures` must be >= 1"):
        backoff_s(0)


def test_down_replicas_are_due_for_a_probe_after_their_backoff():
    board = HealthBoard(base=1.0, cap=4.0)
    assert board.is_up("a:1")

    assert board.mark_down("a:1", now=100.0) == 101.0
    assert not board.is_up("a:1")
    assert board.due(100.5) == []
    assert board.due(101.0) == ["a:1"]

    assert board.mark_down("a:1", now=101.0) == 103.0  # the probe failed: twice as long
    assert board.mark_down("a:1", now=103.0) == 107.0
    assert board.mark_down("a:1", now=107.0) == 111.0  # capped at 4 s

    board.mark_up("a:1")
    assert board.is_up("a:1") and board.due(1e9) == []
    assert board.mark_down("a:1", now=200.0) == 201.0  # a new outage starts from the base


def test_a_suspect_is_held_out_until_a_probe_and_strikes_grow_until_it_serves():
    board = HealthBoard(base=1.0, cap=8.0)
    assert board.mark_suspect("a:1", now=100.0) == 101.0  # first timeout: probed soon
    assert not board.is_up("a:1") and board.due(101.0) == ["a:1"]
    assert board.mark_suspect("a:1", now=100.5) == 101.0  # held out already: schedule stands
    board.mark_up("a:1")  # the probe answered

    assert board.mark_suspect("a:1", now=110.0) == 112.0  # timed out again before serving
    assert board.mark_down("a:1", now=112.0) == 116.0  # the probe went unanswered
    board.mark_up("a:1")
    board.served("a:1")  # a request answered: strikes cleared
    assert board.mark_suspect("a:1", now=200.0) == 201.0


def test_probe_of_a_closed_port_is_false_quickly():
    (port,) = free_ports(1)
    assert probe_ready(f"127.0.0.1:{port}", timeout=2.0) is False
