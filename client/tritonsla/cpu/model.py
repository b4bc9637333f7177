"""GPT-2 forward passes in numpy: a batched, KV-cached step and an uncached reference.

One step runs every scheduled sequence at once with input padding removed, as TensorRT-LLM's
in-flight batching does: the tokens of all sequences are stacked into one `[tokens, n_embd]`
matrix for the dense layers, and only attention looks at sequences separately. Single-token
decode segments share one padded, masked attention call; prefill chunks (a whole prompt, or a
chunk of a long one under chunked context) attend causally to their cached prefix and to
themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tritonsla.cpu.checkpoint import Checkpoint
from tritonsla.cpu.kv_cache import PagedKVCache
from tritonsla.cpu.layers import LayerNorm, Linear, Precision, gelu_new, softmax


@dataclass(frozen=True)
class Chunk:
    """Tokens of one sequence to run in a step.

    `tokens` sit at positions `start, start + 1, ...`; `key_slots` are the KV slots of positions
    `0 .. start + len(tokens) - 1` (the cached prefix followed by this chunk's own slots).
    """

    tokens: Sequence[int]
    start: int
    key_slots: np.ndarray


class Prefill(NamedTuple):
    """A chunk of several tokens: its rows in the step, its context's KV slots, its causal mask."""

    row: int
    length: int
    key_slots: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class StepInput:
    """One step's chunks flattened into rows, plus the attention layout derived from them.

    Single-token chunks (decodes) share one padded attention call: `decode_keys[b]` lists the
    KV slots of sequence b's context, padded, and `decode_mask` hides the padding.
    """

    token_ids: np.ndarray
    positions: np.ndarray
    write_slots: np.ndarray
    logit_rows: np.ndarray
    decode_rows: np.ndarray
    decode_keys: np.ndarray
    decode_mask: np.ndarray
    prefills: tuple[Prefill, ...]

    @classmethod
    def build(cls, chunks: Sequence[Chunk]) -> StepInput:
        """Flatten chunks; logits are produced for the last token of every chunk, in order."""
        lengths = [len(c.tokens) for c in chunks]
        ends = np.cumsum(lengths)
        decode = [i for i, n in enumerate(lengths) if n == 1]
        width = max((len(chunks[i].key_slots) for i in decode), default=0)
        decode_keys = np.zeros((len(decode), width), np.int64)
        decode_mask = np.full((len(decode), 1, width), -np.inf, np.float32)
        for row, i in enumerate(decode):
            n_keys = len(chunks[i].key_slots)
            decode_keys[row, :n_keys] = chunks[i].key_slots
            decode_mask[row, 0, :n_keys] = 0.0
        prefills = []
        for chunk, n, end in zip(chunks, lengths, ends.tolist(), strict=True):
            if n > 1:
                context = np.arange(len(chunk.key_slots))
                query = np.arange(chunk.start, chunk.start + n)
                mask = np.where(context[None, :] <= query[:, None], 0.0, -np.inf)
                prefills.append(Prefill(end - n, n, chunk.key_slots, mask.astype(np.float32)))
        return cls(
            token_ids=np.concatenate([np.asarray(c.tokens, np.int64) for c in chunks]),
            positions=np.concatenate([np.arange(c.start, c.start + len(c.tokens)) for c in chunks]),
            write_slots=np.concatenate([c.key_slots[c.start :] for c in chunks]),
            logit_rows=ends - 1,
            decode_rows=ends[decode] - 1,
            decode_keys=decode_keys,
            decode_mask=decode_mask,
            prefills=tuple(prefills),
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
            return LayerNorm(t[f"{name}.weight"], t[f"{name}.bias"], eps)

        def linear(name: str) -> Linear:
            return Linear.from_conv1d(t[f"{name}.weight"], t[f"{name}.bias"], precision)

        self.wte = np.ascontiguousarray(t["wte.weight"])
        self.wpe = np.ascontiguousarray(t["wpe.weight"])
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

    def new_cache(self, max_tokens: int, tokens_per_block: int) -> PagedKVCache:
        """A paged KV cache shaped for this model."""
        c = self.config
        return PagedKVCache(c.n_layer, c.n_head, c.head_dim, max_tokens, tokens_per_block)

    def forward(self, step: StepInput, cache: PagedKVCache) -> np.ndarray:
        """Run one step, writing K/V into `cache`; logits `[chunks, vocab]` of each chunk's end."""
        c = self.config
        n_rows = len(step.token_ids)
        x = self.wte[step.token_ids] + self.wpe[step.positions]
        scale = np.float32(1.0 / np.sqrt(c.head_dim))
        for layer, block in enumerate(self.blocks):
            qkv = block.qkv(block.ln_1(x))
            q = qkv[:, : c.n_embd].reshape(n_rows, c.n_head, c.head_dim) * scale
            kv = cache.kv[layer]
            kv[step.write_slots] = qkv[:, c.n_embd :].reshape(n_rows, 2, c.n_head, c.head_dim)
            attn = np.empty((n_rows, c.n_head, c.head_dim), np.float32)
            if len(step.decode_rows):
                attn[step.decode_rows] = _decode_attention(
                    q[step.decode_rows], np.take(kv, step.decode_keys, axis=0), step.decode_mask
                )
            for chunk in step.prefills:
                rows = slice(chunk.row, chunk.row + chunk.length)
                attn[rows] = _chunk_attention(
                    q[rows], np.take(kv, chunk.key_slots, axis=0), chunk.mask
                )
            x = x + block.attn_proj(attn.reshape(n_rows, c.n_embd))
            x = x + block.proj(gelu_new(block.fc(block.ln_2(x))))
        return (self.wte @ self.ln_f(x[step.logit_rows]).T).T

    def reference_logits(self, token_ids: Sequence[int]) -> np.ndarray:
        """Logits `[len, vocab]` of every position, computed without any cache (for tests)."""
        c = self.config
        n = len(token_ids)
        x = self.wte[np.asarray(token_ids)] + self.wpe[np.arange(n)]
        causal = np.triu(np.full((n, n), -np.inf, np.float32), k=1)
        for block in self.blocks:
            qkv = block.qkv(block.ln_1(x)).reshape(n, 3, c.n_head, c.head_dim)
            q, k, v = (qkv[:, i].transpose(1, 0, 2) for i in range(3))
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(c.head_dim) + causal
            attn = (softmax(scores) @ v).transpose(1, 0, 2).reshape(n, c.n_embd)
            x = x + block.attn_proj(attn)
            x = x + block.proj(gelu_new(block.fc(block.ln_2(x))))
        return (self.wte @ self.ln_f(x).T).T


def _decode_attention(q: np.ndarray, kv: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One query per sequence `[B, H, D]` against its padded cached K/V `[B, L, 2, H, D]`."""
    k, v = kv[:, :, 0], kv[:, :, 1]
    scores = (q[:, :, None, :] @ k.transpose(0, 2, 3, 1))[:, :, 0, :] + mask  # [B, H, L]
    return (softmax(scores)[:, :, None, :] @ v.transpose(0, 2, 1, 3))[:, :, 0, :]


def _chunk_attention(q: np.ndarray, kv: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Queries `[n, H, D]` of one chunk against its context's K/V `[L, 2, H, D]`, causally."""
    k, v = kv[:, 0], kv[:, 1]
    scores = q.transpose(1, 0, 2) @ k.transpose(1, 2, 0) + mask  # [H, n, L]
    return (softmax(scores) @ v.transpose(1, 0, 2)).transpose(1, 0, 2)
