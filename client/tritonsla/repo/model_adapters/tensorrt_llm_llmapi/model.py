"""tensorrt_llm model of engine kind `llmapi`: TensorRT-LLM's LLM API behind Triton (GPU only).

Thin glue: request parsing and sampling mapping live in tritonsla (cpu.triton_io,
llmapi.mapping); LLM() arguments come from model.yaml beside this file. Each request runs as an
asyncio task on a private event loop thread; responses follow the tensorrt_llm contract. The
`priority` input (a Triton level) becomes the LLM API's request priority when model.yaml sets
`scheduler_config.waiting_queue_policy: priority`; the levels are this model's
`dynamic_batching.priority_levels` and `default_priority_level`.
"""

import asyncio
import json
import sys
import threading
from pathlib import Path

import triton_python_backend_utils as pb_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".tritonsla.zip"))  # bundled tritonsla

from tritonsla.cpu.triton_config import queue_options
from tritonsla.cpu.triton_io import (
    INPUT_NAMES,
    event_to_tensors,
    request_from_tensors,
    stream_key_of,
)
from tritonsla.engine_request import InvalidRequestError
from tritonsla.llmapi.mapping import (
    llm_priority,
    load_llm_config,
    priority_enabled,
    response_event,
    sampling_kwargs,
)
from tritonsla.paths import model_config_parameter

FINAL = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL


class TritonPythonModel:
    def initialize(self, args):
        from tensorrt_llm import LLM  # GPU machines only

        config = json.loads(args["model_config"])
        model_yaml = Path(__file__).parent / model_config_parameter(config, "llm_config")
        llm_args, _ = load_llm_config(model_yaml)
        self.exclude_input = (
            model_config_parameter(config, "exclude_input_in_output", "true") == "true"
        )
        queue = queue_options(config)
        self.levels = queue["priority_levels"]
        self.default_level = queue["default_priority_level"]
        self.by_priority = priority_enabled(llm_args)
        self.llm = LLM(**llm_args)
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            tensors = {}
            for name in INPUT_NAMES:
                tensor = pb_utils.get_input_tensor_by_name(request, name)
                if tensor is not None:
                    tensors[name] = tensor.as_numpy()
            try:
                parsed = request_from_tensors(
                    request.request_id(),
                    tensors,
                    lambda event: None,
                    exclude_input_in_output=self.exclude_input,
                    priority_levels=self.levels,
                )
            except InvalidRequestError as error:
                sender.send(
                    pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error))), flags=FINAL
                )
                continue
            key = stream_key_of(tensors)
            asyncio.run_coroutine_threadsafe(self._generate(parsed, sender, key), self.loop)
        return None

    async def _generate(self, parsed, sender, stream_key):
        from tensorrt_llm import SamplingParams

        try:
            params = SamplingParams(**sampling_kwargs(parsed))
            extra = {}
            if self.by_priority:
                extra["priority"] = llm_priority(parsed.priority, self.levels, self.default_level)
            stream = self.llm.generate_async(
                list(parsed.input_ids), params, streaming=parsed.streaming, **extra
            )
            sent = 0
            async for output in stream:
                if sender.is_cancelled():
                    stream.abort()
                    break
                event, sent = response_event(
                    parsed, list(output.outputs[0].token_ids), sent, output.finished
                )
                if event is not None:
                    tensors = event_to_tensors(event, stream_key)
                    sender.send(
                        pb_utils.InferenceResponse(
                            output_tensors=[pb_utils.Tensor(k, v) for k, v in tensors.items()]
                        )
                    )
            sender.send(flags=FINAL)
        except Exception as error:  # every failure must reach the client and end the stream
            sender.send(
                pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error))), flags=FINAL
            )

    def finalize(self):
        self.llm.shutdown()
        self.loop.call_soon_threadsafe(self.loop.stop)
