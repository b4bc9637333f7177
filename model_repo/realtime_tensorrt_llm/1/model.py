"""Triton Python model `<profile>_tensorrt_llm` of engine kind `cpu`: the numpy GPT-2 engine.

Thin adapter over tritonsla.cpu: settings come from the model config
(tritonsla.cpu.triton_config), tensors are converted by tritonsla.cpu.triton_io, and the
engine's worker thread sends every response through the request's response sender. The model
must be decoupled; execute() only queues requests and returns None.
"""

import itertools
import json
import threading
from functools import partial

import triton_python_backend_utils as pb_utils

from tritonsla.cpu.engine import Engine
from tritonsla.cpu.engine_metrics import EngineMetrics
from tritonsla.cpu.errors import QueueFullError
from tritonsla.cpu.request import FinishReason
from tritonsla.cpu.triton_config import settings_from_model_config
from tritonsla.cpu.triton_io import INPUT_NAMES, event_to_tensors, request_from_tensors
from tritonsla.errors import TritonSlaError

FINAL = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL


class TritonPythonModel:
    """Queues each request on the engine; a request it cannot take gets an error response."""

    def initialize(self, args):
        model_config = json.loads(args["model_config"])
        settings = settings_from_model_config(model_config, args["model_repository"])
        self.exclude_input_in_output = settings.exclude_input_in_output
        self.request_ids = itertools.count()
        self.engine = Engine(settings.engine)
        labels = {"model": args["model_name"], "version": args["model_version"]}
        self.metric_families = []  # must outlive their metrics
        self.metrics = EngineMetrics(partial(_gauge, self.metric_families), labels)
        self.metrics_lock = threading.Lock()
        self.engine.start()
        self.publish()

    def publish(self):
        """Show the engine's current load on the metrics endpoint."""
        with self.metrics_lock:
            self.metrics.publish(self.engine.stats())

    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            try:
                tensors = {}
                for name in INPUT_NAMES:
                    tensor = pb_utils.get_input_tensor_by_name(request, name)
                    if tensor is not None:
                        tensors[name] = tensor.as_numpy()
                generation = request_from_tensors(
                    next(self.request_ids),
                    tensors,
                    partial(_respond, sender, self.publish),
                    exclude_input_in_output=self.exclude_input_in_output,
                    is_cancelled=sender.is_cancelled,
                )
                self.engine.submit(generation)
            except QueueFullError as exc:
                _send_error(sender, str(exc), pb_utils.TritonError.UNAVAILABLE)
            except TritonSlaError as exc:
                _send_error(sender, str(exc), pb_utils.TritonError.INVALID_ARG)
        self.publish()
        return None

    def finalize(self):
        self.engine.stop()


def _gauge(families, name, description, labels):
    families.append(pb_utils.MetricFamily(name, description, pb_utils.MetricFamily.GAUGE))
    return families[-1].Metric(labels=labels)


def _respond(sender, publish, event):
    """Send one engine event (called from the engine thread)."""
    if event.final or event.finish_reason is not None:
        publish()
    if event.finish_reason is FinishReason.CANCELLED:
        sender.send(flags=FINAL)
    elif event.error is not None:
        _send_error(sender, event.error, pb_utils.TritonError.INTERNAL)
    else:
        outputs = event_to_tensors(event)
        tensors = [pb_utils.Tensor(name, value) for name, value in outputs.items()]
        response = pb_utils.InferenceResponse(output_tensors=tensors)
        sender.send(response, flags=FINAL if event.final else 0)


def _send_error(sender, message, code):
    error = pb_utils.TritonError(message, code)
    sender.send(pb_utils.InferenceResponse(output_tensors=[], error=error), flags=FINAL)
