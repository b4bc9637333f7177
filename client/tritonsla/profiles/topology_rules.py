"""Rules of the topology: a shared engine's classes agree, and the stated budget is the real one.

Pure functions of the loaded Deployment returning ConfigErrors that name the file, the field and
the fix, like every other rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from tritonsla.errors import ConfigError
from tritonsla.profiles.loading import Deployment, display_path
from tritonsla.profiles.topology import (
    SHARED_ENGINE_KNOBS,
    compute_budget,
    cpu_kv_tokens,
    is_shared,
    shared_engine_profile,
)

MAX_PRIORITY_LEVELS = 16
"""Classes a shared engine can order: Triton's priority levels as the profile schema bounds them."""


def shared_layout_rules(dep: Deployment) -> Iterator[ConfigError]:
    """layout shared and shared_engine go together; one engine has one of each engine knob."""
    d = dep.deploy
    file = display_path(dep.deploy_file)
    if not is_shared(dep):
        if d.shared_engine is not None:
            yield ConfigError(
                file,
                "shared_engine",
                f"is set but layout is {d.layout!r}, which gives each class its own engine",
                "set `layout: shared`, or remove shared_engine",
            )
        return
    if d.shared_engine is None:
        yield ConfigError(
            file,
            "shared_engine",
            "layout shared needs the shared engine's size",
            "add e.g. `shared_engine: {max_batch_size: 32}`",
        )
        return
    if d.engine_kind == "trt-engine":
        yield ConfigError(
            file,
            "layout",
            "layout shared is not built for engine_kind trt-engine (build.sh compiles one engine "
            "per profile)",
            "use engine_kind cpu or llmapi, or layout single",
        )
    if len(dep.profiles) > MAX_PRIORITY_LEVELS:
        yield ConfigError(
            file,
            "profiles",
            f"{len(dep.profiles)} classes, but a shared engine has at most "
            f"{MAX_PRIORITY_LEVELS} priority levels",
            "serve fewer classes on the shared engine",
        )
        return
    yield from _agreement_rules(dep)
    yield from _shared_engine_size_rules(dep, file)


def _agreement_rules(dep: Deployment) -> Iterator[ConfigError]:
    """One error per engine knob the classes disagree on, at the class that strays from the most
    common value (the first such class when there is a tie)."""
    for knob in SHARED_ENGINE_KNOBS:
        values = {name: getattr(p.engine, knob) for name, p in dep.profiles.items()}
        counts = Counter(values.values())
        if len(counts) == 1:
            continue
        common = counts.most_common(1)[0][0]
        stray = next(name for name, value in values.items() if value != common)
        shown = ", ".join(f"{name} {value!r}" for name, value in values.items())
        file, field = dep.locate(stray, f"engine.{knob}")
        yield ConfigError(
            file,
            field,
            f"classes differ ({shown}) but the shared engine has one {knob}",
            f"give every class of the shared engine the same engine.{knob} (e.g. {common!r}), "
            "or use layout single",
        )
    for name, profile in dep.profiles.items():
        if not profile.decoupled:
            file, field = dep.locate(name, "decoupled")
            yield ConfigError(
                file, field, "is false but the shared engine streams", "set decoupled: true"
            )


def _shared_engine_size_rules(dep: Deployment, file: str) -> Iterator[ConfigError]:
    engine = shared_engine_profile(dep).engine
    if not engine.enable_chunked_context and engine.max_num_tokens < engine.max_input_len:
        yield ConfigError(
            file,
            "shared_engine.max_num_tokens",
            f"{engine.max_num_tokens} < max_input_len {engine.max_input_len} and chunked context "
            "is off",
            "raise shared_engine.max_num_tokens or enable engine.enable_chunked_context",
        )
    if dep.deploy.engine_kind == "cpu":
        kv_tokens = cpu_kv_tokens(dep, shared_engine_profile(dep))
        if kv_tokens < engine.max_seq_len:
            yield ConfigError(
                file,
                "shared_engine.kv_cache",
                f"gives {kv_tokens} KV tokens, fewer than max_seq_len {engine.max_seq_len}",
                "raise shared_engine.kv_cache.max_tokens or free_gpu_mem_fraction",
            )


def budget_rules(dep: Deployment) -> Iterator[ConfigError]:
    """The budget a deploy file states matches what its engines add up to."""
    stated = dep.deploy.budget
    if stated is None:
        return
    file = display_path(dep.deploy_file)
    actual = compute_budget(dep)
    for field, claimed, real, how in (
        (
            "inflight_slots",
            stated.inflight_slots,
            actual.inflight_slots,
            "the sum of max_batch_size x tensorrt_llm instances over engines",
        ),
        (
            "kv_tokens",
            stated.kv_tokens,
            actual.kv_tokens,
            "the sum of KV-cache tokens x tensorrt_llm instances over engines",
        ),
    ):
        if claimed != real:
            yield ConfigError(
                file,
                f"budget.{field}",
                f"states {claimed} but the engines have {real} ({how})",
                f"state {real}, or resize the engines to {claimed}",
            )


def topology_rules(dep: Deployment) -> list[ConfigError]:
    """Every topology problem; the budget is checked only once the topology itself is sound."""
    found = list(shared_layout_rules(dep))
    if not found:
        found.extend(budget_rules(dep))
    return found
