"""The default CPU model: a small deterministic GPT-2 checkpoint with its tokenizer, made locally.

Nothing is downloaded. Tokenizer and weights land in one Hugging Face-style folder
(config.json, model.safetensors, tokenizer.json, tokenizer_config.json), which appears complete
or not at all. A stamp file records what made it, so a second call is a no-op.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from tritonsla.cpu.checkpoint import write_default_checkpoint
from tritonsla.folders import check_replaceable, replace_folder
from tritonsla.text.default_tokenizer import DEFAULT_CHAT_TEMPLATE, write_default_tokenizer

STAMP = "tritonsla-assets.json"
OWNER = "tritonsla assets"
"""Marker owner: `assets` replaces only a folder it made (or a missing or empty one)."""
DEFAULT_FOLDER = Path("assets/tiny-gpt2")


@dataclass(frozen=True)
class DefaultModel:
    """Shape of the default model: small enough for 2 cores, big enough to batch."""

    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    n_positions: int = 1024
    seed: int = 0


DEMO_FOLDER = Path("assets/demo-gpt2")
DEMO_MODEL = DefaultModel(n_layer=8, n_head=8, n_embd=512, n_positions=512)
"""The main job's model: its weights (25 M parameters, 100 MB) outgrow the CPU caches, so that,
as on a GPU, decoding one sequence is bound by memory traffic and batching multiplies throughput
(benchmarks/cpu_batching.py: 3.2x from concurrency 1 to 16 here, against 2.2x for the default)."""


def stamp_of(model: DefaultModel) -> dict:
    """What the stamp file records: the model's shape and the tokenizer's chat template (so a
    folder made before the template changed is made again)."""
    return {**asdict(model), "chat_template": DEFAULT_CHAT_TEMPLATE}


def is_current(folder: Path, model: DefaultModel) -> bool:
    """True when `folder` holds the default model made with these settings."""
    stamp = folder / STAMP
    return stamp.is_file() and json.loads(stamp.read_text()) == stamp_of(model)


def write_default_model(
    folder: Path = DEFAULT_FOLDER, model: DefaultModel | None = None, *, force: bool = False
) -> bool:
    """Create the default model in `folder` unless it is current; True when it was (re)made.

    Replaces only a folder that is missing, empty or made by this function, unless `force`.
    """
    model = model or DefaultModel()
    folder = folder.resolve()
    if is_current(folder, model):
        return False
    check_replaceable(folder, OWNER, force=force)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        tokenizer_dir = staging / "tokenizer"
        vocab_size, eos_token_id = write_default_tokenizer(tokenizer_dir)
        weights_dir = staging / "model"
        write_default_checkpoint(
            weights_dir,
            vocab_size,
            eos_token_id,
            n_layer=model.n_layer,
            n_head=model.n_head,
            n_embd=model.n_embd,
            n_positions=model.n_positions,
            seed=model.seed,
        )
        for item in tokenizer_dir.iterdir():
            os.replace(item, weights_dir / item.name)
        (weights_dir / STAMP).write_text(json.dumps(stamp_of(model), indent=2) + "\n")
        for path in (weights_dir, *weights_dir.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        replace_folder(weights_dir, folder, owner=OWNER, force=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True
