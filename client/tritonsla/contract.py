"""The client-facing I/O contract of the inflight_batcher_llm layout, as data.

Tensor names, types and shapes follow TensorRT-LLM's Triton models
(triton_backend/all_models/inflight_batcher_llm/*/config.pbtxt, formerly tensorrtllm_backend):
genai-perf, Triton's HTTP generate endpoint and other standard clients depend on them. Templates,
the ensemble wiring check, the Python models and the client SDK all read these tables, so the
contract is written once. Every engine kind (trt-engine, llmapi, cpu) serves the same contract.
Names are those of the TensorRT-LLM line pinned for trt-engine (1.2.x): the seed and the minimum
output length are `seed` and `min_tokens`, on the ensemble, the BLS and the engine alike; the
C++ backend reads no other name for them (tensorrtllm_backend v0.19 and older called them
`random_seed` and `min_length`). docs/upstream-facts.md gives the sources.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model: mirrors ModelInput/ModelOutput in model_config.proto."""

    name: str
    data_type: str
    dims: tuple[int, ...]
    optional: bool = False
    reshape: tuple[int, ...] | None = None


def _req(
    name: str, data_type: str, *dims: int, reshape: tuple[int, ...] | None = None
) -> TensorSpec:
    return TensorSpec(name, data_type, dims, optional=False, reshape=reshape)


def _opt(
    name: str, data_type: str, *dims: int, reshape: tuple[int, ...] | None = None
) -> TensorSpec:
    return TensorSpec(name, data_type, dims, optional=True, reshape=reshape)


_SCALAR = ()  # reshape target of per-request scalars in the tensorrt_llm model

# --- ensemble and BLS: what clients send and receive --------------------------------------------
ENSEMBLE_INPUTS: tuple[TensorSpec, ...] = (
    _req("text_input", "TYPE_STRING", 1),
    _req("max_tokens", "TYPE_INT32", 1),
    _opt("bad_words", "TYPE_STRING", -1),
    _opt("stop_words", "TYPE_STRING", -1),
    _opt("end_id", "TYPE_INT32", 1),
    _opt("pad_id", "TYPE_INT32", 1),
    _opt("top_k", "TYPE_INT32", 1),
    _opt("top_p", "TYPE_FP32", 1),
    _opt("temperature", "TYPE_FP32", 1),
    _opt("length_penalty", "TYPE_FP32", 1),
    _opt("repetition_penalty", "TYPE_FP32", 1),
    _opt("min_tokens", "TYPE_INT32", 1),
    _opt("presence_penalty", "TYPE_FP32", 1),
    _opt("frequency_penalty", "TYPE_FP32", 1),
    _opt("seed", "TYPE_UINT64", 1),
    _opt("return_log_probs", "TYPE_BOOL", 1),
    _opt("beam_width", "TYPE_INT32", 1),
    _opt("stream", "TYPE_BOOL", 1),
    _opt("exclude_input_in_output", "TYPE_BOOL", 1),
)
ENSEMBLE_OUTPUTS: tuple[TensorSpec, ...] = (
    _req("text_output", "TYPE_STRING", -1),
    _req("cum_log_probs", "TYPE_FP32", -1),
    _req("output_log_probs", "TYPE_FP32", -1, -1),
)

# --- preprocessing: text -> token ids ------------------------------------------------------------
PREPROCESSING_INPUTS: tuple[TensorSpec, ...] = (
    _req("QUERY", "TYPE_STRING", 1),
    _req("REQUEST_OUTPUT_LEN", "TYPE_INT32", 1),
    _opt("BAD_WORDS_DICT", "TYPE_STRING", -1),
    _opt("STOP_WORDS_DICT", "TYPE_STRING", -1),
    _opt("END_ID", "TYPE_INT32", 1),
    _opt("PAD_ID", "TYPE_INT32", 1),
)
PREPROCESSING_OUTPUTS: tuple[TensorSpec, ...] = (
    _req("INPUT_ID", "TYPE_INT32", -1),
    _req("REQUEST_INPUT_LEN", "TYPE_INT32", 1),
    _req("BAD_WORDS_IDS", "TYPE_INT32", 2, -1),
    _req("STOP_WORDS_IDS", "TYPE_INT32", 2, -1),
    _req("REQUEST_OUTPUT_LEN", "TYPE_INT32", -1),
    _req("OUT_END_ID", "TYPE_INT32", 1),
    _req("OUT_PAD_ID", "TYPE_INT32", 1),
    # The class's priority level on a shared engine (0 when the class has its own engine).
    _req("OUT_PRIORITY", "TYPE_INT32", 1),
    # A key made per request: see STREAM_KEY_ENGINE_INPUTS.
    _req("OUT_STREAM_KEY", "TYPE_STRING", 1),
)

# --- tensorrt_llm: the engine --------------------------------------------------------------------
TENSORRT_LLM_INPUTS: tuple[TensorSpec, ...] = (
    _req("input_ids", "TYPE_INT32", -1),
    _req("input_lengths", "TYPE_INT32", 1, reshape=_SCALAR),
    _req("request_output_len", "TYPE_INT32", 1, reshape=_SCALAR),
    _opt("end_id", "TYPE_INT32", 1, reshape=_SCALAR),
    _opt("pad_id", "TYPE_INT32", 1, reshape=_SCALAR),
    _opt("stop_words_list", "TYPE_INT32", 2, -1),
    _opt("bad_words_list", "TYPE_INT32", 2, -1),
    _opt("beam_width", "TYPE_INT32", 1, reshape=_SCALAR),
    _opt("temperature", "TYPE_FP32", 1, reshape=_SCALAR),
    _opt("runtime_top_k", "TYPE_INT32", 1, reshape=_SCALAR),
    _opt("runtime_top_p", "TYPE_FP32", 1, reshape=_SCALAR),
    _opt("len_penalty", "TYPE_FP32", 1, reshape=_SCALAR),
    _opt("repetition_penalty", "TYPE_FP32", 1, reshape=_SCALAR),
    _opt("min_tokens", "TYPE_INT32", 1, reshape=_SCALAR),
    _opt("presence_penalty", "TYPE_FP32", 1, reshape=_SCALAR),
    _opt("frequency_penalty", "TYPE_FP32", 1, reshape=_SCALAR),
    _opt("seed", "TYPE_UINT64", 1, reshape=_SCALAR),
    _opt("return_log_probs", "TYPE_BOOL", 1, reshape=_SCALAR),
    _opt("streaming", "TYPE_BOOL", 1),
    _opt("exclude_input_in_output", "TYPE_BOOL", 1, reshape=_SCALAR),
    # TensorRT-LLM's cancel: a request whose `stop` is true ends the live request that has the
    # same Triton request id (the BLS sends it when its client cancels).
    _opt("stop", "TYPE_BOOL", 1, reshape=_SCALAR),
    # The request's priority level in the engine's waiting queue, as Triton numbers levels: 1 is
    # the highest, 0 or absent means the model's default_priority_level. A Python model cannot
    # read Triton's request priority, so preprocessing and the BLS pass it as a tensor.
    _opt("priority", "TYPE_INT32", 1, reshape=_SCALAR),
)
TENSORRT_LLM_OUTPUTS: tuple[TensorSpec, ...] = (
    _req("output_ids", "TYPE_INT32", -1, -1),
    _req("sequence_length", "TYPE_INT32", -1),
    _req("cum_log_probs", "TYPE_FP32", -1),
    _req("output_log_probs", "TYPE_FP32", -1, -1),
)

# --- the stream key: what our Python engines (kinds cpu and llmapi) add to the contract ----------
# Postprocessing keeps streaming UTF-8 state between the responses of one request, so it needs a
# key no client chooses: preprocessing makes one per request, the engine echoes it on every
# response with `is_final`, and postprocessing keys its state on it and frees it on the final
# response. The key has to travel through the engine because Triton refuses an ensemble step
# whose inputs come from a decoupled model and from elsewhere. TensorRT-LLM's C++ backend knows
# none of these tensors, so `trt-engine` ensembles go without them (use the BLS to stream there).
STREAM_KEY_ENGINE_INPUTS: tuple[TensorSpec, ...] = (_opt("stream_key", "TYPE_STRING", 1),)
STREAM_KEY_ENGINE_OUTPUTS: tuple[TensorSpec, ...] = (
    _req("stream_key", "TYPE_STRING", 1),
    _req("is_final", "TYPE_BOOL", 1),
)

# --- postprocessing: token ids -> text -----------------------------------------------------------
POSTPROCESSING_INPUTS: tuple[TensorSpec, ...] = (
    _req("TOKENS_BATCH", "TYPE_INT32", -1, -1),
    _req("SEQUENCE_LENGTH", "TYPE_INT32", -1),
    _opt("CUM_LOG_PROBS", "TYPE_FP32", -1),
    _opt("OUTPUT_LOG_PROBS", "TYPE_FP32", -1, -1),
    _opt("STREAM_KEY", "TYPE_STRING", 1),
    _opt("IS_FINAL", "TYPE_BOOL", 1),
)
POSTPROCESSING_OUTPUTS: tuple[TensorSpec, ...] = (
    _req("OUTPUT", "TYPE_STRING", -1),
    _req("OUT_CUM_LOG_PROBS", "TYPE_FP32", -1),
    _req("OUT_OUTPUT_LOG_PROBS", "TYPE_FP32", -1, -1),
)


@dataclass(frozen=True)
class EnsembleStep:
    """One step of the ensemble: the composing model's role and its tensor mappings.

    `input_map` maps the composing model's input name to an ensemble tensor name, `output_map`
    maps its output name to an ensemble tensor name (as ensemble_scheduling.step in the proto).
    """

    role: str
    input_map: tuple[tuple[str, str], ...]
    output_map: tuple[tuple[str, str], ...]


ENSEMBLE_STEPS: tuple[EnsembleStep, ...] = (
    EnsembleStep(
        "preprocessing",
        input_map=(
            ("QUERY", "text_input"),
            ("REQUEST_OUTPUT_LEN", "max_tokens"),
            ("BAD_WORDS_DICT", "bad_words"),
            ("STOP_WORDS_DICT", "stop_words"),
            ("END_ID", "end_id"),
            ("PAD_ID", "pad_id"),
        ),
        output_map=(
            ("INPUT_ID", "_INPUT_ID"),
            ("REQUEST_INPUT_LEN", "_REQUEST_INPUT_LEN"),
            ("BAD_WORDS_IDS", "_BAD_WORDS_IDS"),
            ("STOP_WORDS_IDS", "_STOP_WORDS_IDS"),
            ("REQUEST_OUTPUT_LEN", "_REQUEST_OUTPUT_LEN"),
            ("OUT_END_ID", "_PREPROCESSOR_END_ID"),
            ("OUT_PAD_ID", "_PREPROCESSOR_PAD_ID"),
            ("OUT_PRIORITY", "_PRIORITY"),
        ),
    ),
    EnsembleStep(
        "tensorrt_llm",
        input_map=(
            ("input_ids", "_INPUT_ID"),
            ("input_lengths", "_REQUEST_INPUT_LEN"),
            ("request_output_len", "_REQUEST_OUTPUT_LEN"),
            ("end_id", "_PREPROCESSOR_END_ID"),
            ("pad_id", "_PREPROCESSOR_PAD_ID"),
            ("stop_words_list", "_STOP_WORDS_IDS"),
            ("bad_words_list", "_BAD_WORDS_IDS"),
            ("beam_width", "beam_width"),
            ("temperature", "temperature"),
            ("runtime_top_k", "top_k"),
            ("runtime_top_p", "top_p"),
            ("len_penalty", "length_penalty"),
            ("repetition_penalty", "repetition_penalty"),
            ("min_tokens", "min_tokens"),
            ("presence_penalty", "presence_penalty"),
            ("frequency_penalty", "frequency_penalty"),
            ("seed", "seed"),
            ("return_log_probs", "return_log_probs"),
            ("streaming", "stream"),
            ("exclude_input_in_output", "exclude_input_in_output"),
            ("priority", "_PRIORITY"),
        ),
        output_map=(
            ("output_ids", "_TOKENS_BATCH"),
            ("sequence_length", "_SEQUENCE_LENGTH"),
            ("cum_log_probs", "_CUM_LOG_PROBS"),
            ("output_log_probs", "_OUTPUT_LOG_PROBS"),
        ),
    ),
    EnsembleStep(
        "postprocessing",
        input_map=(
            ("TOKENS_BATCH", "_TOKENS_BATCH"),
            ("SEQUENCE_LENGTH", "_SEQUENCE_LENGTH"),
            ("CUM_LOG_PROBS", "_CUM_LOG_PROBS"),
            ("OUTPUT_LOG_PROBS", "_OUTPUT_LOG_PROBS"),
        ),
        output_map=(
            ("OUTPUT", "text_output"),
            ("OUT_CUM_LOG_PROBS", "cum_log_probs"),
            ("OUT_OUTPUT_LOG_PROBS", "output_log_probs"),
        ),
    ),
)

_STREAM_KEY_MAPS: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "preprocessing": ((), (("OUT_STREAM_KEY", "_STREAM_KEY"),)),
    "tensorrt_llm": (
        (("stream_key", "_STREAM_KEY"),),
        (("stream_key", "_ENGINE_STREAM_KEY"), ("is_final", "_IS_FINAL")),
    ),
    "postprocessing": ((("STREAM_KEY", "_ENGINE_STREAM_KEY"), ("IS_FINAL", "_IS_FINAL")), ()),
}


def ensemble_steps(stream_keys: bool) -> tuple[EnsembleStep, ...]:
    """The ensemble's steps, with the stream key wired through the engine when it carries one."""
    if not stream_keys:
        return ENSEMBLE_STEPS
    return tuple(
        EnsembleStep(
            step.role,
            step.input_map + _STREAM_KEY_MAPS[step.role][0],
            step.output_map + _STREAM_KEY_MAPS[step.role][1],
        )
        for step in ENSEMBLE_STEPS
    )


MODEL_ROLES: tuple[str, ...] = (
    "preprocessing",
    "tensorrt_llm",
    "postprocessing",
    "ensemble",
    "tensorrt_llm_bls",
)


def model_name(profile: str, role: str) -> str:
    """The Triton model name of `role` in `profile`'s endpoint, e.g. `realtime_ensemble`."""
    return f"{profile}_{role}"
