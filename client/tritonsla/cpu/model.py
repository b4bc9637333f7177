"""GPT-2 forward passes in numpy: a batched, KV-cached step and an uncached reference.

One step runs every scheduled sequence at once with input padding removed, as TensorRT-LLM's
in-flight batching does: the tokens of all sequences are the columns of one feature-major
`[n_embd, tokens]` matrix for the dense layers (see layers.py), and only attention looks at
sequences separately. Chunks of the same length (every decode of the step; prefill chunks of
equal length) share one attention pass: their cached contexts are gathered from the paged KV
pool at once, padded to the longest, and a mask hides the padding and the causal future.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tritonsla.cpu.checkpoint import Checkpoint
from tritonsla.cpu.kv_cache import PagedKVCache
from tritonsla.cpu.layers import LayerNorm, Linear, Precision, gelu_new, softmax_

_NEG_INF = np.float32(-np.inf)
_ZERO = np.float32(0.0)


@dataclass(frozen=True)
class Chunk:
    """Tokens of one sequence to run in a step.

    `tokens` sit at positions `start, start + 1, ...`; `key_slots` are the KV slots of positions
    `0 .. start + len(tokens) - 1` (the cached prefix followed by this chunk's own slots).
    """

    tokens: Sequence[int]
    start: int
    key_slots: np.ndarray


class AttentionGroup(NamedTuple):
    """Chunks of `length` tokens each, attended in one pass; together they own the step `rows`.

    Chunk g owns `length` rows from `rows.start + g * length` (a step orders rows by chunk length).
    `keys[g, j]` is the KV slot of position j of chunk g's context, padded with slot 0 to the
    longest context; `mask[g, t, j]` is 0 where token t may attend to position j (a cached or
    earlier position of its own context), -inf elsewhere. `mask` is None when nothing is hidden
    (single-token chunks whose contexts are equally long).
    """

    rows: slice
    length: int
    keys: np.ndarray
    mask: np.ndarray | None

    @classmethod
    def of(cls, chunks: Sequence[Chunk], first_row: int) -> AttentionGroup:
        """Group equally long `chunks` whose rows start at `first_row`."""
        length = len(chunks[0].tokens)
        n_keys = np.array([len(c.key_slots) for c in chunks])
        width = int(n_keys.max())
        offsets = np.arange(width)
        keys = np.zeros((len(chunks), width), np.int64)
        keys[offsets < n_keys[:, None]] = np.concatenate([c.key_slots for c in chunks])
        mask = None
        if length > 1 or n_keys.min() < width:
            query_positions = np.array([c.start for c in chunks])[:, None] + np.arange(length)
            mask = np.where(offsets <= query_positions[:, :, None], _ZERO, _NEG_INF)
        rows = slice(first_row, first_row + len(chunks) * length)
        return cls(rows, length, keys, mask)


@dataclass(frozen=True)
class StepInput:
    """One step's chunks flattened into rows (token columns), plus their attention groups.

    Rows are ordered by chunk length (stably), so each attention group is a contiguous block of
    rows; `logit_rows[i]` is the row of the last token of chunk i, in the order given.
    """

    token_ids: np.ndarray
    positions: np.ndarray
    write_slots: np.ndarray
    logit_rows: np.ndarray
    groups: tuple[AttentionGroup, ...]

    @classmethod
    def build(cls, chunks: Sequence[Chunk]) -> StepInput:
        """Lay out chunks by length; logits are produced for the last token of every chunk."""
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].tokens))
        ordered = [chunks[i] for i in order]
        lengths = np.array([len(c.tokens) for c in ordered])
        ends = np.cumsum(lengths)
        firsts = ends - lengths
        logit_rows = np.empty_like(ends)
        logit_rows[order] = ends - 1
        groups: list[AttentionGroup] = []
        for _, members in itertools.groupby(ordered, key=lambda c: len(c.tokens)):
            groups.append(AttentionGroup.of(list(members), groups[-1].rows.stop if groups else 0))
        starts = np.array([c.start for c in ordered])
        tokens = itertools.chain.from_iterable(c.tokens for c in ordered)
        return cls(
            token_ids=np.fromiter(tokens, np.int64, count=int(ends[-1])),
            positions=np.arange(ends[-1]) + np.repeat(starts - firsts, lengths),
            write_slots=np.concatenate([c.key_slots[c.start :] for c in ordered]),
            logit_rows=logit_rows,
            groups=tuple(groups),
        )


@dataclass(frozen=True)
class Block:
    """One transformer block's parameters."""

    ln_1: LayerNorm
    qkv: Linear
    attn_proj: Linear
    ln_2: LayerNorm
    fc: Linear
    proj: Linear


class GPT2Model:
    """GPT-2 (pre-LN, learned positions, tied LM head) over a checkpoint's weights."""

    def __init__(self, checkpoint: Checkpoint, precision: Precision = "fp32") -> None:
        self.config = checkpoint.config
        self.precision = precision
        t = checkpoint.tensors
        eps = self.config.layer_norm_epsilon

        def norm(name: str) -> LayerNorm:
            return LayerNorm.of(t[f"{name}.weight"], t[f"{name}.bias"], eps)

        def linear(name: str) -> Linear:
            return Linear.from_conv1d(t[f"{name}.weight"], t[f"{name}.bias"], precision)

        self.wte = np.ascontiguousarray(t["wte.weight"], np.float32)
        self.wpe = np.ascontiguousarray(t["wpe.weight"], np.float32)
        self.ln_f = norm("ln_f")
        self.blocks = tuple(
            Block(
                ln_1=norm(f"h.{i}.ln_1"),
                qkv=linear(f"h.{i}.attn.c_attn"),
                attn_proj=linear(f"h.{i}.attn.c_proj"),
                ln_2=norm(f"h.{i}.ln_2"),
                fc=linear(f"h.{i}.mlp.c_fc"),
                proj=linear(f"h.{i}.mlp.c_proj"),
            )
            for i in range(self.config.n_layer)
        )
        self._scale = np.float32(1.0 / np.sqrt(self.config.head_dim))

    def new_cache(self, max_tokens: int, tokens_per_block: int) -> PagedKVCache:
        """A paged KV cache shaped for this model."""
        c = self.config
        return PagedKVCache(c.n_layer, c.n_head, c.head_dim, max_tokens, tokens_per_block)

    def forward(self, step: StepInput, cache: PagedKVCache) -> np.ndarray:
        """Run one step, writing K/V into `cache`; logits `[chunks, vocab]` of each chunk's end."""
        x = self._embed(step.token_ids, step.positions)
        for layer, block in enumerate(self.blocks):
            qkv = block.qkv(block.ln_1(x))
            x += block.attn_proj(self._attend(qkv, cache.kv[layer], step))
            x += block.proj(gelu_new(block.fc(block.ln_2(x))))
        return (self.wte @ self.ln_f(x[:, step.logit_rows])).T

    def reference_logits(self, token_ids: Sequence[int]) -> np.ndarray:
        """Logits `[len, vocab]` of every position, computed without any cache (for tests)."""
        c = self.config
        n = len(token_ids)
        x = self._embed(np.asarray(token_ids), np.arange(n))
        causal = np.triu(np.full((n, n), _NEG_INF), k=1)
        for block in self.blocks:
            q, k, v = block.qkv(block.ln_1(x)).reshape(3, c.n_head, c.head_dim, n)
            scores = q.transpose(0, 2, 1) @ k * self._scale + causal  # [head, query, key]
            attn = softmax_(scores) @ v.transpose(0, 2, 1)  # [head, query, head_dim]
            x = x + block.attn_proj(attn.transpose(0, 2, 1).reshape(c.n_embd, n))
            x = x + block.proj(gelu_new(block.fc(block.ln_2(x))))
        return (self.wte @ self.ln_f(x)).T

    def _embed(self, token_ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Token plus position embeddings, feature-major `[n_embd, tokens]`."""
        x = np.empty((self.config.n_embd, len(token_ids)), np.float32)
        return np.add(self.wte[token_ids].T, self.wpe[positions].T, out=x)

    def _attend(self, qkv: np.ndarray, kv: np.ndarray, step: StepInput) -> np.ndarray:
        """Store this step's K/V in one layer's pool `kv`; attention output `[n_embd, tokens]`."""
        c = self.config
        qkv[: c.n_embd] *= self._scale
        rows = qkv.T  # [tokens, q | k | v], a view
        kv.reshape(len(kv), 2 * c.n_embd)[step.write_slots] = rows[:, c.n_embd :]
        q = rows[:, : c.n_embd].reshape(-1, c.n_head, c.head_dim)
        out = np.empty_like(q)
        for group in step.groups:
            shape = (-1, group.length, c.n_head, c.head_dim)
            queries = q[group.rows].reshape(shape)
            out[group.rows].reshape(shape)[...] = _attention(queries, kv, group)
        return out.reshape(-1, c.n_embd).T


def _attention(q: np.ndarray, kv: np.ndarray, group: AttentionGroup) -> np.ndarray:
    """Scaled queries `[G, T, H, D]` against their gathered contexts; `[G, T, H, D]` out."""
    context = np.take(kv, group.keys, axis=0)  # [G, L, 2, H, D]
    keys = context[:, :, 0].transpose(0, 2, 3, 1)  # [G, H, D, L]
    values = context[:, :, 1].transpose(0, 2, 1, 3)  # [G, H, L, D]
    scores = q.transpose(0, 2, 1, 3) @ keys  # [G, H, T, L]
    if group.mask is not None:
        scores += group.mask[:, None]
    return (softmax_(scores) @ values).transpose(0, 2, 1, 3)
