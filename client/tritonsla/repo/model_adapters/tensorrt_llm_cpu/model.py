"""Triton Python model `<profile>_tensorrt_llm` of engine kind `cpu`: the numpy GPT-2 engine.

Thin adapter over tritonsla.cpu: settings come from the model config
(tritonsla.cpu.triton_config), tensors are converted by tritonsla.cpu.triton_io, and the
engine's worker thread sends every response through the request's response sender. The model
must be decoupled; execute() only queues requests and returns None. A Python model cannot read
Triton's request priority, so the priority level comes in the `priority` input tensor; a full
level answers UNAVAILABLE, as Triton's own queue policy would.
"""

import json
import sys
import threading
import time
from functools import partial
from pathlib import Path

import triton_python_backend_utils as pb_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".tritonsla.zip"))  # bundled tritonsla

from tritonsla.cpu.engine import Engine
from tritonsla.cpu.engine_metrics import EngineMetrics, EngineShape, instance_count
from tritonsla.cpu.errors import QueueFullError
from tritonsla.cpu.request_ids import RequestIds, is_stop_request
from tritonsla.cpu.triton_config import settings_from_model_config
from tritonsla.cpu.triton_io import (
    INPUT_NAMES,
    event_to_tensors,
    request_from_tensors,
    stream_key_of,
)
from tritonsla.engine_request import FinishReason
from tritonsla.errors import TritonSlaError

FINAL = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL


class TritonPythonModel:
    """Queues each request on the engine; a request it cannot take gets an error response."""

    def initialize(self, args):
        model_config = json.loads(args["model_config"])
        settings = settings_from_model_config(model_config, args["model_repository"])
        self.exclude_input_in_output = settings.exclude_input_in_output
        self.priority_levels = settings.engine.priority_levels
        self.request_ids = RequestIds()
        self.engine = Engine(settings.engine)
        labels = {"model": args["model_name"], "version": args["model_version"]}
        shape = EngineShape(
            settings.engine.max_batch_size,
            settings.engine.tokens_per_block,
            instance_count(model_config),
        )
        self.metric_families = {}  # by name; must outlive their metrics
        self.metrics = EngineMetrics(partial(_metric, self.metric_families), labels, shape)
        self.metrics_lock = threading.Lock()
        self.engine.start()
        self.publish()

    def publish(self, progress_only=False):
        """Show the engine's load on the metrics endpoint (progress updates are rate-limited)."""
        now = time.monotonic()
        with self.metrics_lock:
            if not progress_only or self.metrics.due(now):
                self.metrics.publish(self.engine.stats(), now)

    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            tensors = {}
            for name in INPUT_NAMES:
                tensor = pb_utils.get_input_tensor_by_name(request, name)
                if tensor is not None:
                    tensors[name] = tensor.as_numpy()
            if is_stop_request(tensors):
                self._stop(request.request_id())
                sender.send(flags=FINAL)
            else:
                self._submit(request.request_id(), tensors, sender)
        self.publish()
        return None

    def _stop(self, triton_id):
        engine_id = self.request_ids.lookup(triton_id)
        if engine_id is not None:
            self.engine.cancel(engine_id)

    def _submit(self, triton_id, tensors, sender):
        engine_id = self.request_ids.new(triton_id)
        done = partial(self.request_ids.release, triton_id, engine_id)
        try:
            generation = request_from_tensors(
                engine_id,
                tensors,
                partial(_respond, sender, self.publish, done, stream_key_of(tensors)),
                exclude_input_in_output=self.exclude_input_in_output,
                is_cancelled=sender.is_cancelled,
                priority_levels=self.priority_levels,
            )
            self.engine.submit(generation)
        except QueueFullError as exc:
            done()
            _send_error(sender, str(exc), pb_utils.TritonError.UNAVAILABLE)
        except TritonSlaError as exc:
            done()
            _send_error(sender, str(exc), pb_utils.TritonError.INVALID_ARG)

    def finalize(self):
        self.engine.stop()
        with self.metrics_lock:
            self.metrics.withdraw()


def _metric(families, name, description, kind, labels):
    """A metric of family `name` (made once per model instance) with `labels`."""
    if name not in families:
        kinds = {"gauge": pb_utils.MetricFamily.GAUGE, "counter": pb_utils.MetricFamily.COUNTER}
        families[name] = pb_utils.MetricFamily(name, description, kinds[kind])
    return families[name].Metric(labels=labels)


def _respond(sender, publish, done, stream_key, event):
    """Send one engine event (called from the engine thread)."""
    finished = event.final or event.finish_reason is not None
    if finished:
        done()
    publish(progress_only=not finished)
    if event.finish_reason is FinishReason.CANCELLED:
        sender.send(flags=FINAL)
    elif event.error is not None:
        _send_error(sender, event.error, pb_utils.TritonError.INTERNAL)
    else:
        outputs = event_to_tensors(event, stream_key)
        tensors = [pb_utils.Tensor(name, value) for name, value in outputs.items()]
        response = pb_utils.InferenceResponse(output_tensors=tensors)
        sender.send(response, flags=FINAL if event.final else 0)


def _send_error(sender, message, code):
    error = pb_utils.TritonError(message, code)
    sender.send(pb_utils.InferenceResponse(output_tensors=[], error=error), flags=FINAL)
