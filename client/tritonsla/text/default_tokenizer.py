"""A small byte-level BPE tokenizer built locally, for demos and tests without downloads.

Trained with the `tokenizers` BPE trainer on the fixed corpus of `tritonsla.text.corpus`; the
trainer breaks ties between equally frequent pairs deterministically, so the same inputs give
byte-identical files (tests check this across processes). Byte-level: any text, emoji and CJK
included, encodes and decodes losslessly.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from tritonsla.text.corpus import DEFAULT_CORPUS
from tritonsla.text.tokenizer import TOKENIZER_FILE

EOS_TOKEN = "<|endoftext|>"
DEFAULT_VOCAB_SIZE = 1024
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
"""A plain-text chat template (`tokenizer_config.json` `chat_template`): one `Role: text` line
per message, then `Assistant:` for the answer. The gateway renders it for /v1/chat/completions."""


def build_default_tokenizer(vocab_size: int = DEFAULT_VOCAB_SIZE) -> Tokenizer:
    """Train the byte-level BPE tokenizer in memory; `EOS_TOKEN` is id 0."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(DEFAULT_CORPUS, trainer=trainer)
    return tokenizer


def write_default_tokenizer(folder: str | Path) -> tuple[int, int]:
    """Write tokenizer.json and tokenizer_config.json into `folder`; (vocab_size, eos_token_id).

    Each file is written to a temporary file in `folder` and renamed over the target, so a
    reader never sees half a file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_default_tokenizer()
    config = {
        "bos_token": None,
        "eos_token": EOS_TOKEN,
        "model_max_length": 1024,
        "pad_token": EOS_TOKEN,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": DEFAULT_CHAT_TEMPLATE,
    }
    _write_atomic(folder / TOKENIZER_FILE, tokenizer.to_str(pretty=True) + "\n")
    _write_atomic(folder / "tokenizer_config.json", json.dumps(config, indent=2) + "\n")
    return tokenizer.get_vocab_size(with_added_tokens=True), tokenizer.token_to_id(EOS_TOKEN)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
