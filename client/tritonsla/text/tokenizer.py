"""Hugging Face tokenizers loaded offline from a local folder.

A folder is usable when it holds `tokenizer.json` (the `tokenizers` serialization). The special
tokens come from `tokenizer_config.json`, else `special_tokens_map.json`; a missing pad token
falls back to the eos token, as TensorRT-LLM's preprocessing does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from tritonsla.errors import ModelDataError
from tritonsla.paths import model_config_parameter, resolve_model_path

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILES = ("tokenizer_config.json", "special_tokens_map.json")
_FIX_FOLDER = (
    "point `tokenizer_dir` (deploy file: `model.tokenizer`) at a folder holding tokenizer.json, "
    "or create one with tritonsla.text.default_tokenizer.write_default_tokenizer"
)


@dataclass(frozen=True)
class TextTokenizer:
    """A `tokenizers.Tokenizer` plus the special token ids the models need."""

    folder: Path
    backend: Tokenizer
    eos_token_id: int | None
    pad_token_id: int | None
    bos_token_id: int | None

    @property
    def vocab_size(self) -> int:
        """Number of ids, added tokens included."""
        return self.backend.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of `text`; special tokens (e.g. BOS) as the post-processor adds them."""
        return self.backend.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids`, special tokens left out; bytes of a broken character become U+FFFD."""
        return self.backend.decode(list(ids), skip_special_tokens=True)


def load_tokenizer(folder: str | Path) -> TextTokenizer:
    """Load the tokenizer saved in `folder`; never downloads anything."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ModelDataError(f"tokenizer folder {folder} {what}. Fix: {_FIX_FOLDER}")
    path = folder / TOKENIZER_FILE
    if not path.is_file():
        found = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
        raise ModelDataError(
            f"tokenizer folder {folder} has no {TOKENIZER_FILE} (it holds: {found}). Fix: save "
            "the tokenizer in the Hugging Face fast format there, e.g. with transformers: "
            "AutoTokenizer.from_pretrained(folder).save_pretrained(folder)"
        )
    try:
        backend = Tokenizer.from_file(str(path))
    except Exception as exc:
        raise ModelDataError(
            f"tokenizer folder {folder}: {TOKENIZER_FILE} cannot be loaded ({exc}). Fix: replace "
            "it with a file written by the `tokenizers` library (Tokenizer.save)"
        ) from exc
    special = _special_tokens(folder)

    def token_id(key: str) -> int | None:
        token = special.get(key)
        if token is None:
            return None
        found = backend.token_to_id(token)
        if found is None:
            raise ModelDataError(
                f"tokenizer folder {folder}: {key} {token!r} is not in the vocabulary of "
                f"{TOKENIZER_FILE}. Fix: name a token that exists, or remove {key} from the "
                "tokenizer config"
            )
        return found

    eos = token_id("eos_token")
    pad = token_id("pad_token")
    return TextTokenizer(folder, backend, eos, eos if pad is None else pad, token_id("bos_token"))


def _special_tokens(folder: Path) -> dict[str, str]:
    """eos/pad/bos token strings from the first config file that names each of them."""
    found: dict[str, str] = {}
    for name in CONFIG_FILES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelDataError(
                f"tokenizer folder {folder}: {name} is not readable JSON ({exc}). Fix: repair or "
                "delete the file"
            ) from exc
        if not isinstance(data, dict):
            raise ModelDataError(
                f"tokenizer folder {folder}: {name} is not a JSON object. Fix: repair or delete it"
            )
        for key in ("eos_token", "pad_token", "bos_token"):
            value = data.get(key)
            if isinstance(value, dict):  # a serialized AddedToken
                value = value.get("content")
            if isinstance(value, str) and key not in found:
                found[key] = value
    return found


def model_tokenizer_dir(model_config: Mapping, model_dir: str | Path) -> Path:
    """The `tokenizer_dir` parameter of a Python model's config, resolved and checked.

    Refuses a folder inside the model repository: Triton would take its folders for
    models, and the repository would stop being portable.
    """
    value = model_config_parameter(dict(model_config), "tokenizer_dir")
    folder = resolve_model_path(value, model_dir)
    repository = Path(model_dir).resolve().parent
    if folder == repository or repository in folder.parents:
        raise ModelDataError(
            f"model {model_config.get('name')!r}: tokenizer_dir {value!r} resolves to {folder}, "
            f"inside the model repository {repository}. Fix: keep the tokenizer outside the "
            "repository and point `model.tokenizer` of the deploy file at it"
        )
    return folder


def load_model_tokenizer(args: Mapping[str, str]) -> TextTokenizer:
    """The tokenizer of a Python model, from the `args` Triton passes to `initialize`."""
    model_config = json.loads(args["model_config"])
    return load_tokenizer(model_tokenizer_dir(model_config, args["model_repository"]))
