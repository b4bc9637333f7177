"""Token choice: greedy, seeded sampling, top-k / top-p, penalties, min_tokens, bad words."""

from __future__ import annotations

import numpy as np
import pytest

from tritonsla.cpu.sampling import TokenSampler, choose_tokens
from tritonsla.engine_request import InvalidRequestError, SamplingParams

V = 50


def logits_rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, V)).astype(np.float32)


def draw_many(params: SamplingParams, row: np.ndarray, n: int, prompt=(1, 2)) -> list[int]:
    sampler = TokenSampler(params, prompt, V, end_id=None)
    return [
        int(choose_tokens(row[None].copy(), [sampler], [list(prompt)], [0], [False])[0][0])
        for _ in range(n)
    ]


def test_greedy_rules_follow_tensorrt_llm() -> None:
    assert SamplingParams().greedy  # top_k 0 and top_p 0
    assert SamplingParams(top_k=1, top_p=0.9).greedy
    assert SamplingParams(temperature=0.0, top_k=40).greedy
    assert not SamplingParams(top_k=40).greedy
    assert not SamplingParams(top_p=0.9).greedy


def test_top_k_one_equals_greedy_and_greedy_is_argmax() -> None:
    rows = logits_rows(6)
    greedy = [TokenSampler(SamplingParams(), (), V, None) for _ in rows]
    top1 = [
        TokenSampler(SamplingParams(top_k=1, temperature=0.7, seed=9), (), V, None) for _ in rows
    ]
    a, _ = choose_tokens(rows.copy(), greedy, [[]] * 6, [0] * 6, [False] * 6)
    b, _ = choose_tokens(rows.copy(), top1, [[]] * 6, [0] * 6, [False] * 6)
    assert a.tolist() == b.tolist() == rows.argmax(-1).tolist()


def test_sampling_is_reproducible_per_seed_and_varies_across_seeds() -> None:
    row = logits_rows(1)[0] * 0.3  # flat enough that samples differ
    params = SamplingParams(top_k=20, temperature=1.0, seed=42)
    first = draw_many(params, row, 30)
    assert first == draw_many(params, row, 30)
    assert first != draw_many(SamplingParams(top_k=20, seed=43), row, 30)
    assert len(set(first)) > 3


def test_top_k_and_top_p_restrict_the_candidates() -> None:
    row = logits_rows(1, seed=3)[0]
    best = set(np.argsort(-row)[:3].tolist())
    assert set(draw_many(SamplingParams(top_k=3, seed=1), row, 60)) <= best
    probs = np.exp(row - row.max())
    probs /= probs.sum()
    order = np.argsort(-probs)
    nucleus = set(order[: int(np.searchsorted(np.cumsum(probs[order]), 0.5)) + 1].tolist())
    drawn = set(draw_many(SamplingParams(top_p=0.5, seed=1), row, 200))
    assert drawn <= nucleus and len(drawn) > 1
    assert set(draw_many(SamplingParams(top_p=1e-6, seed=1), row, 10)) == {int(order[0])}


def test_penalties_move_logits_of_seen_tokens() -> None:
    logits = np.array([2.0, -2.0, 1.0, 0.5], np.float32)
    prompt = (0, 1, 3, 3)
    params = SamplingParams(repetition_penalty=2.0, presence_penalty=0.5, frequency_penalty=0.25)
    sampler = TokenSampler(params, prompt, 4, end_id=None)
    sampler.process(logits, list(prompt), 0)
    # seen once: 2/2 - 0.5 - 0.25 and -2*2 - 0.5 - 0.25; unseen: 1; seen twice: 0.5/2 - 0.5 - 0.5
    np.testing.assert_allclose(logits, [0.25, -4.75, 1.0, -0.75])
    sampler.observe(2)
    logits = np.array([2.0, -2.0, 1.0, 0.5], np.float32)
    sampler.process(logits, [*prompt, 2], 1)
    assert logits[2] == pytest.approx(1.0 / 2 - 0.5 - 0.25)


def test_min_tokens_bans_end_id_and_bad_words_ban_their_last_token() -> None:
    params = SamplingParams(min_tokens=2, bad_words=((7,), (4, 5)))
    sampler = TokenSampler(params, (), V, end_id=3)
    row = np.zeros(V, np.float32)
    sampler.process(row, [1, 4], n_generated=1)
    assert np.isneginf(row[[3, 7, 5]]).all() and np.isfinite(np.delete(row, [3, 7, 5])).all()
    row = np.zeros(V, np.float32)
    sampler.process(row, [1, 6], n_generated=2)  # long enough; 4 not last, so 5 is allowed
    assert np.isneginf(row).tolist().count(True) == 1 and np.isneginf(row[7])


def test_log_probs_of_the_chosen_tokens() -> None:
    rows = logits_rows(3)
    samplers = [TokenSampler(SamplingParams(), (), V, None) for _ in range(3)]
    tokens, log_probs = choose_tokens(rows.copy(), samplers, [[]] * 3, [0] * 3, [True, False, True])
    shifted = rows - rows.max(-1, keepdims=True)
    expected = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    assert log_probs[1] == 0.0
    for i in (0, 2):
        assert log_probs[i] == pytest.approx(expected[i, tokens[i]], abs=1e-5)
        assert log_probs[i] < 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (SamplingParams(temperature=-1), r"`temperature` is -1; it must be >= 0"),
        (SamplingParams(top_p=1.5), r"`runtime_top_p` is 1.5; it must be within \[0, 1\]"),
        (SamplingParams(top_k=-2), r"`runtime_top_k` is -2"),
        (SamplingParams(repetition_penalty=0), r"`repetition_penalty` is 0"),
        (SamplingParams(bad_words=((3, V),)), r"`bad_words_list` holds \[3, 50\]"),
    ],
)
def test_invalid_settings_are_named(params: SamplingParams, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        params.validate(V)
