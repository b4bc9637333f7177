"""Workloads: exact synthetic token counts, determinism, class mix, JSONL prompt files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tritonsla.bench.workload import (
    Mix,
    SyntheticPrompts,
    TokenLengths,
    Workload,
    equal_mix,
    load_prompt_file,
    parse_mix,
    whole_word_tokens,
)
from tritonsla.errors import ConfigError
from tritonsla.text.tokenizer import TextTokenizer

CLASSES = ("realtime", "interactive", "batch")


def test_whole_word_tokens_are_single_tokens(tokenizer: TextTokenizer) -> None:
    words = whole_word_tokens(tokenizer)
    assert len(words) > 100
    for word in words:
        assert word.startswith(" ")
        assert len(tokenizer.encode(word)) == 1


@pytest.mark.parametrize(("mean", "std"), [(64, 8.0), (1, 0.0), (200, 40.0), (7, 3.0)])
def test_synthetic_prompts_encode_to_exactly_their_token_count(
    tokenizer: TextTokenizer, mean: int, std: float
) -> None:
    prompts = SyntheticPrompts.from_tokenizer(tokenizer, TokenLengths(mean, std), seed=5)
    for index in range(200):
        entry = prompts.entry(index)
        assert len(tokenizer.encode(entry.text)) == entry.input_tokens


def test_synthetic_lengths_follow_mean_and_std(tokenizer: TextTokenizer) -> None:
    prompts = SyntheticPrompts.from_tokenizer(tokenizer, TokenLengths(64, 8.0), seed=1)
    lengths = np.array([prompts.entry(i).input_tokens for i in range(2000)])
    assert lengths.mean() == pytest.approx(64, abs=1.0)
    assert lengths.std() == pytest.approx(8, rel=0.1)
    assert lengths.min() >= 1


def test_requests_depend_only_on_seed_and_index(tokenizer: TextTokenizer) -> None:
    def workload(seed: int) -> Workload:
        prompts = SyntheticPrompts.from_tokenizer(tokenizer, TokenLengths(16, 4.0), seed=seed)
        return Workload(prompts, TokenLengths(8, 2.0), equal_mix(CLASSES), seed=seed)

    forward = [workload(3).request(i) for i in range(30)]
    backward = [workload(3).request(i) for i in reversed(range(30))][::-1]
    assert forward == backward
    assert forward != [workload(4).request(i) for i in range(30)]


def test_output_lengths_are_sampled_per_request(tokenizer: TextTokenizer) -> None:
    prompts = SyntheticPrompts.from_tokenizer(tokenizer, TokenLengths(8), seed=0)
    fixed = Workload(prompts, TokenLengths(32))
    assert {fixed.request(i).max_tokens for i in range(20)} == {32}
    varied = Workload(prompts, TokenLengths(32, 4.0))
    tokens = np.array([varied.request(i).max_tokens for i in range(2000)])
    assert tokens.mean() == pytest.approx(32, abs=0.5)
    assert tokens.std() == pytest.approx(4, rel=0.1)


def test_parse_mix() -> None:
    mix = parse_mix("realtime=0.2,interactive=0.3,batch=0.5", CLASSES)
    assert mix == Mix({"realtime": 0.2, "interactive": 0.3, "batch": 0.5})


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("realtime=0.5,turbo=0.5", "not an SLA class of the deployment.*available: realtime"),
        ("realtime=0.5,batch=0.4", "shares sum to 0.9"),
        ("realtime", "expected CLASS=SHARE"),
        ("realtime=-1,batch=2", "expected CLASS=SHARE"),
        ("realtime=0.5,realtime=0.5", "given twice"),
    ],
)
def test_bad_mixes_are_refused(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_mix(spec, CLASSES)


def test_every_prefix_of_a_mixed_run_holds_the_shares() -> None:
    mix = parse_mix("realtime=0.2,interactive=0.3,batch=0.5", CLASSES)
    for count in (10, 20, 50, 1000):
        seen = Counter(mix.class_of(i, seed=0) for i in range(count))
        for name, share in mix.shares.items():
            assert abs(seen[name] - share * count) <= 2


def test_zero_shares_send_nothing() -> None:
    mix = parse_mix("realtime=0,interactive=0,batch=1", CLASSES)
    assert {mix.class_of(i) for i in range(50)} == {"batch"}


def _jsonl(path: Path, *items: object) -> Path:
    path.write_text("\n".join(json.dumps(item) for item in items) + "\n\n")
    return path


def test_prompt_file_entries_win_over_workload_defaults(
    tmp_path: Path, tokenizer: TextTokenizer
) -> None:
    path = _jsonl(
        tmp_path / "p.jsonl",
        {"text": "hello world", "max_tokens": 5, "sla": "batch"},
        {"text": "the model"},
    )
    prompts = load_prompt_file(path, tokenizer)
    workload = Workload(prompts, TokenLengths(9), parse_mix("realtime=1", CLASSES))
    first, second, third = (workload.request(i) for i in range(3))
    assert (first.max_tokens, first.sla) == (5, "batch")
    assert (second.max_tokens, second.sla) == (9, "realtime")
    assert first.input_tokens == len(tokenizer.encode("hello world"))
    assert third.text == "hello world"  # cycles


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('{"text": "hi", "colour": "red"}', "line 1.*not a prompt"),
        ('{"text": ""}', "line 1"),
        ('{"text": "hi", "max_tokens": 0}', "line 1"),
        ("not json", "line 1"),
    ],
)
def test_bad_prompt_lines_name_the_line(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError, match=match):
        load_prompt_file(path)


def test_an_empty_prompt_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text("\n")
    with pytest.raises(ConfigError, match="holds no prompt"):
        load_prompt_file(path)
