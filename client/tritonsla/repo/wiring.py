"""Ensemble wiring check on the parsed configs: every mapped tensor exists, types and shapes agree.

Works on ModelConfig protobuf messages (what Triton will read), not on the contract tables, so
it also catches a template that drifted from the contract.
"""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc

from tritonsla.errors import RenderError


def _type_name(value: int) -> str:
    return mc.DataType.Name(value)


def _effective_dims(tensor: mc.ModelInput | mc.ModelOutput) -> tuple[int, ...]:
    return tuple(tensor.dims)


def _dims_compatible(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    if len(a) != len(b):
        return False
    return all(x == y or x == -1 or y == -1 for x, y in zip(a, b, strict=True))


def check_ensemble(ensemble: mc.ModelConfig, models: dict[str, mc.ModelConfig]) -> list[str]:
    """Problems of `ensemble`'s steps against the composing `models`; empty when wired right."""
    problems: list[str] = []
    tensors: dict[str, tuple[int, tuple[int, ...], str]] = {
        t.name: (t.data_type, _effective_dims(t), "ensemble input") for t in ensemble.input
    }
    consumed: set[str] = set()
    # Triton's decoupled rule: each tensor is labelled with the decoupled model it last came
    # through ("" for the ensemble's inputs), and one step may read only one label.
    origin: dict[str, str] = dict.fromkeys(tensors, "")
    for step in ensemble.ensemble_scheduling.step:
        model = models.get(step.model_name)
        where = f"{ensemble.name} step {step.model_name}"
        if model is None:
            problems.append(f"{where}: model {step.model_name!r} is not in the repository")
            continue
        labels = {origin[value] for value in step.input_map.values() if value in origin}
        if len(labels) > 1:
            named = ", ".join(repr(label or "the ensemble's inputs") for label in sorted(labels))
            problems.append(
                f"{where}: reads tensors that come from different decoupled models ({named}); "
                "Triton refuses that, so pass them through one model"
            )
        label = (
            step.model_name if model.model_transaction_policy.decoupled else min(labels, default="")
        )
        inputs = {t.name: t for t in model.input}
        for key, value in step.input_map.items():
            target = inputs.get(key)
            if target is None:
                problems.append(f"{where}: input_map key {key!r} is not an input of the model")
                continue
            source = tensors.get(value)
            if source is None:
                problems.append(f"{where}: input {key!r} reads {value!r}, produced by no step")
                continue
            consumed.add(value)
            if source[0] != target.data_type:
                problems.append(
                    f"{where}: {value!r} is {_type_name(source[0])} ({source[2]}) but "
                    f"{key!r} wants {_type_name(target.data_type)}"
                )
            if not _dims_compatible(source[1], _effective_dims(target)):
                problems.append(
                    f"{where}: {value!r} has dims {list(source[1])} ({source[2]}) but {key!r} "
                    f"wants {list(target.dims)}"
                )
        for name, tensor in inputs.items():
            if not tensor.optional and name not in step.input_map:
                problems.append(f"{where}: required input {name!r} is not mapped")
        outputs = {t.name: t for t in model.output}
        for key, value in step.output_map.items():
            produced = outputs.get(key)
            if produced is None:
                problems.append(f"{where}: output_map key {key!r} is not an output of the model")
                continue
            tensors[value] = (produced.data_type, _effective_dims(produced), step.model_name)
            origin[value] = label
    for output in ensemble.output:
        source = tensors.get(output.name)
        if source is None:
            problems.append(f"{ensemble.name}: output {output.name!r} is produced by no step")
        elif source[0] != output.data_type:
            problems.append(
                f"{ensemble.name}: output {output.name!r} is {_type_name(output.data_type)} but "
                f"{source[2]} produces {_type_name(source[0])}"
            )
    for model in models.values():
        if model.max_batch_size < ensemble.max_batch_size and any(
            s.model_name == model.name for s in ensemble.ensemble_scheduling.step
        ):
            problems.append(
                f"{ensemble.name}: max_batch_size {ensemble.max_batch_size} exceeds composing "
                f"model {model.name}'s {model.max_batch_size}"
            )
    return problems


def check_wiring(configs: dict[str, mc.ModelConfig]) -> None:
    """Raise RenderError listing every wiring problem of every ensemble in `configs`."""
    problems: list[str] = []
    for config in configs.values():
        if config.platform == "ensemble":
            problems.extend(check_ensemble(config, configs))
    if problems:
        raise RenderError("ensemble wiring is broken:\n" + "\n".join(f"- {p}" for p in problems))
