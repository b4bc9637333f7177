"""The demo's mixed workload: chat turns, assistant answers and batch jobs of their own shapes.

Each SLA class gets its own prompt and output lengths (a chat turn is short, a scoring job is
long), which one token-length distribution for all traffic cannot express. The workload is
written as a JSONL prompt file (`{"text", "max_tokens", "sla"}` per line, the format of
`tritonsla bench --prompts`), so both runs of the demo and any later rerun send exactly the
same requests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tritonsla.bench.workload import Mix, TokenLengths, whole_word_tokens
from tritonsla.text.tokenizer import TextTokenizer


@dataclass(frozen=True)
class ClassShape:
    """Prompt and output lengths of one SLA class's requests, in tokens."""

    input: TokenLengths
    output: TokenLengths


DEMO_SHAPES: dict[str, ClassShape] = {
    "realtime": ClassShape(TokenLengths(32, 6), TokenLengths(32, 6)),
    "interactive": ClassShape(TokenLengths(96, 16), TokenLengths(48, 8)),
    "batch": ClassShape(TokenLengths(128, 24), TokenLengths(96, 16)),
}
DEMO_MIX = Mix({"realtime": 0.3, "interactive": 0.3, "batch": 0.4})


def workload_lines(
    tokenizer: TextTokenizer,
    shapes: Mapping[str, ClassShape],
    mix: Mix,
    count: int,
    seed: int = 0,
) -> list[dict]:
    """`count` requests: class from `mix`, then whole-word prompt and output length by shape."""
    words = whole_word_tokens(tokenizer)
    special = len(tokenizer.encode(words[0])) - 1
    lines = []
    for index in range(count):
        sla = mix.class_of(index, seed)
        shape = shapes[sla]
        rng = np.random.default_rng([seed, index])
        n_words = max(1, shape.input.sample(rng) - special)
        picks = rng.integers(0, len(words), size=n_words)
        text = "".join(words[i] for i in picks)
        lines.append({"text": text, "max_tokens": shape.output.sample(rng), "sla": sla})
    return lines


def write_workload(path: Path, lines: list[dict]) -> Path:
    """Write the lines as JSONL (one request per line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path
