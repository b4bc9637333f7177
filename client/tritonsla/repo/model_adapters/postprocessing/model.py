"""Triton Python model `<profile>_postprocessing`: token ids -> text.

Thin adapter over tritonsla.text.processing.postprocess. Config parameter: `tokenizer_dir`
(absolute, or relative to the folder containing the model repository; never inside it).

Streaming through the ensemble arrives here one step per request, with the stream key that
preprocessing made and the engine echoed (STREAM_KEY, IS_FINAL). It keys a per-stream
detokenizer (bounded LRU) in this process, so characters split across steps come out whole,
whatever request ids clients send; the final step frees it. State is per process: one instance
of this model. Without a key (kind trt-engine) each step is decoded on its own, as upstream does.
"""

import sys
from pathlib import Path

import triton_python_backend_utils as pb_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".tritonsla.zip"))  # bundled tritonsla

from tritonsla.contract import POSTPROCESSING_INPUTS
from tritonsla.text.detokenize import StreamDetokenizers
from tritonsla.text.processing import postprocess
from tritonsla.text.tokenizer import load_model_tokenizer


class TritonPythonModel:
    """Detokenizes each request of a batch on its own; a bad request gets an error response."""

    def initialize(self, args):
        self.tokenizer = load_model_tokenizer(args)
        self.streams = StreamDetokenizers(self.tokenizer)

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                inputs = {}
                for spec in POSTPROCESSING_INPUTS:
                    tensor = pb_utils.get_input_tensor_by_name(request, spec.name)
                    if tensor is not None:
                        inputs[spec.name] = tensor.as_numpy()
                outputs = postprocess(self.tokenizer, inputs, self.streams)
                tensors = [pb_utils.Tensor(name, value) for name, value in outputs.items()]
                responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            except Exception as exc:
                error = pb_utils.TritonError(f"postprocessing: {exc}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
        return responses
