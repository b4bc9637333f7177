"""Triton Python model `<profile>_tensorrt_llm_bls` (decoupled): the ensemble's twin in BLS.

Thin adapter over tritonsla.bls.core.generate. Config parameters: `tokenizer_dir` (as for
preprocessing), `preprocessing_model` and `tensorrt_llm_model` (default `<profile>_<role>`).
`postprocessing_model` is not called: the BLS detokenizes the whole stream itself. The client's
request id and timeout go on to the inner requests, and a client's cancellation reaches the
engine as TensorRT-LLM's `stop` request for that id; priority cannot (Triton 2.51's Python
backend has no priority API), so it acts in this model's own queue: each instance streams up to
max_batch_size requests on worker threads and `execute` blocks while all slots are busy.
"""

import json
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import triton_python_backend_utils as pb_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".tritonsla.zip"))  # bundled tritonsla

from tritonsla.bls.core import (
    BlsModels,
    CancelWatcher,
    ClientRequest,
    InnerModelError,
    RequestCancelled,
    generate,
    stop_request,
)
from tritonsla.contract import ENSEMBLE_INPUTS, model_name
from tritonsla.errors import ConfigError
from tritonsla.paths import model_config_parameter
from tritonsla.text.tokenizer import load_model_tokenizer

FINAL = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL


class TritonPythonModel:
    """Streams each request on a worker thread, through the request's response sender."""

    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.name = config["name"]
        if not pb_utils.using_decoupled_model_transaction_policy(config):
            raise ConfigError(
                f"{self.name}/config.pbtxt",
                "model_transaction_policy.decoupled",
                "is false",
                "set it to true: the BLS model sends one response per streamed chunk",
            )
        self.tokenizer = load_model_tokenizer(args)
        profile = self.name.removesuffix("_tensorrt_llm_bls")
        self.models = BlsModels(
            *(
                model_config_parameter(config, f"{role}_model", model_name(profile, role))
                for role in ("preprocessing", "tensorrt_llm")
            )
        )
        slots = max(1, config.get("max_batch_size", 1))
        self.free = threading.BoundedSemaphore(slots)
        self.pool = ThreadPoolExecutor(max_workers=slots)

    def execute(self, requests):
        for request in requests:
            self.free.acquire()
            self.pool.submit(self._serve, request)

    def finalize(self):
        self.pool.shutdown()

    def _serve(self, request):
        sender = request.get_response_sender()
        try:
            inputs = {}
            for spec in ENSEMBLE_INPUTS:
                tensor = pb_utils.get_input_tensor_by_name(request, spec.name)
                if tensor is not None:
                    inputs[spec.name] = tensor.as_numpy()
            # the engine request needs an id of its own so that a `stop` can name it
            engine_id = request.request_id() or uuid.uuid4().hex
            client = ClientRequest(inputs, engine_id, request.timeout())
            stop = partial(_drain, stop_request(self.models, engine_id))
            with CancelWatcher(sender.is_cancelled, stop):
                chunks = generate(self.models, client, _infer, self.tokenizer, sender.is_cancelled)
                for outputs in chunks:
                    tensors = [pb_utils.Tensor(name, value) for name, value in outputs.items()]
                    sender.send(pb_utils.InferenceResponse(output_tensors=tensors))
            sender.send(flags=FINAL)
        except RequestCancelled as exc:
            error = pb_utils.TritonError(f"{self.name}: {exc}", pb_utils.TritonError.CANCELLED)
            sender.send(pb_utils.InferenceResponse(error=error), flags=FINAL)
        except Exception as exc:
            error = pb_utils.TritonError(f"{self.name}: {exc}")
            sender.send(pb_utils.InferenceResponse(error=error), flags=FINAL)
        finally:
            self.free.release()


def _drain(inner):
    """Run an inner request for its effect (the engine's `stop`), reading every response."""
    for _ in _infer(inner):
        pass


def _infer(inner):
    """tritonsla.bls.core.Infer over pb_utils.InferenceRequest."""
    request = pb_utils.InferenceRequest(
        model_name=inner.model,
        inputs=[pb_utils.Tensor(name, value) for name, value in inner.inputs.items()],
        requested_output_names=list(inner.outputs),
        request_id=inner.request_id,
        timeout=inner.timeout_us,
    )
    if not inner.decoupled:
        return [_outputs(inner.model, request.exec())]
    return _Responses(inner.model, request.exec(decoupled=True))


class _Responses:
    """The responses of a decoupled model; `cancel` where the Python backend offers it."""

    def __init__(self, model, iterator):
        self.model = model
        self.iterator = iterator

    def __iter__(self):
        for response in self.iterator:
            outputs = _outputs(self.model, response)
            if outputs:  # the last response of a stream may carry only the final flag
                yield outputs

    def cancel(self):
        cancel = getattr(self.iterator, "cancel", None)
        if cancel is not None:
            cancel()


def _outputs(model, response):
    if response.has_error():
        raise InnerModelError(model, response.error().message())
    return {tensor.name(): tensor.as_numpy() for tensor in response.output_tensors()}
