"""Cross-field rules: conflicts no single field shows, and known TensorRT-LLM deployment pitfalls.

Each rule is a pure function of the loaded Deployment returning ConfigErrors located in the file
that supplied the value (profile file, deploy overrides or --set).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from tritonsla.errors import ConfigError
from tritonsla.llmapi.rules import llmapi_rules
from tritonsla.profiles.loading import Deployment, display_path
from tritonsla.profiles.schema import Profile
from tritonsla.profiles.topology import cpu_kv_tokens
from tritonsla.profiles.topology_rules import topology_rules

MAX_KV_FRACTION_SUM = 0.95
"""Leave 5% of device memory for activations and the runtime when profiles share a device."""

UNSAFE_TEXT = re.compile(r'["\\\n\r\t\x00-\x1f]')
CPU_PRECISIONS = {"fp32", "fp16", "bf16", "int8"}


def _error(dep: Deployment, profile: str, field: str, problem: str, fix: str) -> ConfigError:
    file, path = dep.locate(profile, field)
    return ConfigError(file, path, problem, fix)


def batching_rules(dep: Deployment, name: str, p: Profile) -> Iterator[ConfigError]:
    """Preferred sizes fit the max batch and ascend."""
    sizes = p.batching.preferred_batch_sizes
    for index, size in enumerate(sizes):
        if not 1 <= size <= p.batching.max_batch_size:
            yield _error(
                dep,
                name,
                "batching.preferred_batch_sizes",
                f"[{index}] = {size} is outside 1..max_batch_size ({p.batching.max_batch_size})",
                "drop it or raise batching.max_batch_size",
            )
    if sizes != sorted(set(sizes)):
        yield _error(
            dep,
            name,
            "batching.preferred_batch_sizes",
            f"{sizes} is not strictly ascending",
            f"write {sorted(set(sizes))}",
        )


def transaction_rules(dep: Deployment, name: str, p: Profile) -> Iterator[ConfigError]:
    """Streaming needs a decoupled model; V1 batching cannot stream or chunk."""
    if p.streaming and not p.decoupled:
        yield _error(
            dep,
            name,
            "decoupled",
            "streaming is on but the model is not decoupled",
            "set decoupled: true (model_transaction_policy) or streaming: false",
        )
    if p.engine.batching_strategy == "V1" and (p.streaming or p.engine.enable_chunked_context):
        yield _error(
            dep,
            name,
            "engine.batching_strategy",
            "V1 batching supports neither streaming nor chunked context",
            "use inflight_fused_batching",
        )


def instance_rules(dep: Deployment, name: str, p: Profile) -> Iterator[ConfigError]:
    """Postprocessing keeps per-stream UTF-8 state in its process: one instance only."""
    if p.streaming and p.instances.postprocessing != 1:
        yield _error(
            dep,
            name,
            "instances.postprocessing",
            f"{p.instances.postprocessing} instances would split a stream's UTF-8 state across "
            "processes",
            "use 1 (scale text throughput with instances.bls, whose streams are self-contained)",
        )


def queue_rules(dep: Deployment, name: str, p: Profile) -> Iterator[ConfigError]:
    """Deadlines need a timeout ceiling and the override; priorities must be in range."""
    q = p.queue
    if q.per_request_deadlines and q.default_timeout_us == 0:
        yield _error(
            dep,
            name,
            "queue.default_timeout_us",
            "per-request deadlines are on but the default timeout is 0, so Triton ignores them",
            "set a non-zero ceiling, e.g. default_timeout_us: 2000000",
        )
    if q.per_request_deadlines and not q.allow_timeout_override:
        yield _error(
            dep,
            name,
            "queue.allow_timeout_override",
            "per-request deadlines are on but requests may not override the timeout",
            "set allow_timeout_override: true",
        )
    if q.allow_timeout_override and q.default_timeout_us == 0:
        yield _error(
            dep,
            name,
            "queue.allow_timeout_override",
            "has no effect while default_timeout_us is 0 (Triton only lets requests lower it)",
            "set default_timeout_us above 0 or allow_timeout_override: false",
        )
    if q.priority_levels == 0 and q.default_priority_level != 0:
        yield _error(
            dep,
            name,
            "queue.default_priority_level",
            "is set but priority_levels is 0",
            "set priority_levels or remove the default level",
        )
    if q.priority_levels > 0 and not 1 <= q.default_priority_level <= q.priority_levels:
        yield _error(
            dep,
            name,
            "queue.default_priority_level",
            f"{q.default_priority_level} is outside 1..priority_levels ({q.priority_levels})",
            "use a level from 1 (highest) to priority_levels",
        )


def engine_rules(dep: Deployment, name: str, p: Profile) -> Iterator[ConfigError]:
    """Sequence limits, chunking and KV knobs that must agree (e.g. KV reuse needs paged FMHA)."""
    e = p.engine
    kind = dep.deploy.engine_kind
    if e.max_seq_len <= e.max_input_len:
        yield _error(
            dep,
            name,
            "engine.max_seq_len",
            f"{e.max_seq_len} leaves no room to generate after max_input_len {e.max_input_len}",
            "make max_seq_len larger than max_input_len",
        )
    if not e.enable_chunked_context and e.max_num_tokens < e.max_input_len:
        yield _error(
            dep,
            name,
            "engine.max_num_tokens",
            f"{e.max_num_tokens} < max_input_len {e.max_input_len}: a long prompt cannot be "
            "processed in one step without chunked context",
            "enable engine.enable_chunked_context or raise max_num_tokens",
        )
    if kind == "trt-engine" and not e.paged_context_fmha:
        for knob, on in (
            ("engine.enable_chunked_context", e.enable_chunked_context),
            ("engine.kv_cache.enable_reuse", e.kv_cache.enable_reuse),
        ):
            if on:
                yield _error(
                    dep,
                    name,
                    knob,
                    "needs paged context FMHA, which is off",
                    "set engine.paged_context_fmha: true (trtllm-build --use_paged_context_fmha)",
                )
    if e.kv_cache.max_tokens is not None and e.kv_cache.max_tokens < e.max_seq_len:
        yield _error(
            dep,
            name,
            "engine.kv_cache.max_tokens",
            f"{e.kv_cache.max_tokens} cannot hold one sequence of max_seq_len {e.max_seq_len}",
            "raise kv_cache.max_tokens or lower max_seq_len",
        )
    if kind == "cpu":
        if e.precision not in CPU_PRECISIONS:
            yield _error(
                dep,
                name,
                "engine.precision",
                f"{e.precision} is not available on the cpu engine",
                f"use one of {sorted(CPU_PRECISIONS)}",
            )
        if e.batching_strategy != "inflight_fused_batching":
            yield _error(
                dep,
                name,
                "engine.batching_strategy",
                "the cpu engine only does in-flight batching",
                "set batching_strategy: inflight_fused_batching",
            )
        if e.max_beam_width != 1:
            yield _error(
                dep,
                name,
                "engine.max_beam_width",
                "the cpu engine does not do beam search",
                "set max_beam_width: 1",
            )
        kv_tokens = cpu_kv_tokens(dep, p)
        if kv_tokens < e.max_seq_len:
            yield _error(
                dep,
                name,
                "engine.kv_cache.free_gpu_mem_fraction",
                f"gives {kv_tokens} KV tokens, fewer than max_seq_len {e.max_seq_len}",
                "raise the fraction, hardware.cpu_kv_cache_tokens, or kv_cache.max_tokens",
            )


PROFILE_RULES: tuple[Callable[[Deployment, str, Profile], Iterator[ConfigError]], ...] = (
    batching_rules,
    transaction_rules,
    instance_rules,
    queue_rules,
    engine_rules,
)


def deployment_rules(dep: Deployment) -> Iterator[ConfigError]:
    """Rules across profiles and the machine: shared memory, parallelism, ports, paths."""
    d = dep.deploy
    file = display_path(dep.deploy_file)
    fractions = {n: p.engine.kv_cache.free_gpu_mem_fraction for n, p in dep.profiles.items()}
    shared = {
        n: f for n, f in fractions.items() if dep.profiles[n].engine.kv_cache.max_tokens is None
    }
    if len(shared) > 1 and sum(shared.values()) > MAX_KV_FRACTION_SUM:
        parts = " + ".join(f"{n} {f}" for n, f in shared.items())
        yield ConfigError(
            file,
            "profiles",
            f"KV-cache fractions of profiles sharing one device sum to {sum(shared.values()):.2f} "
            f"({parts})",
            f"lower engine.kv_cache.free_gpu_mem_fraction under overrides so the sum is <= "
            f"{MAX_KV_FRACTION_SUM}",
        )
    world = d.hardware.tensor_parallel * d.hardware.pipeline_parallel
    if d.engine_kind == "cpu" and world != 1:
        yield ConfigError(
            file,
            "hardware.tensor_parallel",
            f"tp x pp = {world} on the cpu engine",
            "set tensor_parallel and pipeline_parallel to 1",
        )
    if d.engine_kind != "cpu" and d.hardware.gpus == 0:
        yield ConfigError(
            file,
            "hardware.gpus",
            f"engine kind {d.engine_kind} needs GPUs but gpus is 0",
            "set hardware.gpus, or use engine_kind: cpu",
        )
    elif d.engine_kind != "cpu" and world > d.hardware.gpus:
        yield ConfigError(
            file,
            "hardware.tensor_parallel",
            f"world size tp x pp = {world} exceeds the {d.hardware.gpus} GPU(s)",
            "lower tensor_parallel/pipeline_parallel or raise hardware.gpus",
        )
    ports = {
        "http_port": d.server.http_port,
        "grpc_port": d.server.grpc_port,
        "metrics_port": d.server.metrics_port,
    }
    nonzero = [p for p in ports.values() if p]
    if len(set(nonzero)) != len(nonzero):
        yield ConfigError(
            file, "server", f"ports collide: {ports}", "give each port its own number"
        )
    for field, value in (
        ("model.checkpoint", d.model.checkpoint),
        ("model.tokenizer", d.model.tokenizer),
        ("engines_dir", d.engines_dir),
        ("profiles_dir", d.profiles_dir),
    ):
        if UNSAFE_TEXT.search(value):
            yield ConfigError(
                file,
                field,
                f"{value!r} contains quotes, backslashes or control characters",
                "use a plain path",
            )
    if d.engine_kind == "cpu":
        for field, value in (
            ("model.checkpoint", d.model.checkpoint),
            ("model.tokenizer", d.model.tokenizer),
        ):
            if not dep.path(value).is_dir():
                yield ConfigError(
                    file,
                    field,
                    f"folder {dep.path(value)} does not exist",
                    "run `./build.sh setup` (creates assets/tiny-gpt2) or point it at a "
                    "GPT-2 folder",
                )


def check_deployment(dep: Deployment) -> list[ConfigError]:
    """Every cross-field problem of the deployment, in a stable order."""
    found: list[ConfigError] = []
    for name, profile in dep.profiles.items():
        for rule in PROFILE_RULES:
            found.extend(rule(dep, name, profile))
    found.extend(deployment_rules(dep))
    found.extend(topology_rules(dep))
    found.extend(llmapi_rules(dep))
    return found
