"""Streaming detokenization: equal to one-shot decoding, never half a character."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from tritonsla.text.detokenize import REPLACEMENT, IncrementalDetokenizer, StreamDetokenizers
from tritonsla.text.tokenizer import TextTokenizer

PIECES = ["a", "b", " ", "the", " cat", ",", "é", "ß", "中", "文", "😀", "🎉", "👍🏽", "❤️", "€"]


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))


def _stream(detokenizer: IncrementalDetokenizer, ids: list[int], rng: random.Random) -> list[str]:
    """Push `ids` in random steps of 0..3 ids; the last chunk is `finish()`."""
    chunks, start = [], 0
    while start < len(ids):
        step = rng.randint(0, 3)
        chunks.append(detokenizer.push(ids[start : start + step]))
        start += step
    chunks.append(detokenizer.finish())
    return chunks


def _assert_whole_characters(chunks: list[str], one_shot: str) -> None:
    assert "".join(chunks) == one_shot
    for chunk in chunks:
        chunk.encode("utf-8")  # strict: no lone surrogates
    assert sum(chunk.count(REPLACEMENT) for chunk in chunks) == one_shot.count(REPLACEMENT)


def test_random_streams_of_multibyte_text(tokenizer: TextTokenizer) -> None:
    rng = random.Random(7)
    for _ in range(500):
        ids = tokenizer.encode(_random_text(rng))
        chunks = _stream(IncrementalDetokenizer(tokenizer), ids, rng)
        _assert_whole_characters(chunks, tokenizer.decode(ids))
        assert REPLACEMENT not in "".join(chunks)


def test_random_ids_including_invalid_byte_sequences(tokenizer: TextTokenizer) -> None:
    """Arbitrary ids decode to broken bytes too; the U+FFFD count must match one-shot decoding."""
    rng = random.Random(11)
    for _ in range(500):
        ids = [rng.randrange(tokenizer.vocab_size) for _ in range(rng.randint(0, 40))]
        context = rng.choice([0, 1, 4])
        chunks = _stream(IncrementalDetokenizer(tokenizer, context=context), ids, rng)
        _assert_whole_characters(chunks, tokenizer.decode(ids))


def test_emoji_split_over_tokens_is_held_until_complete(tokenizer: TextTokenizer) -> None:
    ids = tokenizer.encode("hi 😀!")
    pieces = [tokenizer.decode([i]) for i in ids]
    assert any(REPLACEMENT in piece for piece in pieces)  # the emoji spans several tokens
    detokenizer = IncrementalDetokenizer(tokenizer)
    chunks = [detokenizer.push([i]) for i in ids] + [detokenizer.finish()]
    assert "".join(chunks) == "hi 😀!"
    assert "😀" in chunks  # released in one piece, in the push that completed it


def test_finish_flushes_an_unfinished_character_and_starts_over(tokenizer: TextTokenizer) -> None:
    emoji = tokenizer.encode("😀")
    detokenizer = IncrementalDetokenizer(tokenizer)
    assert detokenizer.push(emoji[:-1]) == ""
    assert detokenizer.finish() == REPLACEMENT
    assert detokenizer.push(tokenizer.encode("ok")) == "ok"


def test_long_stream_keeps_a_small_window(tokenizer: TextTokenizer) -> None:
    detokenizer = IncrementalDetokenizer(tokenizer)
    text = "The morning train left the station. 中文 😀 " * 50
    ids = tokenizer.encode(text)
    out = "".join(detokenizer.push([i]) for i in ids) + detokenizer.finish()
    assert out == text
    assert len(detokenizer._ids) == 0  # finish() reset it
    for i in ids[:200]:
        detokenizer.push([i])
    assert len(detokenizer._ids) < 12


def _sentencepiece_like() -> TextTokenizer:
    """A byte-fallback tokenizer with a Llama-2 style decoder (strips one leading space)."""
    vocab = {f"<0x{b:02X}>": b for b in range(256)}
    for piece in ["▁", "▁Hello", "▁world", "a", "b", "é", "▁中"]:
        vocab[piece] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], byte_fallback=True))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    return TextTokenizer(Path("."), backend, None, None, None)


def test_byte_fallback_tokenizer_keeps_spaces_and_characters() -> None:
    tokenizer = _sentencepiece_like()
    rng = random.Random(3)
    words = ["Hello", " world", " ", "a", "b", "é", "中", "文", "😀", " 中", "ü"]
    for _ in range(500):
        ids = tokenizer.encode("".join(rng.choice(words) for _ in range(rng.randint(0, 12))))
        chunks = _stream(IncrementalDetokenizer(tokenizer), ids, rng)
        _assert_whole_characters(chunks, tokenizer.decode(ids))


def test_stream_detokenizers_keep_streams_apart(tokenizer: TextTokenizer) -> None:
    streams = StreamDetokenizers(tokenizer)
    first, second = tokenizer.encode("中文😀"), tokenizer.encode("é🎉x")
    out: dict[str, list[str]] = {"first": [], "second": []}
    for step in range(max(len(first), len(second))):
        out["first"].append(streams.push("first", first[step : step + 1]))
        out["second"].append(streams.push("second", second[step : step + 1]))
    assert "".join(out["first"]) == "中文😀"
    assert "".join(out["second"]) == "é🎉x"
    assert all(REPLACEMENT not in chunk for chunk in out["first"] + out["second"])


def test_stream_detokenizers_are_bounded(tokenizer: TextTokenizer) -> None:
    streams = StreamDetokenizers(tokenizer, capacity=3)
    emoji = tokenizer.encode("😀")
    for key in range(10):
        assert streams.push(key, emoji[:1]) == ""
    assert len(streams) == 3
    assert streams.push(9, emoji[1:]) == "😀"  # recent streams survive
    evicted = streams.push(0, emoji[1:] + tokenizer.encode("!"))
    assert evicted.startswith(REPLACEMENT) and evicted.endswith("!")  # its first bytes are gone


def test_stream_detokenizers_need_capacity(tokenizer: TextTokenizer) -> None:
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        StreamDetokenizers(tokenizer, capacity=0)
