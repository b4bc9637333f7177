"""The client SDK: route every request by SLA class, priority and deadline.

    from tritonsla.routing import SlaClient, AsyncSlaClient, Timeout

    with SlaClient.from_deploy("deploy/cpu.yaml", timeout=Timeout(30.0, connect=2.0)) as client:
        result = client.generate("Hello", sla="realtime", max_tokens=16)
        print(result.text, result.ttft_s, result.replica)

The endpoint table (`EndpointTable`) is read from the deploy + profile files; each SLA class maps
to its `<profile>_tensorrt_llm_bls` model (or `<profile>_ensemble`, `target="ensemble"`) on one
or more replicas. A request goes to its explicit class, or to the loosest class whose SLO meets
its deadline; low-priority work without a deadline goes to the batch class, the rest to the
default class. Admission control rejects a request whose deadline the live queue cannot meet
(or spills it to a looser class when `allow_spill=True`). Replicas are chosen by least
outstanding requests; load is polled in the background at a bounded rate. A replica that
refuses connections is marked down, one that lets a request time out before any response is
marked suspect; either is held out and probed (server readiness, bounded) with capped
exponential backoff until it answers, and gRPC keepalive closes connections to a server that
stopped answering. Every call has a `Timeout` (connect, first token, total); non-streaming
requests, and streaming ones that have delivered nothing yet, fail over to another replica of
their class when one refuses, times out connecting or answers that its queue is full. A request
that ends early on either client (a timeout, a closed stream, a cancelled task) is stopped at its
engine with TensorRT-LLM's `stop`, on the ensemble as on the BLS: the stop goes out on the
request's own gRPC stream a bounded number of times, until the final response comes.
`output_tokens` is exact: every response of the ensemble and the BLS reports its tokens
(`output_log_probs`); `min_tokens=max_tokens` makes lengths exact too.

Exceptions (all derive from tritonsla.errors.TritonSlaError):

    RoutingError                    root of the client's errors
    ├── UnknownEndpointError        SLA class, model or target not in the table ("Available: …")
    └── RequestError                one request failed; `.result` = partial GenerationResult
        ├── DeadlineUnmeetableError admission control: estimate > deadline; nothing was sent
        ├── TransportError          no complete answer came back from a server
        │   ├── ReplicaUnavailableError  refused / down on every replica that could take it
        │   ├── RequestTimeoutError      a Timeout phase elapsed; the call was cancelled
        │   │   ├── ConnectTimeoutError
        │   │   ├── FirstTokenTimeoutError
        │   │   └── TotalTimeoutError    (the deadline, when shorter than Timeout.total)
        │   └── StreamBrokenError   the stream broke after chunks arrived; `.chunks` holds them
        └── ServerAnswerError       the server answered with an error
            ├── ServerRejectedError queue full / queue timeout / unavailable: "not now"
            └── InferenceFailedError the model failed the request (bad input, engine error)

Invalid arguments (unknown keyword, max_tokens < 1, bad priority) raise TypeError/ValueError.
"""

from tritonsla.routing.aio import AsyncSlaClient, AsyncTokenStream
from tritonsla.routing.call import CallOptions
from tritonsla.routing.client import SlaClient, TokenStream
from tritonsla.routing.errors import (
    ConnectTimeoutError,
    DeadlineUnmeetableError,
    FirstTokenTimeoutError,
    InferenceFailedError,
    ReplicaUnavailableError,
    RequestError,
    RequestTimeoutError,
    RoutingError,
    ServerAnswerError,
    ServerRejectedError,
    StreamBrokenError,
    TotalTimeoutError,
    TransportError,
    UnknownEndpointError,
)
from tritonsla.routing.policy import Decision, Priority, RouteRequest, RoutingPolicy
from tritonsla.routing.result import Chunk, GenerationResult
from tritonsla.routing.table import Endpoint, EndpointTable, Replica
from tritonsla.routing.timeout import DEFAULT_TIMEOUT, Timeout

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncSlaClient",
    "AsyncTokenStream",
    "CallOptions",
    "Chunk",
    "ConnectTimeoutError",
    "DeadlineUnmeetableError",
    "Decision",
    "Endpoint",
    "EndpointTable",
    "FirstTokenTimeoutError",
    "GenerationResult",
    "InferenceFailedError",
    "Priority",
    "Replica",
    "ReplicaUnavailableError",
    "RequestError",
    "RequestTimeoutError",
    "RouteRequest",
    "RoutingError",
    "RoutingPolicy",
    "ServerAnswerError",
    "ServerRejectedError",
    "SlaClient",
    "StreamBrokenError",
    "Timeout",
    "TokenStream",
    "TotalTimeoutError",
    "TransportError",
    "UnknownEndpointError",
]
