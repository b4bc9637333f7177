"""The CPU reference engine: a numpy GPT-2 with in-flight batching and a paged KV cache.

It serves the `tensorrt_llm` model contract from Triton's Python backend (engine kind `cpu`).
Modules, one job each: `checkpoint` (load / write GPT-2 folders), `layers` and `model` (forward
passes, fp32 or int8 weight-only), `kv_cache` (block accounting and storage), `sampling`
(choosing tokens), `sequence` (one request in flight), `scheduler` (which sequences run each
step), `config` and `engine` (settings and the worker thread), `triton_io` and `triton_config`
(conversions the Triton model uses). What goes in and comes out (`GenerationRequest`,
`OutputEvent`, `SamplingParams`) is every engine kind's: `tritonsla.engine_request`.
"""

from tritonsla.cpu.checkpoint import load_checkpoint, write_default_checkpoint
from tritonsla.cpu.config import EngineConfig
from tritonsla.cpu.engine import Engine, EngineStats
from tritonsla.cpu.errors import EngineConfigError, QueueFullError
from tritonsla.engine_request import (
    FinishReason,
    GenerationRequest,
    InvalidRequestError,
    OutputEvent,
    SamplingParams,
)

__all__ = [
    "Engine",
    "EngineConfig",
    "EngineConfigError",
    "EngineStats",
    "FinishReason",
    "GenerationRequest",
    "InvalidRequestError",
    "OutputEvent",
    "QueueFullError",
    "SamplingParams",
    "load_checkpoint",
    "write_default_checkpoint",
]
