"""The LLM() arguments of an llmapi endpoint, from its profile (pure).

Profile knob -> LLM() argument (field names: tensorrt_llm/llmapi/llm_args.py, checked against
llm_args_facts.yaml at render time):

- batching.max_batch_size -> max_batch_size; engine.max_num_tokens, max_seq_len, max_input_len,
  max_beam_width -> the same names; engine.enable_chunked_context -> enable_chunked_prefill;
- engine.kv_cache -> kv_cache_config (free_gpu_memory_fraction, enable_block_reuse,
  tokens_per_block, max_tokens; dtype fp8 for fp8 profiles, else the checkpoint's);
- engine.batch_scheduler_policy / waiting_queue_policy -> scheduler_config
  (capacity_scheduler_policy, and waiting_queue_policy when it is priority);
- batching.preferred_batch_sizes -> cuda_graph_config.batch_sizes (with the powers of two up to
  the max batch, padding on: a batch between two captured sizes runs the next larger graph);
- engine.speculative -> speculative_config (NGram, Eagle3 or Draft_Target);
- engine.attention_backend -> attn_backend; engine.precision -> dtype, or the ModelOpt
  checkpoint `tritonsla engines` writes (tritonsla.llmapi.quantization).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from tritonsla.llmapi.facts import load_facts
from tritonsla.llmapi.quantization import (
    KV_CACHE_FORMATS,
    UNQUANTIZED_DTYPES,
    checkpoint_folder,
    quant_format,
)
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Profile, Speculative

DECODING_TYPES = {"ngram": "NGram", "eagle3": "Eagle3", "draft_target": "Draft_Target"}
"""engine.speculative.method -> speculative_config.decoding_type."""


PathRenderer = Callable[[str], str]
"""A path as the deploy file writes it -> as the repository stores it
(tritonsla.repo.context.rendered_path: absolute kept, relative made portable)."""


def model_folder(dep: Deployment, profile: Profile) -> str:
    """The folder the LLM loads, as written in the deploy file's terms: the checkpoint, or the
    quantized copy under engines_dir."""
    qformat = quant_format(profile.engine.precision)
    if qformat is None:
        return dep.deploy.model.checkpoint
    return checkpoint_folder(dep, qformat).as_posix()


def cuda_graph_batch_sizes(max_batch_size: int, preferred: list[int]) -> list[int]:
    """Batch sizes to capture: the powers of two up to the max batch, the preferred sizes and
    the max batch itself (with padding, any batch runs the next captured size up)."""
    powers = {1 << i for i in range(max_batch_size.bit_length()) if 1 << i <= max_batch_size}
    return sorted(powers | set(preferred) | {max_batch_size})


def speculative_config(spec: Speculative, render_path: PathRenderer) -> dict[str, Any] | None:
    """speculative_config of `spec`, None when off."""
    if spec.method == "none":
        return None
    config: dict[str, Any] = {
        "decoding_type": DECODING_TYPES[spec.method],
        "max_draft_len": spec.max_draft_len,
    }
    if spec.method == "ngram":
        config["max_matching_ngram_size"] = spec.max_matching_ngram_size
    if spec.draft_model:
        config["speculative_model"] = render_path(spec.draft_model)
    if spec.max_concurrency is not None:
        config["max_concurrency"] = spec.max_concurrency
    return config


def llm_arguments(dep: Deployment, profile: Profile, render_path: PathRenderer) -> dict[str, Any]:
    """model.yaml of the endpoint: LLM() keyword arguments, then `triton_config`."""
    e = profile.engine
    hw = dep.deploy.hardware
    kv: dict[str, Any] = {
        "free_gpu_memory_fraction": e.kv_cache.free_gpu_mem_fraction,
        "enable_block_reuse": e.kv_cache.enable_reuse,
        "tokens_per_block": e.kv_cache.tokens_per_block,
    }
    if e.kv_cache.max_tokens is not None:
        kv["max_tokens"] = e.kv_cache.max_tokens
    if e.precision in KV_CACHE_FORMATS:
        kv["dtype"] = KV_CACHE_FORMATS[e.precision]
    scheduler = {"capacity_scheduler_policy": e.batch_scheduler_policy.upper()}
    if e.waiting_queue_policy == "priority":
        scheduler["waiting_queue_policy"] = "priority"
    batch = profile.batching.max_batch_size
    args: dict[str, Any] = {
        "model": render_path(model_folder(dep, profile)),
        "backend": "pytorch",
        "tensor_parallel_size": hw.tensor_parallel,
        "pipeline_parallel_size": hw.pipeline_parallel,
        "dtype": UNQUANTIZED_DTYPES.get(e.precision, "auto"),
        "max_batch_size": batch,
        "max_num_tokens": e.max_num_tokens,
        "max_input_len": e.max_input_len,
        "max_seq_len": e.max_seq_len,
        "max_beam_width": e.max_beam_width,
        "enable_chunked_prefill": e.enable_chunked_context,
        "kv_cache_config": kv,
        "scheduler_config": scheduler,
        "cuda_graph_config": {
            "batch_sizes": cuda_graph_batch_sizes(batch, profile.batching.preferred_batch_sizes),
            "enable_padding": True,
        },
        "attn_backend": e.attention_backend,
    }
    speculative = speculative_config(e.speculative, render_path)
    if speculative is not None:
        args["speculative_config"] = speculative
    args["triton_config"] = {"max_batch_size": 0, "decoupled": profile.decoupled}
    return args


def model_yaml_context(
    dep: Deployment, profile: Profile, render_path: PathRenderer
) -> dict[str, str]:
    """What llmapi_model.yaml.j2 reads: the arguments as YAML and the facts they were checked
    against (empty for other engine kinds)."""
    if dep.deploy.engine_kind != "llmapi":
        return {}
    text = yaml.safe_dump(llm_arguments(dep, profile, render_path), sort_keys=False, width=100)
    return {"llm_yaml": text, "llm_facts": load_facts().release}
