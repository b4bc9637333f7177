"""The numpy GPT-2: reference forward vs a plain re-implementation, cached steps vs reference."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from cpukit import prompts

from tritonsla.cpu.checkpoint import load_checkpoint
from tritonsla.cpu.model import Chunk, GPT2Model, StepInput


def plain_gpt2_logits(tensors: dict[str, np.ndarray], n_head: int, tokens: list[int]) -> np.ndarray:
    """GPT-2 written out token by token in float64, straight from the checkpoint tensors."""
    t = {k: v.astype(np.float64) for k, v in tensors.items()}
    n_layer = 1 + max(int(k.split(".")[1]) for k in t if k.startswith("h."))

    def layer_norm(x: np.ndarray, name: str) -> np.ndarray:
        mu = x.mean()
        sigma = math.sqrt(((x - mu) ** 2).mean() + 1e-5)
        return (x - mu) / sigma * t[f"{name}.weight"] + t[f"{name}.bias"]

    def gelu(x: np.ndarray) -> np.ndarray:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))

    hidden = [t["wte.weight"][tok] + t["wpe.weight"][pos] for pos, tok in enumerate(tokens)]
    width = hidden[0].shape[0]
    head = width // n_head
    for i in range(n_layer):
        p = f"h.{i}"
        qkv = [layer_norm(h, f"{p}.ln_1") @ t[f"{p}.attn.c_attn.weight"] for h in hidden]
        qkv = [row + t[f"{p}.attn.c_attn.bias"] for row in qkv]
        mixed = []
        for pos in range(len(tokens)):
            out = np.zeros(width)
            for h in range(n_head):
                cols = slice(h * head, (h + 1) * head)
                q = qkv[pos][:width][cols]
                scores = [
                    q @ qkv[j][width : 2 * width][cols] / math.sqrt(head) for j in range(pos + 1)
                ]
                weights = np.exp(np.array(scores) - max(scores))
                weights /= weights.sum()
                for j in range(pos + 1):
                    out[cols] += weights[j] * qkv[j][2 * width :][cols]
            mixed.append(out)
        hidden = [
            h + m @ t[f"{p}.attn.c_proj.weight"] + t[f"{p}.attn.c_proj.bias"]
            for h, m in zip(hidden, mixed, strict=True)
        ]
        for pos, h in enumerate(hidden):
            inner = gelu(
                layer_norm(h, f"{p}.ln_2") @ t[f"{p}.mlp.c_fc.weight"] + t[f"{p}.mlp.c_fc.bias"]
            )
            hidden[pos] = h + inner @ t[f"{p}.mlp.c_proj.weight"] + t[f"{p}.mlp.c_proj.bias"]
    return np.stack([layer_norm(h, "ln_f") @ t["wte.weight"].T for h in hidden])


def test_reference_forward_matches_a_plain_implementation(
    checkpoint_dir: Path, model: GPT2Model
) -> None:
    checkpoint = load_checkpoint(checkpoint_dir)
    tokens = list(prompts(11, [9])[0])
    expected = plain_gpt2_logits(checkpoint.tensors, checkpoint.config.n_head, tokens)
    actual = model.reference_logits(tokens)
    assert actual.shape == (9, checkpoint.config.vocab_size)
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)
    assert np.abs(expected).max() > 1  # logits are not trivially small


def test_cached_batched_steps_match_the_uncached_reference(model: GPT2Model) -> None:
    seqs = [list(p) for p in prompts(5, [7, 19, 1, 12])]
    continuation = [3, 44, 200, 17, 90]
    full = [s + continuation for s in seqs]
    reference = [model.reference_logits(s) for s in full]
    cache = model.new_cache(max_tokens=256, tokens_per_block=4)
    done = [0] * len(seqs)

    def step(plan: dict[int, int]) -> None:
        chunks = []
        for i, n in plan.items():
            cache.reserve(i, done[i] + n)
            chunks.append(
                Chunk(full[i][done[i] : done[i] + n], done[i], cache.slots(i, 0, done[i] + n))
            )
        logits = model.forward(StepInput.build(chunks), cache)
        assert logits.shape == (len(plan), model.config.vocab_size)
        for row, (i, n) in enumerate(plan.items()):
            done[i] += n
            np.testing.assert_allclose(logits[row], reference[i][done[i] - 1], atol=1e-4, rtol=0)

    step({0: 7, 1: 5, 2: 1})  # two prefills and a one-token prompt together
    step({1: 9, 2: 1, 0: 1})  # a chunk of a long prompt (chunked context) beside decodes
    step({3: 12, 1: 5, 0: 1, 2: 1})  # the long prompt's last chunk, a new prompt, decodes
    for _ in range(2):
        step({i: 1 for i in range(4)})  # decode steps across the whole batch
    assert done == [11, 21, 5, 14]


def test_int8_weights_are_int8_and_logits_stay_close(
    checkpoint_dir: Path, model: GPT2Model
) -> None:
    quantized = GPT2Model(load_checkpoint(checkpoint_dir), "int8")
    tensors = load_checkpoint(checkpoint_dir).tensors
    for i, block in enumerate(quantized.blocks):
        layers = {"attn.c_attn": block.qkv, "mlp.c_proj": block.proj}
        for name, layer in layers.items():
            assert layer.weight.dtype == np.int8 and layer.scale is not None
            assert (np.abs(layer.weight).max(axis=1) == 127).all()  # one scale per output channel
            restored = layer.weight.T * layer.scale  # back to Conv1D [in, out]
            error = np.abs(restored - tensors[f"h.{i}.{name}.weight"])
            assert (error <= layer.scale / 2 + 1e-7).all()
    tokens = list(prompts(2, [24])[0])
    exact = model.reference_logits(tokens)
    approx = quantized.reference_logits(tokens)
    # Stated tolerance: weight-only int8 moves logits by < 2% of their spread here, and the top
    # choice of most positions survives.
    assert np.abs(approx - exact).max() < 0.02 * (exact.max() - exact.min())
    assert np.abs(approx - exact).max() > 0
    assert (approx.argmax(-1) == exact.argmax(-1)).mean() >= 0.9


def test_equal_length_chunks_at_different_offsets_share_one_attention_group(
    model: GPT2Model,
) -> None:
    """Chunks of one length are attended together even when their contexts differ in length
    (padding masked) and the step lists them out of length order; logits keep chunk order."""
    seqs = [list(p) for p in prompts(8, [4, 10, 6, 1, 3])]
    cache = model.new_cache(max_tokens=128, tokens_per_block=4)
    for i, s in enumerate(seqs):
        cache.reserve(i, len(s))
    first = [
        Chunk(seqs[0][:3], 0, cache.slots(0, 0, 3)),
        Chunk(seqs[1][:7], 0, cache.slots(1, 0, 7)),
    ]
    model.forward(StepInput.build(first), cache)
    chunks = [
        Chunk(seqs[2], 0, cache.slots(2, 0, 6)),  # a 6-token prompt
        Chunk(seqs[1][7:], 7, cache.slots(1, 0, 10)),  # the last 3 tokens of a chunked prompt
        Chunk(seqs[3], 0, cache.slots(3, 0, 1)),  # a 1-token prompt
        Chunk(seqs[0][3:], 3, cache.slots(0, 0, 4)),  # a decode after 3 cached positions
        Chunk(seqs[4], 0, cache.slots(4, 0, 3)),  # a 3-token prompt
    ]
    step = StepInput.build(chunks)
    assert [(g.length, g.keys.shape[0]) for g in step.groups] == [(1, 2), (3, 2), (6, 1)]
    logits = model.forward(step, cache)
    for row, (chunk, seq) in enumerate(zip(chunks, [2, 1, 3, 0, 4], strict=True)):
        end = chunk.start + len(chunk.tokens)
        expected = model.reference_logits(seqs[seq][:end])[-1]
        np.testing.assert_allclose(logits[row], expected, atol=1e-4, rtol=0)


def test_steps_stay_float32(model: GPT2Model) -> None:
    """No float64 sneaks into a step: masks and logits stay float32."""
    cache = model.new_cache(max_tokens=64, tokens_per_block=8)
    cache.reserve("a", 5)
    cache.reserve("b", 2)
    chunks = [
        Chunk([1, 2, 3, 4, 5], 0, cache.slots("a", 0, 5)),
        Chunk([7], 1, cache.slots("b", 0, 2)),
    ]
    step = StepInput.build(chunks)
    assert all(g.mask is None or g.mask.dtype == np.float32 for g in step.groups)
    assert model.forward(step, cache).dtype == np.float32
    assert model.reference_logits([1, 2, 3]).dtype == np.float32
