"""Stand-in for TensorRT-LLM's LLM API, for serving the llmapi model on a machine without a GPU.

`LLM(**kwargs)` records its keyword arguments (JSON in $STANDIN_LLM_RECORD) and generates a
deterministic sequence: token i of a request is (last prompt token + i + 1) mod 1000. Like the
real `LLM.generate_async`, a streaming request yields the cumulative tokens after each step and
a non-streaming one yields once, finished.
"""

import asyncio
import json
import os
from types import SimpleNamespace


class SamplingParams:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class _Stream:
    def __init__(self, prompt, params, streaming):
        self.prompt = list(prompt)
        self.params = params
        self.streaming = streaming
        self.aborted = False

    def abort(self):
        self.aborted = True

    async def __aiter__(self):
        tokens = []
        for i in range(self.params.max_tokens):
            await asyncio.sleep(0)
            tokens.append((self.prompt[-1] + i + 1) % 1000)
            finished = i == self.params.max_tokens - 1
            if self.streaming or finished:
                yield SimpleNamespace(
                    outputs=[SimpleNamespace(token_ids=list(tokens))], finished=finished
                )
            if self.aborted:
                return


class LLM:
    def __init__(self, **kwargs):
        with open(os.environ["STANDIN_LLM_RECORD"], "a", encoding="utf-8") as record:
            record.write(json.dumps(kwargs) + "\n")

    def generate_async(self, prompt, params, streaming=False, **extra):
        return _Stream(prompt, params, streaming)

    def shutdown(self):
        pass
