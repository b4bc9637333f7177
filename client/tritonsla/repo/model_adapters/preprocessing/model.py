"""Triton Python model `<profile>_preprocessing`: text -> token ids.

Thin adapter over tritonsla.text.processing.preprocess. Config parameters: `tokenizer_dir`
(absolute, or relative to the folder containing the model repository; never inside it) and
`engine_priority_level` (the class's level on a shared engine; 0 or absent: its own engine).
"""

import json
import sys
from pathlib import Path

import triton_python_backend_utils as pb_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".tritonsla.zip"))  # bundled tritonsla

from tritonsla.contract import PREPROCESSING_INPUTS
from tritonsla.paths import model_config_parameter
from tritonsla.text.processing import preprocess
from tritonsla.text.tokenizer import load_model_tokenizer


class TritonPythonModel:
    """Tokenizes each request of a batch on its own; a bad request gets an error response."""

    def initialize(self, args):
        self.tokenizer = load_model_tokenizer(args)
        config = json.loads(args["model_config"])
        self.priority_level = int(model_config_parameter(config, "engine_priority_level", "0"))

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                inputs = {}
                for spec in PREPROCESSING_INPUTS:
                    tensor = pb_utils.get_input_tensor_by_name(request, spec.name)
                    if tensor is not None:
                        inputs[spec.name] = tensor.as_numpy()
                outputs = preprocess(self.tokenizer, inputs, self.priority_level)
                tensors = [pb_utils.Tensor(name, value) for name, value in outputs.items()]
                responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            except Exception as exc:
                error = pb_utils.TritonError(f"preprocessing: {exc}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
        return responses
