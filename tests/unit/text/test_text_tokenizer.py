"""Loading tokenizers offline, their errors, and the deterministic default tokenizer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tritonsla.errors import ModelDataError
from tritonsla.text.default_tokenizer import EOS_TOKEN, write_default_tokenizer
from tritonsla.text.tokenizer import (
    TextTokenizer,
    load_model_tokenizer,
    load_tokenizer,
    model_tokenizer_dir,
)

SAMPLES = [
    "",
    "Hello, world!",
    "  leading and trailing spaces  ",
    "line one\nline two\ttab",
    "café naïve façade",
    "你好\uff0c世界",
    "emoji 😀👍🎉 and ❤️ with a variation selector",
    "combining e\u0301 and zero\u200bwidth",
    "mixed: 5 €, £10, ¥300, привет, こんにちは, 안녕하세요",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_default_tokenizer_round_trips(tokenizer: TextTokenizer, text: str) -> None:
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_default_tokenizer_ids(tokenizer: TextTokenizer) -> None:
    assert tokenizer.vocab_size == 1024
    assert tokenizer.eos_token_id == tokenizer.backend.token_to_id(EOS_TOKEN)
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    assert tokenizer.bos_token_id is None
    assert tokenizer.decode([tokenizer.eos_token_id]) == ""  # special tokens are skipped


def test_write_default_tokenizer_is_byte_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert write_default_tokenizer(first) == write_default_tokenizer(second) == (1024, 0)
    write_default_tokenizer(first)  # again over existing files
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert sorted(p.name for p in first.iterdir()) == ["tokenizer.json", "tokenizer_config.json"]


def test_write_default_tokenizer_is_identical_across_processes(tmp_path: Path) -> None:
    """A fresh interpreter (other hash seeds) writes the same bytes."""
    write_default_tokenizer(tmp_path / "here")
    code = "import sys; from tritonsla.text.default_tokenizer import write_default_tokenizer as w"
    code += "; w(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "there")], check=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes()


def test_missing_folder_names_folder_and_fix(tmp_path: Path) -> None:
    folder = tmp_path / "nowhere"
    with pytest.raises(ModelDataError, match=rf"{folder} does not exist\. Fix: .*tokenizer_dir"):
        load_tokenizer(folder)


def test_file_instead_of_folder(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text("{}")
    with pytest.raises(ModelDataError, match=rf"{path} is not a folder"):
        load_tokenizer(path)


def test_folder_without_tokenizer_json_names_folder_and_contents(tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text("{}")
    (tmp_path / "merges.txt").write_text("")
    message = rf"{tmp_path} has no tokenizer\.json \(it holds: merges\.txt, vocab\.json\)\. Fix:"
    with pytest.raises(ModelDataError, match=message):
        load_tokenizer(tmp_path)


def test_malformed_tokenizer_json(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text('{"not": "a tokenizer"}')
    with pytest.raises(ModelDataError, match=rf"{tmp_path}: tokenizer\.json cannot be loaded"):
        load_tokenizer(tmp_path)


def _copy_tokenizer(tokenizer: TextTokenizer, folder: Path) -> Path:
    folder.mkdir()
    (folder / "tokenizer.json").write_text(tokenizer.backend.to_str())
    return folder


def test_malformed_tokenizer_config(tokenizer: TextTokenizer, tmp_path: Path) -> None:
    folder = _copy_tokenizer(tokenizer, tmp_path / "tok")
    (folder / "tokenizer_config.json").write_text("{broken")
    with pytest.raises(ModelDataError, match=r"tokenizer_config\.json is not readable JSON"):
        load_tokenizer(folder)


def test_unknown_special_token(tokenizer: TextTokenizer, tmp_path: Path) -> None:
    folder = _copy_tokenizer(tokenizer, tmp_path / "tok")
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    with pytest.raises(ModelDataError, match=r"eos_token '</s>' is not in the vocabulary"):
        load_tokenizer(folder)


def test_special_tokens_from_map_and_added_token_form(
    tokenizer: TextTokenizer, tmp_path: Path
) -> None:
    folder = _copy_tokenizer(tokenizer, tmp_path / "tok")
    (folder / "tokenizer_config.json").write_text(json.dumps({"pad_token": None}))
    added = {"content": EOS_TOKEN, "lstrip": False, "__type": "AddedToken"}
    (folder / "special_tokens_map.json").write_text(json.dumps({"eos_token": added}))
    loaded = load_tokenizer(folder)
    assert loaded.eos_token_id == loaded.pad_token_id == tokenizer.eos_token_id


def test_no_special_tokens_at_all(tokenizer: TextTokenizer, tmp_path: Path) -> None:
    loaded = load_tokenizer(_copy_tokenizer(tokenizer, tmp_path / "tok"))
    assert (loaded.eos_token_id, loaded.pad_token_id, loaded.bos_token_id) == (None, None, None)


def _model_config(tokenizer_dir: str) -> dict:
    return {
        "name": "realtime_preprocessing",
        "parameters": {"tokenizer_dir": {"string_value": tokenizer_dir}},
    }


def test_model_tokenizer_dir_resolves_relative_to_repository_parent(tmp_path: Path) -> None:
    model_dir = tmp_path / "project" / "model_repo" / "realtime_preprocessing"
    resolved = model_tokenizer_dir(_model_config("assets/tok"), model_dir)
    assert resolved == (tmp_path / "project" / "assets" / "tok").resolve()
    assert model_tokenizer_dir(_model_config("/abs/tok"), model_dir) == Path("/abs/tok")


@pytest.mark.parametrize("value", ["model_repo/tokenizer", "model_repo", "model_repo/x/1/tok"])
def test_model_tokenizer_dir_refuses_folder_inside_repository(tmp_path: Path, value: str) -> None:
    model_dir = tmp_path / "model_repo" / "realtime_preprocessing"
    with pytest.raises(ModelDataError, match=r"inside the model repository .*Fix: keep"):
        model_tokenizer_dir(_model_config(value), model_dir)


def test_model_tokenizer_dir_needs_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="tokenizer_dir"):
        model_tokenizer_dir({"name": "m"}, tmp_path / "repo" / "m")


def test_load_model_tokenizer_from_triton_args(tmp_path: Path) -> None:
    write_default_tokenizer(tmp_path / "assets" / "tok")
    args = {
        "model_config": json.dumps(_model_config("assets/tok")),
        "model_repository": str(tmp_path / "model_repo" / "realtime_preprocessing"),
    }
    assert load_model_tokenizer(args).eos_token_id == 0
