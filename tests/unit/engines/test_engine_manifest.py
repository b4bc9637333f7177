"""Manifests (model fingerprint, up-to-date check) and staging folders."""

from __future__ import annotations

import os

import pytest

from tritonsla.engines.folders import OWNER
from tritonsla.engines.manifest import (
    MANIFEST,
    is_current,
    model_fingerprint,
    read_manifest,
    write_manifest,
)
from tritonsla.errors import EngineBuildError
from tritonsla.folders import FolderError, replace_folder


@pytest.fixture
def model(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"n_layer": 2}')
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"a" * 10)
    (folder / "model-00002-of-00002.safetensors").write_bytes(b"b" * 20)
    (folder / "model.safetensors.index.json").write_text("{}")
    (folder / "tokenizer.json").write_text("{}")
    return folder


def test_fingerprint_hashes_config_and_lists_weights(model):
    found = model_fingerprint(model)
    assert len(found["config_sha256"]) == 64
    assert [f["name"] for f in found["files"]] == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
    ]
    assert found["files"][1]["size"] == 20


def test_fingerprint_changes_with_config_or_weight_metadata(model):
    first = model_fingerprint(model)
    (model / "tokenizer.json").write_text('{"changed": true}')
    assert model_fingerprint(model) == first, "the tokenizer does not go into the engine"
    weights = model / "model-00001-of-00002.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert model_fingerprint(model) != first
    second = model_fingerprint(model)
    (model / "config.json").write_text('{"n_layer": 3}')
    assert model_fingerprint(model) != second


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda m: None, "does not exist"),
        (lambda m: m.mkdir(), "has no config.json"),
        (lambda m: (m.mkdir(), (m / "config.json").write_text("{}")), "has no weight files"),
    ],
)
def test_fingerprint_explains_a_bad_model_folder(tmp_path, setup, message):
    folder = tmp_path / "missing"
    setup(folder)
    with pytest.raises(EngineBuildError, match=message):
        model_fingerprint(folder)


def test_current_needs_config_and_an_equal_manifest(tmp_path):
    folder = tmp_path / "engine"
    folder.mkdir()
    expected = {"format": 1, "knobs": {"max_batch_size": 4}, "commands": [["trtllm-build"]]}
    write_manifest(folder, expected)
    assert "built_at" in (folder / MANIFEST).read_text()
    assert read_manifest(folder) == expected
    assert not is_current(folder, expected), "no config.json: not a finished engine"
    (folder / "config.json").write_text("{}")
    assert is_current(folder, expected)
    assert not is_current(folder, {**expected, "knobs": {"max_batch_size": 8}})
    (folder / MANIFEST).write_text("{not json")
    assert not is_current(folder, expected)


def _staging(tmp_path, text: str):
    staging = tmp_path / ".batch.building-1234"
    staging.mkdir()
    (staging / "config.json").write_text(text)
    return staging


def test_install_replaces_the_old_folder_only_with_a_complete_one(tmp_path):
    final = tmp_path / "batch"
    replace_folder(_staging(tmp_path, "old"), final, owner=OWNER)
    replace_folder(_staging(tmp_path, "new"), final, owner=OWNER)
    assert (final / "config.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch"]


def test_install_refuses_a_folder_it_did_not_build_unless_forced(tmp_path):
    final = tmp_path / "batch"
    final.mkdir()
    (final / "rank0.engine").write_text("hand-built")
    staging = _staging(tmp_path, "new")
    with pytest.raises(FolderError, match=rf"refusing to replace {final}: .*--force"):
        replace_folder(staging, final, owner=OWNER)
    assert (final / "rank0.engine").read_text() == "hand-built"
    replace_folder(staging, final, owner=OWNER, force=True)
    assert (final / "config.json").read_text() == "new"
