"""GPT-2 checkpoint folders: deterministic writing, loading, and errors that name the problem."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cpukit import TINY, VOCAB
from safetensors.numpy import load_file, save_file

from tritonsla.cpu.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    load_checkpoint,
    write_default_checkpoint,
)
from tritonsla.errors import ModelDataError


def test_default_checkpoint_is_byte_identical_for_the_same_arguments(tmp_path: Path) -> None:
    a = write_default_checkpoint(tmp_path / "a", VOCAB, 7, **TINY, seed=3)
    b = write_default_checkpoint(tmp_path / "b", VOCAB, 7, **TINY, seed=3)
    c = write_default_checkpoint(tmp_path / "c", VOCAB, 7, **TINY, seed=4)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / WEIGHTS_FILE).read_bytes() != (c / WEIGHTS_FILE).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]  # no staging left over


def test_default_checkpoint_loads_with_the_requested_shape(tmp_path: Path) -> None:
    folder = write_default_checkpoint(tmp_path / "m", 300, 299, n_layer=3, n_head=2, n_embd=32)
    checkpoint = load_checkpoint(folder)
    config = checkpoint.config
    assert (config.n_layer, config.n_head, config.n_embd, config.vocab_size) == (3, 2, 32, 300)
    assert config.eos_token_id == 299 and config.n_positions == 1024
    assert checkpoint.tensors["wte.weight"].shape == (300, 32)
    assert checkpoint.tensors["h.2.attn.c_attn.weight"].shape == (32, 96)
    assert json.loads((folder / CONFIG_FILE).read_text())["model_type"] == "gpt2"


def test_rewriting_replaces_the_folder(tmp_path: Path) -> None:
    folder = write_default_checkpoint(tmp_path / "m", VOCAB, 1, **TINY, seed=1)
    (folder / "stale.txt").write_text("old")
    write_default_checkpoint(folder, VOCAB, 1, **TINY, seed=2)
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_hugging_face_transformer_prefix_is_accepted(tmp_path: Path, checkpoint_dir: Path) -> None:
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / CONFIG_FILE).write_bytes((checkpoint_dir / CONFIG_FILE).read_bytes())
    tensors = load_file(str(checkpoint_dir / WEIGHTS_FILE))
    prefixed = {f"transformer.{k}": v for k, v in tensors.items()}
    prefixed["lm_head.weight"] = tensors["wte.weight"]
    save_file(prefixed, str(folder / WEIGHTS_FILE))
    loaded = load_checkpoint(folder).tensors
    np.testing.assert_array_equal(loaded["h.1.mlp.c_fc.bias"], tensors["h.1.mlp.c_fc.bias"])


def test_missing_folder_and_files_are_named(tmp_path: Path, checkpoint_dir: Path) -> None:
    with pytest.raises(
        ModelDataError, match=r"nowhere does not exist. Fix: point `gpt_model_path`"
    ):
        load_checkpoint(tmp_path / "nowhere")
    folder = tmp_path / "partial"
    folder.mkdir()
    with pytest.raises(ModelDataError, match=r"partial: missing config.json"):
        load_checkpoint(folder)
    (folder / CONFIG_FILE).write_bytes((checkpoint_dir / CONFIG_FILE).read_bytes())
    with pytest.raises(ModelDataError, match=r"partial: missing model.safetensors"):
        load_checkpoint(folder)


def test_missing_or_misshaped_tensor_is_named(tmp_path: Path, checkpoint_dir: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / CONFIG_FILE).write_bytes((checkpoint_dir / CONFIG_FILE).read_bytes())
    tensors = load_file(str(checkpoint_dir / WEIGHTS_FILE))
    del tensors["h.1.ln_2.bias"]
    save_file(tensors, str(folder / WEIGHTS_FILE))
    with pytest.raises(ModelDataError, match=r"model.safetensors: missing tensor 'h.1.ln_2.bias'"):
        load_checkpoint(folder)
    tensors["h.1.ln_2.bias"] = np.zeros(5, np.float32)
    save_file(tensors, str(folder / WEIGHTS_FILE))
    with pytest.raises(ModelDataError, match=r"'h.1.ln_2.bias' has shape \(5,\), expected \(64,\)"):
        load_checkpoint(folder)


def test_bad_config_is_named(tmp_path: Path, checkpoint_dir: Path) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / WEIGHTS_FILE).write_bytes((checkpoint_dir / WEIGHTS_FILE).read_bytes())
    config = json.loads((checkpoint_dir / CONFIG_FILE).read_text())
    (folder / CONFIG_FILE).write_text(json.dumps({**config, "n_head": None}))
    with pytest.raises(ModelDataError, match=r"config.json: missing integer key\(s\) n_head"):
        load_checkpoint(folder)
    (folder / CONFIG_FILE).write_text(json.dumps({**config, "activation_function": "relu"}))
    with pytest.raises(ModelDataError, match=r"`activation_function` is 'relu'"):
        load_checkpoint(folder)
    (folder / CONFIG_FILE).write_text("{not json")
    with pytest.raises(ModelDataError, match=r"config.json: not readable JSON"):
        load_checkpoint(folder)
