"""stop_words / bad_words -> TensorRT-LLM's [2, L] word-list format."""

from __future__ import annotations

import numpy as np
import pytest

from tritonsla.text.tokenizer import TextTokenizer
from tritonsla.text.words import batch_word_lists, parse_words, to_word_list, word_list


def test_empty_list_is_well_formed(tokenizer: TextTokenizer) -> None:
    for words in ([], [""], [b""], [",,"]):
        result = word_list(tokenizer, words)
        assert result.dtype == np.int32
        assert result.tolist() == [[0], [-1]]


def test_ids_concatenated_and_end_offsets(tokenizer: TextTokenizer) -> None:
    hello, world = tokenizer.encode("hello", False), tokenizer.encode(" world", False)
    result = word_list(tokenizer, ["hello", " world"])
    width = max(len(hello) + len(world), 2)
    assert result.shape == (2, width)
    assert result[0, : len(hello) + len(world)].tolist() == hello + world
    assert result[1].tolist() == [len(hello), len(hello) + len(world)] + [-1] * (width - 2)


def test_more_words_than_ids_pads_ids() -> None:
    assert to_word_list([[5], [6], [7]]).tolist() == [[5, 6, 7], [1, 2, 3]]
    assert to_word_list([[5]], length=3).tolist() == [[5, 0, 0], [1, -1, -1]]


def test_each_element_is_a_csv_line() -> None:
    assert parse_words([b'"a, b",c', "d", b"", "e,,f"]) == ["a, b", "c", "d", "e", "f"]
    assert parse_words([" spaced , kept"]) == [" spaced ", " kept"]


def test_multibyte_words(tokenizer: TextTokenizer) -> None:
    result = word_list(tokenizer, ["😀", "中文"])
    ids = tokenizer.encode("😀", False) + tokenizer.encode("中文", False)
    assert result[0, : len(ids)].tolist() == ids


def test_batch_pads_every_row_to_the_longest(tokenizer: TextTokenizer) -> None:
    tensor = np.array([[b"hello,world", b"stop"], [b"", b""]], dtype=np.object_)
    result = batch_word_lists(tokenizer, tensor, 2)
    first = word_list(tokenizer, [b"hello,world", b"stop"])
    assert result.shape == (2, 2, first.shape[1])
    assert result.dtype == np.int32
    assert result[0].tolist() == first.tolist()
    assert result[1, 0].tolist() == [0] * first.shape[1]
    assert result[1, 1].tolist() == [-1] * first.shape[1]


def test_batch_without_tensor(tokenizer: TextTokenizer) -> None:
    assert batch_word_lists(tokenizer, None, 3).tolist() == [[[0], [-1]]] * 3
    assert batch_word_lists(tokenizer, None, 0).shape == (0, 2, 1)


def test_batch_shape_is_checked(tokenizer: TextTokenizer) -> None:
    with pytest.raises(ValueError, match=r"shape \[2, n\] \(batch, words\); got \[3\]"):
        batch_word_lists(tokenizer, np.array([b"a", b"b", b"c"], dtype=np.object_), 2)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("\n,end", ["\n", "end"]),
        ("\n\n", ["\n\n"]),
        ('"x\ny",z', ["x\ny", "z"]),
        ('say "hi",x', ['say "hi"', "x"]),
        ('"q""uote",y', ['q"uote', "y"]),
        ('"unterminated, x', ["unterminated, x"]),
    ],
)
def test_newlines_and_quotes(line: str, words: list[str]) -> None:
    assert parse_words([line]) == words
