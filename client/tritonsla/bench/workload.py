"""What each request asks: prompt text, output length and SLA class (pure, deterministic).

- Synthetic prompts are built from whole-word tokens of the deployment's tokenizer (" the",
  " model", …): each such word is one pre-token and one token, so a prompt of n words encodes to
  exactly n tokens (plus any special tokens the tokenizer adds, which are counted). Lengths are
  drawn from normal distributions (mean, std), rounded, at least 1.
- Prompt files are JSONL, one object per line: `{"text": ..., "max_tokens": ..., "sla": ...}`
  (only `text` required); requests cycle through the file.
- A mix (`realtime=0.2,interactive=0.3,batch=0.5`) labels each request with a class. Classes
  follow a low-discrepancy sequence, so every prefix of the run holds the shares closely.
Request `i` depends only on (seed, i), whatever order requests are built in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tritonsla.errors import ConfigError
from tritonsla.text.tokenizer import TextTokenizer

MIN_WORDS = 16
_GOLDEN = (math.sqrt(5) - 1) / 2
_SQRT2 = math.sqrt(2)


@dataclass(frozen=True)
class TokenLengths:
    """A token length distribution: normal(mean, std), rounded, at least 1."""

    mean: int
    std: float = 0.0

    def __post_init__(self) -> None:
        if self.mean < 1 or self.std < 0:
            raise ConfigError(
                "workload",
                f"lengths {self.mean}±{self.std}",
                "mean must be >= 1 and std >= 0",
                "use e.g. a mean of 64 and a std of 8",
            )

    def sample(self, rng: np.random.Generator) -> int:
        if self.std == 0:
            return self.mean
        return max(1, round(float(rng.normal(self.mean, self.std))))

    def at(self, *key: int) -> int:
        """The length drawn for `key` (e.g. seed, index): the same key, the same length."""
        return self.mean if self.std == 0 else self.sample(np.random.default_rng(list(key)))


@dataclass(frozen=True)
class PromptEntry:
    """One prompt; unset fields come from the workload (output lengths, mix)."""

    text: str
    input_tokens: int | None = None
    max_tokens: int | None = None
    sla: str | None = None


class PromptSource(Protocol):
    """Where prompts come from: `entry(i)` is the prompt of request i."""

    def entry(self, index: int) -> PromptEntry: ...


@dataclass(frozen=True)
class BenchRequest:
    """Everything the sender needs for request `index`."""

    index: int
    text: str
    max_tokens: int
    sla: str | None
    input_tokens: int | None


def whole_word_tokens(tokenizer: TextTokenizer) -> tuple[str, ...]:
    """Vocabulary entries " <letters>" that encode to themselves as exactly one token."""
    words = []
    for token_id in range(tokenizer.vocab_size):
        text = tokenizer.decode([token_id])
        body = text[1:]
        if (
            text[:1] == " "
            and body.isascii()
            and body.isalpha()
            and tokenizer.encode(text, add_special_tokens=False) == [token_id]
        ):
            words.append(text)
    return tuple(words)


@dataclass(frozen=True)
class SyntheticPrompts:
    """Random whole-word prompts whose token count (specials included) is drawn from `lengths`."""

    words: tuple[str, ...]
    special_tokens: int
    lengths: TokenLengths
    seed: int = 0

    @classmethod
    def from_tokenizer(
        cls, tokenizer: TextTokenizer, lengths: TokenLengths, seed: int = 0
    ) -> SyntheticPrompts:
        """Prompts for `tokenizer`; raises ConfigError when it has too few whole-word tokens."""
        words = whole_word_tokens(tokenizer)
        if len(words) < MIN_WORDS:
            raise ConfigError(
                str(tokenizer.folder),
                "vocabulary",
                f"only {len(words)} whole-word tokens; synthetic prompts need {MIN_WORDS}",
                "give prompts in a JSONL file with --prompts",
            )
        special = len(tokenizer.encode(words[0])) - 1
        if lengths.mean <= special:
            raise ConfigError(
                "workload",
                "input tokens",
                f"the tokenizer adds {special} special token(s)",
                f"use a mean input length above {special}",
            )
        return cls(words, special, lengths, seed)

    def entry(self, index: int) -> PromptEntry:
        rng = np.random.default_rng([self.seed, index, 1])
        count = max(self.special_tokens + 1, self.lengths.sample(rng))
        picks = rng.integers(0, len(self.words), size=count - self.special_tokens)
        return PromptEntry("".join(self.words[i] for i in picks), input_tokens=count)


class _FileLine(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    sla: str | None = None


@dataclass(frozen=True)
class PromptFile:
    """Prompts of a JSONL file, cycled."""

    path: Path
    entries: tuple[PromptEntry, ...]

    def entry(self, index: int) -> PromptEntry:
        return self.entries[index % len(self.entries)]


def load_prompt_file(path: Path, tokenizer: TextTokenizer | None = None) -> PromptFile:
    """Read a JSONL prompt file; with `tokenizer`, count each prompt's input tokens."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            str(path), "(file)", f"cannot read it ({error})", "check the path"
        ) from None
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = _FileLine.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as error:
            problem = str(error).splitlines()[0] if isinstance(error, ValidationError) else error
            raise ConfigError(
                str(path),
                f"line {number}",
                f"not a prompt ({problem})",
                'write one JSON object per line: {"text": "...", "max_tokens": 32, "sla": "batch"}',
            ) from None
        counted = None if tokenizer is None else len(tokenizer.encode(item.text))
        entries.append(PromptEntry(item.text, counted, item.max_tokens, item.sla))
    if not entries:
        raise ConfigError(str(path), "(file)", "holds no prompt", "add one JSON object per line")
    return PromptFile(path, tuple(entries))


@dataclass(frozen=True)
class Mix:
    """Share of traffic per SLA class; shares sum to 1."""

    shares: dict[str, float]

    def class_of(self, index: int, seed: int = 0) -> str:
        """Class of request `index`: a golden-ratio sequence over the cumulative shares."""
        position = (0.5 + seed * _SQRT2 + index * _GOLDEN) % 1.0
        total = 0.0
        for name, share in self.shares.items():
            total += share
            if position < total:
                return name
        return next(reversed(self.shares))


def parse_mix(spec: str, classes: Collection[str]) -> Mix:
    """`realtime=0.2,interactive=0.3,batch=0.5` -> Mix; classes must exist, shares sum to 1."""
    shares: dict[str, float] = {}
    for part in spec.split(","):
        name, sep, value = part.strip().partition("=")
        try:
            share = float(value)
        except ValueError:
            share = math.nan
        if not sep or not name or not (share >= 0 and math.isfinite(share)):
            raise ConfigError(
                "--mix",
                part.strip(),
                "expected CLASS=SHARE with a share >= 0",
                "write e.g. realtime=0.2,interactive=0.3,batch=0.5",
            )
        if name not in classes:
            raise ConfigError(
                "--mix",
                name,
                "not an SLA class of the deployment",
                f"available: {', '.join(classes)}",
            )
        if name in shares:
            raise ConfigError("--mix", name, "given twice", "name each class once")
        shares[name] = share
    total = sum(shares.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ConfigError("--mix", spec, f"shares sum to {total:g}", "make them sum to 1")
    return Mix({name: share for name, share in shares.items() if share > 0})


def equal_mix(classes: Sequence[str]) -> Mix:
    """The same share for every class."""
    return Mix({name: 1.0 / len(classes) for name in classes})


@dataclass(frozen=True)
class Workload:
    """Prompts, output lengths and classes combined into requests.

    `unique` (genai-perf's --num-prompts / --num-dataset-entries): only that many distinct
    payloads, prompt and output length, reused in turn (request i gets payload i % unique);
    classes still follow the mix request by request.
    """

    prompts: PromptSource
    output: TokenLengths
    mix: Mix | None = None
    seed: int = 0
    unique: int | None = None

    def __post_init__(self) -> None:
        if self.unique is not None and self.unique < 1:
            raise ConfigError(
                "workload", "--num-prompts", "must be at least 1", "use e.g. --num-prompts 100"
            )

    def request(self, index: int) -> BenchRequest:
        """Request `index`: the prompt's own max_tokens and class win over the workload's."""
        payload = index if self.unique is None else index % self.unique
        entry = self.prompts.entry(payload)
        max_tokens = entry.max_tokens
        if max_tokens is None:
            max_tokens = self.output.at(self.seed, payload, 3)
        sla = entry.sla
        if sla is None and self.mix is not None:
            sla = self.mix.class_of(index, self.seed)
        return BenchRequest(index, entry.text, max_tokens, sla, entry.input_tokens)
