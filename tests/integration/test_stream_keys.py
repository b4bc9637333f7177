"""Concurrent gRPC streams through the ensemble from plain tritonclient, as a standard client
sends them: whatever request ids the clients choose (the same, none, distinct), each stream's
text should equal the non-streaming answer, multi-byte characters included.

Postprocessing keys its streaming UTF-8 state on a key that preprocessing makes per request and
the engine echoes on every response (Triton refuses an ensemble step whose inputs come from the
decoupled engine and from elsewhere, so the key travels through the engine). Keyed on the
client's request id instead, streams that shared an id garbled each other and streams without
one split characters.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import pytest
import tritonclient.grpc as grpcclient

from tests.integration.conftest import ServedDeployment, serve_deployment, variant_deploy
from tests.integration.grpc_helpers import text_inputs
from tritonsla import contract

pytestmark = pytest.mark.integration
MODEL = contract.model_name("interactive", "ensemble")
MAX_TOKENS = 24
# Greedy answers of the default model to these are byte-level noise: valid multi-byte
# characters spread over several tokens ("snow train" answers a Cyrillic letter), and broken
# byte sequences that decode to U+FFFD.
PROMPTS = ("snow train", "中文 😀", "naïve", "€100", "café au lait", "Hello")


def _generate(
    url: str,
    prompt: str,
    stream: bool,
    request_id: str | None = None,
    start: threading.Barrier | None = None,
) -> str:
    """One request on a gRPC stream of a plain tritonclient (no id when `request_id` is None),
    sent once `start` lets it; the text of all its responses."""
    responses: queue.Queue = queue.Queue()
    client = grpcclient.InferenceServerClient(url)
    texts: list[str] = []
    try:
        client.start_stream(callback=lambda result, error: responses.put((result, error)))
        ids = {} if request_id is None else {"request_id": request_id}
        if start is not None:
            start.wait()
        client.async_stream_infer(
            MODEL,
            text_inputs(prompt, MAX_TOKENS, stream),
            enable_empty_final_response=True,
            **ids,
        )
        while True:
            result, error = responses.get(timeout=120)
            if error is not None:
                raise error
            out = result.as_numpy("text_output")
            if out is not None:
                texts.extend(text.decode("utf-8") for text in out.reshape(-1))
            if result.get_response().parameters["triton_final_response"].bool_param:
                return "".join(texts)
    finally:
        client.stop_stream(cancel_requests=True)
        client.close()


def _concurrently(url: str, request_ids: list[str | None]) -> list[str]:
    """One stream per prompt, all started together; their texts in prompt order."""
    start = threading.Barrier(len(PROMPTS))
    texts: list[str | BaseException] = [""] * len(PROMPTS)

    def run(index: int) -> None:
        try:
            texts[index] = _generate(url, PROMPTS[index], True, request_ids[index], start)
        except BaseException as exc:  # re-raised below, in the test's thread
            texts[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(PROMPTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for text in texts:
        if isinstance(text, BaseException):
            raise text
    return texts


@pytest.fixture(scope="module")
def interactive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDeployment]:
    """deploy/cpu.yaml serving the interactive class only."""
    folder = tmp_path_factory.mktemp("stream-keys")
    with serve_deployment(folder, variant_deploy(folder, ["interactive"])) as served:
        yield served


@pytest.fixture(scope="module")
def answers(interactive: ServedDeployment) -> list[str]:
    url = interactive.endpoints.grpc_address
    texts = [_generate(url, prompt, False) for prompt in PROMPTS]
    multi_byte = "".join(texts).replace("\ufffd", "")
    assert any(ord(char) > 0x7F for char in multi_byte)  # a valid multi-byte character
    assert "\ufffd" in "".join(texts)  # and broken byte sequences
    return texts


IDS = [
    pytest.param(lambda index: "1", id="shared id"),
    pytest.param(lambda index: None, id="no id"),
    pytest.param(lambda index: f"stream-{index}", id="distinct ids"),
]


@pytest.mark.parametrize("ids", IDS)
def test_concurrent_streams_equal_the_non_streaming_answers(
    interactive: ServedDeployment, answers: list[str], ids: Callable[[int], str | None]
) -> None:
    url = interactive.endpoints.grpc_address
    texts = _concurrently(url, [ids(index) for index in range(len(PROMPTS))])
    assert texts == answers
