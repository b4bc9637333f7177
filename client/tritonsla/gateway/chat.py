"""The model's chat template, rendered in a sandboxed Jinja environment.

The template comes from the tokenizer folder, as Hugging Face transformers finds it:
`chat_template.jinja`, else `chat_template` of `tokenizer_config.json` (a string, or a list of
named templates of which `default` is used). It renders as transformers' `apply_chat_template`
does: an immutable sandbox (templates are data from a model folder, not code: attribute
access to internals and mutation of the arguments are refused), `trim_blocks`/`lstrip_blocks`,
the `loopcontrols` extension, `raise_exception`, `strftime_now` and a `tojson` filter, with the
messages, `add_generation_prompt=True` and the tokenizer's special tokens.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from jinja2 import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tritonsla.errors import ModelDataError
from tritonsla.gateway.errors import ApiError, bad_request

TEMPLATE_FILE = "chat_template.jinja"
CONFIG_FILE = "tokenizer_config.json"
_SPECIAL = ("bos_token", "eos_token", "pad_token", "unk_token")


class TemplateRaised(Exception):
    """`raise_exception(...)` called by a template: the messages break its rules."""


def _raise(message: str) -> None:
    raise TemplateRaised(message)


def _tojson(value: object, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


class ChatTemplate:
    """A compiled chat template and the special tokens it may refer to."""

    def __init__(self, source: str, special_tokens: dict[str, str], origin: str) -> None:
        self.origin = origin
        self.special_tokens = special_tokens
        try:
            self._template = _environment().from_string(source)
        except TemplateError as error:
            raise ModelDataError(
                f"{origin}: the chat template does not compile ({error}). Fix: repair the "
                "template, or remove it to serve completions only"
            ) from error

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt of `messages` (role, content) ending with the assistant's turn."""
        try:
            return self._template.render(
                messages=list(messages), add_generation_prompt=True, **self.special_tokens
            )
        except TemplateRaised as error:
            raise bad_request(
                "messages", f"the model's chat template refused them: {error}"
            ) from None
        except TemplateError as error:
            raise ApiError(
                500,
                f"{self.origin}: the chat template failed: {error}",
                "messages",
                "chat_template_error",
                "server_error",
            ) from error


def _special_tokens(config: dict) -> dict[str, str]:
    found = {}
    for key in _SPECIAL:
        value = config.get(key)
        if isinstance(value, dict):  # a serialized AddedToken
            value = value.get("content")
        if isinstance(value, str):
            found[key] = value
    return found


def load_chat_template(folder: Path) -> ChatTemplate | None:
    """The chat template of the tokenizer in `folder`; None when it has none."""
    config_path = folder / CONFIG_FILE
    config: dict = {}
    if config_path.is_file():
        try:
            loaded = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelDataError(
                f"{config_path} is not readable JSON ({exc}). Fix: repair or delete the file"
            ) from exc
        config = loaded if isinstance(loaded, dict) else {}
    special = _special_tokens(config)
    template_path = folder / TEMPLATE_FILE
    if template_path.is_file():
        return ChatTemplate(template_path.read_text(encoding="utf-8"), special, str(template_path))
    source = config.get("chat_template")
    if isinstance(source, list):  # named templates: [{"name": ..., "template": ...}]
        named = {t.get("name"): t.get("template") for t in source if isinstance(t, dict)}
        source = named.get("default")
    if not isinstance(source, str) or not source.strip():
        return None
    return ChatTemplate(source, special, f"{config_path} `chat_template`")


def no_template_error(model: str, folder: Path) -> ApiError:
    """The 400 of a chat request to a model whose tokenizer has no chat template."""
    return bad_request(
        "messages",
        f"model `{model}` has no chat template (neither {folder / TEMPLATE_FILE} nor "
        f"`chat_template` in {folder / CONFIG_FILE}), so chat messages cannot be turned into a "
        "prompt. Use /v1/completions with a prompt, or add a chat template to the tokenizer",
        "chat_template_missing",
    )
