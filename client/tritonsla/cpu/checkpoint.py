"""Hugging Face GPT-2-layout checkpoints: load one, or write a small deterministic one.

A checkpoint folder holds `config.json` (GPT2Config keys) and `model.safetensors` with GPT-2's
tensor names (`wte.weight`, `h.{i}.attn.c_attn.weight`, ...; linear weights in Conv1D layout
`[in, out]`), optionally under the `transformer.` prefix that `GPT2LMHeadModel` checkpoints use.
Nothing is ever downloaded: the default checkpoint is random-initialised from a seed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from tritonsla.errors import ModelDataError
from tritonsla.folders import replace_folder

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
_PREFIX = "transformer."
_FIX = (
    "point `gpt_model_path` at a Hugging Face GPT-2-layout folder (config.json + "
    "model.safetensors), or create one with tritonsla.cpu.write_default_checkpoint"
)
# Layer tensors of block i, with their shapes as functions of (n_embd, n_inner).
_LAYER_SHAPES = {
    "ln_1.weight": lambda c, f: (c,),
    "ln_1.bias": lambda c, f: (c,),
    "attn.c_attn.weight": lambda c, f: (c, 3 * c),
    "attn.c_attn.bias": lambda c, f: (3 * c,),
    "attn.c_proj.weight": lambda c, f: (c, c),
    "attn.c_proj.bias": lambda c, f: (c,),
    "ln_2.weight": lambda c, f: (c,),
    "ln_2.bias": lambda c, f: (c,),
    "mlp.c_fc.weight": lambda c, f: (c, f),
    "mlp.c_fc.bias": lambda c, f: (f,),
    "mlp.c_proj.weight": lambda c, f: (f, c),
    "mlp.c_proj.bias": lambda c, f: (c,),
}
# Standard deviation of the random init. GPT-2 uses 0.02; a random model that small just repeats
# its input token. Ten times wider gives peaked, context-dependent next-token distributions, so
# greedy choices are far from ties and generations are varied.
_INIT_STD = 0.2


@dataclass(frozen=True)
class GPT2Config:
    """The `config.json` keys the engine reads (names as in transformers' GPT2Config)."""

    n_layer: int
    n_head: int
    n_embd: int
    n_positions: int
    vocab_size: int
    layer_norm_epsilon: float = 1e-5
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.n_embd // self.n_head


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: config and float32 tensors keyed by GPT-2 name without prefix."""

    folder: Path
    config: GPT2Config
    tensors: dict[str, np.ndarray]


def load_checkpoint(folder: str | Path) -> Checkpoint:
    """Read and validate a GPT-2-layout checkpoint folder; errors name the folder, file and fix."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelDataError(f"checkpoint folder {folder} does not exist. Fix: {_FIX}")
    config = _read_config(folder)
    tensors = _read_tensors(folder)
    _check_tensors(folder, config, tensors)
    return Checkpoint(folder, config, tensors)


def _read_config(folder: Path) -> GPT2Config:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ModelDataError(f"checkpoint folder {folder}: missing {CONFIG_FILE}. Fix: {_FIX}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelDataError(f"{path}: not readable JSON ({exc}). Fix: {_FIX}") from exc
    activation = raw.get("activation_function", "gelu_new")
    if activation not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ModelDataError(
            f"{path}: `activation_function` is {activation!r}; the CPU engine implements GPT-2's "
            "tanh GELU only. Fix: use a GPT-2 checkpoint (activation_function gelu_new)"
        )
    required = ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size")
    missing = [key for key in required if not isinstance(raw.get(key), int)]
    if missing:
        raise ModelDataError(
            f"{path}: missing integer key(s) {', '.join(missing)}. Fix: write a transformers "
            "GPT2Config (n_layer, n_head, n_embd, n_positions, vocab_size)"
        )
    config = GPT2Config(
        n_layer=raw["n_layer"],
        n_head=raw["n_head"],
        n_embd=raw["n_embd"],
        n_positions=raw["n_positions"],
        vocab_size=raw["vocab_size"],
        layer_norm_epsilon=float(raw.get("layer_norm_epsilon", 1e-5)),
        bos_token_id=raw.get("bos_token_id"),
        eos_token_id=raw.get("eos_token_id"),
    )
    if config.n_embd % config.n_head:
        raise ModelDataError(
            f"{path}: `n_embd` {config.n_embd} is not a multiple of `n_head` {config.n_head}. "
            "Fix: a GPT-2 config needs n_embd divisible by n_head"
        )
    return config


def _read_tensors(folder: Path) -> dict[str, np.ndarray]:
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise ModelDataError(f"checkpoint folder {folder}: missing {WEIGHTS_FILE}. Fix: {_FIX}")
    try:
        raw = load_file(str(path))
    except (SafetensorError, TypeError, ValueError, OSError) as exc:
        raise ModelDataError(
            f"{path}: cannot be read as float safetensors ({exc}). Fix: save the weights as "
            "float32 or float16 safetensors"
        ) from exc
    tensors = {}
    for name, value in raw.items():
        key = name.removeprefix(_PREFIX)
        if key in tensors:
            raise ModelDataError(f"{path}: tensor {key!r} appears with and without `transformer.`")
        tensors[key] = value.astype(np.float32, copy=False)
    return tensors


def _check_tensors(folder: Path, config: GPT2Config, tensors: dict[str, np.ndarray]) -> None:
    c = config.n_embd
    fc = tensors.get("h.0.mlp.c_fc.weight")
    n_inner = int(fc.shape[1]) if fc is not None and fc.ndim == 2 else 4 * c
    expected = {
        "wte.weight": (config.vocab_size, c),
        "wpe.weight": (config.n_positions, c),
        "ln_f.weight": (c,),
        "ln_f.bias": (c,),
    }
    for i in range(config.n_layer):
        for suffix, shape in _LAYER_SHAPES.items():
            expected[f"h.{i}.{suffix}"] = shape(c, n_inner)
    path = folder / WEIGHTS_FILE
    for name, shape in expected.items():
        tensor = tensors.get(name)
        if tensor is None:
            raise ModelDataError(
                f"{path}: missing tensor {name!r} (with or without the `transformer.` prefix). "
                f"Fix: the checkpoint must match config.json (n_layer={config.n_layer}); {_FIX}"
            )
        if tensor.shape != shape:
            raise ModelDataError(
                f"{path}: tensor {name!r} has shape {tensor.shape}, expected {shape} from "
                f"config.json. Fix: make config.json and the weights describe the same model"
            )


def write_default_checkpoint(
    folder: str | Path,
    vocab_size: int,
    eos_token_id: int,
    *,
    n_layer: int = 4,
    n_head: int = 4,
    n_embd: int = 256,
    n_positions: int = 1024,
    seed: int = 0,
) -> Path:
    """Write a random-init GPT-2 checkpoint to `folder` atomically and return the folder.

    Same arguments give byte-identical files. The folder appears complete or not at all (built in
    a temporary sibling, then renamed); an existing folder is replaced.
    """
    if not 0 <= eos_token_id < vocab_size:
        raise ValueError(
            f"`eos_token_id` {eos_token_id} is outside the vocabulary [0, {vocab_size})"
        )
    config = GPT2Config(
        n_layer=n_layer,
        n_head=n_head,
        n_embd=n_embd,
        n_positions=n_positions,
        vocab_size=vocab_size,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
    )
    if n_embd % n_head:
        raise ValueError(f"`n_embd` {n_embd} is not a multiple of `n_head` {n_head}")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _write_files(staging, config, seed)
        replace_folder(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _write_files(folder: Path, config: GPT2Config, seed: int) -> None:
    meta = {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "activation_function": "gelu_new",
        **asdict(config),
    }
    (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    save_file(random_gpt2_tensors(config, seed), str(folder / WEIGHTS_FILE))


def random_gpt2_tensors(config: GPT2Config, seed: int) -> dict[str, np.ndarray]:
    """GPT-2 tensors drawn from a seeded generator.

    Every tensor is normal with std `_INIT_STD` (layer-norm gains around 1), residual projections
    scaled by 1/sqrt(2 n_layer) as in GPT-2; biases are random too so every parameter matters.
    """
    rng = np.random.default_rng(seed)
    c = config.n_embd

    def normal(std: float, shape: tuple[int, ...], mean: float = 0.0) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * std + mean).astype(np.float32)

    tensors = {
        "wte.weight": normal(_INIT_STD, (config.vocab_size, c)),
        "wpe.weight": normal(_INIT_STD, (config.n_positions, c)),
        "ln_f.weight": normal(_INIT_STD, (c,), mean=1.0),
        "ln_f.bias": normal(_INIT_STD, (c,)),
    }
    proj_std = _INIT_STD / float(np.sqrt(2 * config.n_layer))
    for i in range(config.n_layer):
        for suffix, shape_of in _LAYER_SHAPES.items():
            std = proj_std if suffix.endswith("c_proj.weight") else _INIT_STD
            gain = suffix.startswith("ln_") and suffix.endswith("weight")
            tensors[f"h.{i}.{suffix}"] = normal(std, shape_of(c, 4 * c), mean=float(gain))
    return tensors
