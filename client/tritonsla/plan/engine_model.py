"""An in-flight batching engine as the simulation runs it, fitted to one class's measurements.

Every step of the engine gives each running sequence one token and takes
`step_ms + per_seq_ms x running + prefill_ms_per_token x prompt tokens admitted in the step`
(TensorRT-LLM's in-flight batching: new requests' context phase joins the step, chunking aside);
`delay_ms` is pipeline time before the engine that does not occupy it. The fit uses closed-loop
runs of the class alone, served as the class is served:

- streamed classes, at concurrency 1 and a higher n: at 1 nothing overlaps, so the mean
  inter-token latency is one step of one sequence, s1 = step + per_seq, and the time to first
  token beyond it is the prompt's cost P (pipeline overhead included; no delay). At n, each of
  the other n - 1 requests' prompts joins one step per answer of `out` tokens:
  ITL(n) = step + per_seq x n + P x (n - 1) / out.
- classes answered whole (not streamed) only show end-to-end times, so one streamed request at
  a time (`--stream always`, concurrency 1) gives P, taken as a delay: many prompts are admitted
  together into one step, where their cost overlaps instead of adding up. Then
  E(1) = P + out x s1 and E(n) = P + out x (step + per_seq x n).
"""

from __future__ import annotations

from dataclasses import dataclass

from tritonsla.plan.measurements import ClassRun


class CalibrationError(ValueError):
    """The runs cannot fit an engine model; the message says which runs are needed."""


@dataclass(frozen=True)
class EngineModel:
    """Step times of one engine instance of a class (milliseconds), its slots and the pipeline
    delay before it."""

    slots: int
    step_ms: float
    per_seq_ms: float
    prefill_ms_per_token: float
    delay_ms: float = 0.0

    def step(self, running: int, prompt_tokens: float) -> float:
        """Milliseconds of one step with `running` sequences, admitting `prompt_tokens`."""
        return self.step_ms + self.per_seq_ms * running + self.prefill_ms_per_token * prompt_tokens


def _closed(runs: list[ClassRun], streamed: bool) -> dict[int, ClassRun]:
    return {int(r.value): r for r in runs if r.kind == "concurrent" and r.streamed == streamed}


def _need(streamed: bool, slots: int) -> str:
    how = "" if streamed else " (as served, not streamed; plus --stream always at concurrency 1)"
    return (
        f"needs closed-loop runs of the class alone at concurrency 1 and one higher{how}; run "
        f"e.g. `tritonsla bench --mix <class>=1 --load concurrent@1 --load concurrent@{slots}`"
    )


def _value(run: ClassRun, metric: str) -> float:
    value = run.stat(metric, "mean")
    if value is None:
        raise CalibrationError(f"run {run.load} has no {metric}")
    return value


def calibrate(runs: list[ClassRun], slots: int, *, streamed: bool = True) -> EngineModel:
    """Fit the model from the class's closed-loop runs (see the module docstring)."""
    streams = _closed(runs, True)
    closed = streams if streamed else _closed(runs, False)
    if 1 not in closed or len(closed) < 2 or 1 not in streams:
        raise CalibrationError(_need(streamed, slots))
    one, many = closed[1], closed[max(closed)]
    n = int(many.value)
    out = max(many.output_tokens, 1.0)
    prompt_cost = max(_value(streams[1], "ttft_ms") - _value(streams[1], "itl_ms"), 0.0)
    if streamed:
        s1 = _value(one, "itl_ms")
        sn = _value(many, "itl_ms") - prompt_cost * (n - 1) / out
        per_seq = max((sn - s1) / (n - 1), 0.0)
        prefill = prompt_cost / max(one.input_tokens, 1.0)
        return EngineModel(slots, max(s1 - per_seq, 0.1), per_seq, prefill)
    s1 = (_value(one, "e2e_ms") - prompt_cost) / max(one.output_tokens, 1.0)
    sn = (_value(many, "e2e_ms") - prompt_cost) / out
    per_seq = max((sn - s1) / (n - 1), 0.0)
    return EngineModel(slots, max(s1 - per_seq, 0.1), per_seq, 0.0, prompt_cost)
