"""Which engines a deployment runs, and the compute they add up to (pure).

Three topologies serve the same classes:
- dedicated (`layout: single` or `per-profile` with several classes): one engine per class,
  `<class>_tensorrt_llm`, each sized and compiled for its class;
- shared (`layout: shared`): one engine, `tensorrt_llm`, that every class calls; class i of
  `profiles` is its priority level i + 1 (1 = highest), with the class's queue policy there;
- single: one class (typically `general`) with no priorities, the naive baseline.

Rendering, the endpoint table and the demo's compute-parity table all read `engine_models` and
`compute_budget`, so what is rendered, what is routed and what is compared agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from tritonsla.contract import model_name
from tritonsla.errors import ConfigError
from tritonsla.profiles.loading import Deployment, display_path
from tritonsla.profiles.schema import Batching, Instances, Profile, Queue

SHARED_ENGINE_MODEL = "tensorrt_llm"
"""Triton model name of the shared engine (TensorRT-LLM's own name for its engine model)."""

SHARED_ENGINE_KNOBS: tuple[str, ...] = (
    "precision",
    "max_input_len",
    "max_seq_len",
    "max_beam_width",
    "batching_strategy",
    "enable_chunked_context",
    "paged_context_fmha",
    "exclude_input_in_output",
)
"""Engine fields one engine has one value of: every class of a shared engine must agree."""


@dataclass(frozen=True)
class EngineModel:
    """One `tensorrt_llm` model of the repository and the classes that call it.

    `profile` holds the knobs its config is rendered from: the class's own profile for a
    dedicated engine, a profile made from `shared_engine` for the shared one. `level_queues`
    pairs each priority level with the queue policy of the class on it (shared engine only).
    """

    model: str
    profile: Profile
    classes: tuple[str, ...]
    level_queues: tuple[tuple[int, Queue], ...] = ()


def cpu_kv_tokens(dep: Deployment, p: Profile) -> int:
    """KV capacity of a cpu engine: explicit max_tokens, else its share of the CPU budget."""
    if p.engine.kv_cache.max_tokens is not None:
        return p.engine.kv_cache.max_tokens
    budget = dep.deploy.hardware.cpu_kv_cache_tokens
    return int(budget * p.engine.kv_cache.free_gpu_mem_fraction)


def is_shared(dep: Deployment) -> bool:
    """Whether every class calls one engine."""
    return dep.deploy.layout == "shared"


def engine_model_of(dep: Deployment, sla: str) -> str:
    """The Triton model that runs `sla`'s requests."""
    return SHARED_ENGINE_MODEL if is_shared(dep) else model_name(sla, "tensorrt_llm")


def engine_priority_level(dep: Deployment, sla: str) -> int:
    """`sla`'s priority level on the shared engine (1 = highest); 0 when it has its own."""
    return list(dep.profiles).index(sla) + 1 if is_shared(dep) else 0


def shared_engine_profile(dep: Deployment) -> Profile:
    """The shared engine's knobs: the first class's agreed engine fields, sized by shared_engine.

    Raises ConfigError without `shared_engine` (the rules report that too, with the others).
    """
    shared = dep.deploy.shared_engine
    if shared is None:
        raise ConfigError(
            display_path(dep.deploy_file),
            "shared_engine",
            "layout shared needs the shared engine's size",
            "add e.g. `shared_engine: {max_batch_size: 32}`",
        )
    first = next(iter(dep.profiles.values()))
    levels = len(dep.profiles)
    engine = first.engine.model_copy(
        update={
            "max_num_tokens": shared.max_num_tokens,
            "batch_scheduler_policy": shared.batch_scheduler_policy,
            "waiting_queue_policy": shared.waiting_queue_policy,
            "kv_cache": shared.kv_cache,
        }
    )
    return Profile(
        name="shared",
        description=f"One engine for {', '.join(dep.profiles)}, by priority.",
        streaming=True,
        decoupled=True,
        batching=Batching(max_batch_size=shared.max_batch_size),
        queue=Queue(priority_levels=levels, default_priority_level=levels),
        instances=Instances(tensorrt_llm=shared.instances),
        engine=engine,
    )


def engine_models(dep: Deployment) -> tuple[EngineModel, ...]:
    """Every engine model the deployment renders, in a stable order."""
    if not is_shared(dep):
        return tuple(
            EngineModel(model_name(sla, "tensorrt_llm"), profile, (sla,))
            for sla, profile in dep.profiles.items()
        )
    level_queues = tuple(
        (engine_priority_level(dep, sla), profile.queue) for sla, profile in dep.profiles.items()
    )
    return (
        EngineModel(
            SHARED_ENGINE_MODEL, shared_engine_profile(dep), tuple(dep.profiles), level_queues
        ),
    )


@dataclass(frozen=True)
class ComputeBudget:
    """The compute a deployment's engines use, summed over engine instances."""

    cores: int | None
    engine_instances: int
    blas_threads_per_engine: int
    inflight_slots: int
    kv_tokens: int

    @property
    def engine_threads(self) -> int:
        """Engine instances x BLAS threads: how many threads compute at once at most."""
        return self.engine_instances * self.blas_threads_per_engine


def compute_budget(dep: Deployment) -> ComputeBudget:
    """What the rendered engines add up to (cores as the deploy file's budget states them)."""
    engines = engine_models(dep)
    instances = [e.profile.instances.tensorrt_llm for e in engines]
    budget = dep.deploy.budget
    return ComputeBudget(
        cores=budget.cores if budget else None,
        engine_instances=sum(instances),
        blas_threads_per_engine=dep.deploy.hardware.blas_threads_per_engine,
        inflight_slots=sum(
            n * e.profile.batching.max_batch_size for n, e in zip(instances, engines, strict=True)
        ),
        kv_tokens=sum(
            n * cpu_kv_tokens(dep, e.profile) for n, e in zip(instances, engines, strict=True)
        ),
    )
