"""Typed schema of SLA profiles (profiles/*.yaml) and deployments (deploy/*.yaml).

Every field has a documented default; unknown keys are errors (extra="forbid"). A profile
holds what an SLA class needs (batching, queue policy, engine knobs, SLO); a deployment holds
what a machine and model need (engine kind, model folders, hardware) and may override any
profile value under `overrides.<profile>`. Triton field names are noted where a knob maps onto
model_config.proto; TensorRT-LLM parameter names where it maps onto the tensorrt_llm model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SAFE_NAME = r"^[a-z][a-z0-9_]{0,31}$"
"""Profile and deployment names: they become Triton model names and folder names."""

Precision = Literal["fp32", "fp16", "bf16", "fp8", "int8", "int4"]
EngineKind = Literal["cpu", "trt-engine", "llmapi"]
SchedulerPolicy = Literal["guaranteed_no_evict", "max_utilization"]
WaitingQueuePolicy = Literal["fcfs", "priority"]
"""TensorRT-LLM LLM API `scheduler_config.waiting_queue_policy` values."""
Layout = Literal["single", "per-profile", "shared"]
AttentionBackend = Literal["TRTLLM", "FLASHINFER", "VANILLA"]
"""TensorRT-LLM LLM API `attn_backend` values (llm_args.py, TorchLlmArgs)."""
SpeculativeMethod = Literal["none", "ngram", "eagle3", "draft_target"]


class Strict(BaseModel):
    """Base of every schema model: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Batching(Strict):
    """Triton's dynamic batcher in front of the engine (ModelDynamicBatching)."""

    max_batch_size: int = Field(8, ge=1, le=4096, description="max_batch_size; engine batch too")
    preferred_batch_sizes: list[int] = Field(
        default_factory=list, description="preferred_batch_size; each <= max_batch_size"
    )
    max_queue_delay_us: int = Field(
        0, ge=0, le=10_000_000, description="max_queue_delay_microseconds"
    )


class Queue(Strict):
    """Queue policy (ModelQueuePolicy) and priorities of the dynamic batcher."""

    max_queue_size: int = Field(
        0, ge=0, le=1_000_000, description="default_queue_policy.max_queue_size; 0 = unbounded"
    )
    timeout_action: Literal["REJECT", "DELAY"] = Field(
        "REJECT", description="what Triton does when a queued request times out"
    )
    default_timeout_us: int = Field(
        0, ge=0, description="default_timeout_microseconds; 0 = requests never time out"
    )
    allow_timeout_override: bool = Field(
        False, description="lets a request lower its own timeout (per-request deadline)"
    )
    per_request_deadlines: bool = Field(
        False, description="clients send deadlines: needs a timeout ceiling and the override"
    )
    priority_levels: int = Field(0, ge=0, le=16, description="priority_levels; 0 = off")
    default_priority_level: int = Field(0, ge=0, le=16, description="used when a request has none")


class Instances(Strict):
    """instance_group counts of each model of the endpoint."""

    preprocessing: int = Field(1, ge=1, le=64)
    tensorrt_llm: int = Field(1, ge=1, le=64)
    postprocessing: int = Field(1, ge=1, le=64)
    bls: int = Field(1, ge=1, le=64)


class KvCache(Strict):
    """Paged KV cache of the engine (tensorrt_llm parameters)."""

    free_gpu_mem_fraction: float = Field(
        0.3, gt=0.0, le=0.95, description="kv_cache_free_gpu_mem_fraction"
    )
    max_tokens: int | None = Field(
        None, ge=1, description="max_tokens_in_paged_kv_cache; None = from the fraction"
    )
    enable_reuse: bool = Field(False, description="enable_kv_cache_reuse (prefix caching)")
    tokens_per_block: int = Field(32, ge=1, le=1024, description="trtllm-build --tokens_per_block")


class Speculative(Strict):
    """Opt-in speculative decoding of the llmapi engine (LLM API `speculative_config`).

    ngram drafts from the prompt itself (no extra model); eagle3 and draft_target need the
    draft model's Hugging Face folder in `draft_model` (relative to the deploy file).
    """

    method: SpeculativeMethod = Field("none", description="decoding_type; none = off")
    max_draft_len: int = Field(4, ge=1, le=16, description="draft tokens proposed per step")
    draft_model: str | None = Field(None, description="eagle3, draft_target: draft model folder")
    max_matching_ngram_size: int = Field(2, ge=1, le=16, description="ngram: longest match")
    max_concurrency: int | None = Field(
        None, ge=1, description="speculation off above this many requests in flight"
    )

    @model_validator(mode="after")
    def _draft_model_fits_method(self) -> Speculative:
        needs = self.method in ("eagle3", "draft_target")
        if needs and not self.draft_model:
            raise ValueError(
                f"`draft_model` is required by method {self.method}: set it to the draft "
                "model's Hugging Face folder, or use method ngram (no draft model)"
            )
        if not needs and self.draft_model:
            raise ValueError(
                f"`draft_model` is set but method {self.method} uses none: remove it, or use "
                "method eagle3 or draft_target"
            )
        return self


class Engine(Strict):
    """Engine build and runtime knobs (trtllm-build flags and tensorrt_llm parameters)."""

    precision: Precision = Field("fp16", description="int8/int4 = weight-only quantization")
    max_input_len: int = Field(1024, ge=1, description="trtllm-build --max_input_len")
    max_seq_len: int = Field(2048, ge=2, description="trtllm-build --max_seq_len (input+output)")
    max_num_tokens: int = Field(8192, ge=1, description="trtllm-build --max_num_tokens per step")
    max_beam_width: int = Field(1, ge=1, le=8, description="trtllm-build --max_beam_width")
    batching_strategy: Literal["inflight_fused_batching", "V1"] = Field(
        "inflight_fused_batching", description="gpt_model_type"
    )
    batch_scheduler_policy: SchedulerPolicy = Field(
        "guaranteed_no_evict", description="batch_scheduler_policy"
    )
    waiting_queue_policy: WaitingQueuePolicy = Field(
        "fcfs", description="order of waiting requests: arrival, or priority level then arrival"
    )
    enable_chunked_context: bool = Field(False, description="enable_chunked_context")
    paged_context_fmha: bool = Field(
        False, description="trtllm-build --use_paged_context_fmha; needed by reuse and chunking"
    )
    exclude_input_in_output: bool = Field(True, description="exclude_input_in_output default")
    kv_cache: KvCache = Field(default_factory=KvCache)
    attention_backend: AttentionBackend = Field("TRTLLM", description="llmapi: attn_backend")
    speculative: Speculative = Field(default_factory=Speculative, description="llmapi only")


class Slo(Strict):
    """Service-level objective of the class; None = not part of the objective.

    Per-request thresholds (ttft_ms, itl_ms, e2e_ms) decide goodput: a request is good when it
    meets all of them. The verdict compares the `percentile` of each metric with its threshold,
    and the run's output tokens/s with `min_output_tokens_per_s`.
    """

    percentile: float = Field(95.0, gt=0.0, lt=100.0)
    ttft_ms: float | None = Field(None, gt=0.0, description="time to first token")
    itl_ms: float | None = Field(None, gt=0.0, description="inter-token latency")
    e2e_ms: float | None = Field(None, gt=0.0, description="end-to-end request latency")
    min_output_tokens_per_s: float | None = Field(None, gt=0.0)


class Profile(Strict):
    """One SLA class: the endpoint's batching, queueing, engine and objective."""

    name: str = Field(pattern=SAFE_NAME)
    description: str = ""
    streaming: bool = Field(True, description="tokens stream back; needs decoupled")
    decoupled: bool = Field(True, description="model_transaction_policy.decoupled")
    batching: Batching = Field(default_factory=Batching)
    queue: Queue = Field(default_factory=Queue)
    instances: Instances = Field(default_factory=Instances)
    engine: Engine = Field(default_factory=Engine)
    slo: Slo = Field(default_factory=Slo)


class ModelSource(Strict):
    """Where the model's weights and tokenizer live (paths relative to the deploy file)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    architecture: Literal["gpt2", "llama", "mistral", "qwen2", "gptj", "falcon"] = "gpt2"
    checkpoint: str = Field(description="Hugging Face model folder (weights + config.json)")
    tokenizer: str = Field(description="folder with tokenizer.json (often the checkpoint)")


class Hardware(Strict):
    """The machine one server runs on."""

    gpus: int = Field(0, ge=0, le=64, description="GPUs of the machine; 0 = CPU only")
    gpu_type: str | None = None
    gpu_memory_gb: float | None = Field(None, gt=0.0)
    tensor_parallel: int = Field(1, ge=1, le=64)
    pipeline_parallel: int = Field(1, ge=1, le=64)
    cpu_kv_cache_tokens: int = Field(
        65536, ge=64, description="cpu engine: KV tokens that a fraction of 1.0 stands for"
    )
    blas_threads_per_engine: int = Field(1, ge=1, le=256)


class Server(Strict):
    """Where `tritonsla serve` listens (127.0.0.1 by default)."""

    host: str = Field("127.0.0.1", pattern=r"^[A-Za-z0-9.:-]{1,253}$")
    http_port: int = Field(8000, ge=0, le=65535)
    grpc_port: int = Field(8001, ge=0, le=65535)
    metrics_port: int = Field(8002, ge=0, le=65535)
    replicas: list[str] = Field(
        default_factory=list, description="extra servers (host:grpc_port) serving the same repo"
    )


class SharedEngine(Strict):
    """The one engine of `layout: shared` (Triton model `tensorrt_llm`).

    Every class of the deployment calls it; class i of `profiles` is its priority level i + 1
    (1 = highest), with that class's queue policy on its level. Precision and sequence limits
    come from the classes, which must agree on them; the fields here size the engine.
    """

    max_batch_size: int = Field(ge=1, le=4096, description="in-flight slots of each instance")
    max_num_tokens: int = Field(8192, ge=1, description="tokens of one step")
    batch_scheduler_policy: SchedulerPolicy = Field(
        "max_utilization", description="max_utilization lets priority pause lower classes"
    )
    waiting_queue_policy: WaitingQueuePolicy = Field("priority")
    kv_cache: KvCache = Field(default_factory=KvCache, description="KV cache of each instance")
    instances: int = Field(1, ge=1, le=64, description="instance_group count of tensorrt_llm")


class Budget(Strict):
    """The compute a deployment claims, so that topologies are compared at equal compute.

    Rendering checks the claim against the repository: in-flight slots and KV tokens summed over
    every engine instance. Cores are the CPU cores (or GPUs) all engines may run on.
    """

    cores: int = Field(ge=1, le=4096, description="cores (GPUs on a GPU machine) all engines share")
    inflight_slots: int = Field(ge=1, description="sum of max_batch_size over engine instances")
    kv_tokens: int = Field(ge=1, description="sum of KV-cache tokens over engine instances")


class ClassScaling(Strict):
    """Replica bounds and autoscaling signal of one SLA class on Kubernetes (its HPA)."""

    min_replicas: int = Field(1, ge=1, le=10_000, description="HPA minReplicas")
    max_replicas: int = Field(1, ge=1, le=10_000, description="HPA maxReplicas")
    metric: str | None = Field(
        None, description="custom metric the HPA follows; None = the class's own default signal"
    )
    target: float | None = Field(
        None, gt=0.0, description="per-pod target of the metric; None = derived from the profile"
    )


class Kubernetes(Strict):
    """How `tritonsla render --target k8s` deploys the classes: one Deployment per class."""

    namespace: str = Field("default", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    image: str = Field(min_length=1, description="image with tritonserver and triton-sla")
    gateway_image: str | None = Field(None, description="gateway image; None = `image`")
    node_gpus: int | None = Field(
        None, ge=0, le=64, description="GPUs of one node; None = hardware.gpus"
    )
    multi_node: bool = Field(False, description="tp x pp beyond one node: a LeaderWorkerSet")
    model_claim: str = Field(
        min_length=1, description="PersistentVolumeClaim holding the repository and model"
    )
    mounts: dict[str, str] = Field(
        default_factory=lambda: {"/models": ""},
        description="where the claim is mounted: pod path -> folder in the claim ('' = all); "
        "the repository, engines and model folders must lie below one",
    )
    repository: str = Field(pattern=r"^/", description="the rendered repository in the pod")
    shm_size: str = Field("2Gi", description="size of the /dev/shm memory volume")
    engine_load_s: int = Field(
        600, ge=1, le=86_400, description="startup grace: how long loading the engines may take"
    )
    cpu: str | None = Field(None, description="CPU request of a server pod, e.g. '8'")
    memory: str | None = Field(None, description="memory request of a server pod, e.g. '64Gi'")
    scaling: dict[str, ClassScaling] = Field(
        default_factory=dict, description="per-class replica bounds and signal"
    )
    inference_extension: bool = Field(
        False, description="also write Gateway API Inference Extension objects"
    )


class Deploy(Strict):
    """A deployment: model, engine kind, machine, and which profiles it serves."""

    name: str = Field(pattern=SAFE_NAME)
    description: str = ""
    engine_kind: EngineKind = "cpu"
    model: ModelSource
    hardware: Hardware = Field(default_factory=Hardware)
    server: Server = Field(default_factory=Server)
    profiles: list[str] = Field(min_length=1)
    profiles_dir: str = Field("../profiles", description="relative to the deploy file")
    engines_dir: str = Field("../engines", description="trt-engine: engines/<profile>/")
    layout: Layout = Field(
        "single",
        description="one repository with an engine per profile, one repository per profile, "
        "or one repository whose profiles share one engine by priority (shared_engine)",
    )
    shared_engine: SharedEngine | None = Field(None, description="the engine of layout shared")
    budget: Budget | None = Field(None, description="the compute claimed for comparisons")
    overrides: dict[str, dict] = Field(
        default_factory=dict, description="per-profile values that replace the profile's"
    )
    kubernetes: Kubernetes | None = Field(
        None, description="`render --target k8s`: image, volumes, replica bounds per class"
    )
