"""One call's attempts: which replica next, what each outcome means, retry or raise.

Both clients drive the same `Attempts`; only how an attempt travels (a blocking gRPC stream, or
asyncio streams) is theirs:

    attempts = Attempts(router, call, drop=...)
    while attempts.result is None:
        decision = attempts.next()
        if decision is None:  # every replica held out: probe them once, then route again
            attempts.revived(router.revive(call.remaining_s()))
            continue
        with attempts.outcome() as recorder:
            ...  # send the request to `decision`, feed its responses to `recorder`

A call fails over to another replica while no chunk has reached the caller, its budget lasts
and the router allows it (refused, silent while connecting, queue full); otherwise it raises the
attempt's error with the partial answer attached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tritonsla.routing.call import Call, failed
from tritonsla.routing.errors import ReplicaUnavailableError, RequestError, ServerRejectedError
from tritonsla.routing.policy import Decision
from tritonsla.routing.result import GenerationResult, Recorder
from tritonsla.routing.router import Router


class Attempts:
    """The attempt loop of one call, as plain logic over the router.

    `drop(address)` is the client's: called when a failed attempt left its replica out of
    rotation (down or suspect), so the client lets go of the connections it keeps there.
    """

    def __init__(self, router: Router, call: Call, drop: Callable[[str], None]) -> None:
        self.router = router
        self.call = call
        self.recorder: Recorder | None = None
        self.result: GenerationResult | None = None
        self._drop = drop
        self._decision: Decision | None = None
        self._tried: set[str] = set()
        self._last: RequestError | None = None
        self._unavailable: RequestError | None = None  # why a revival was asked for

    def next(self) -> Decision | None:
        """Route the next attempt (its replica's slot taken, `recorder` new), or None once per
        call when no replica is up: the client then probes the held-out ones and reports
        `revived`. Raises the call's error when no attempt is left."""
        call = self.call
        try:
            decision = self.router.decide(call.route, call.pin, frozenset(self._tried))
        except RequestError as error:
            if (
                isinstance(error, ReplicaUnavailableError)
                and self._unavailable is None  # once per call
                and call.remaining_s() > 0
            ):
                self._unavailable = error
                return None
            raise self._final(error) from self._chained()
        self._decision = decision
        self.recorder = Recorder(
            decision, call.request.request_id, call.request.stream, len(self._tried) + 1
        )
        self.router.started(decision)
        return decision

    def revived(self, answered: bool) -> None:
        """The revival `next` asked for: raises the call's error when no replica answered."""
        assert self._unavailable is not None, "revived() without next() asking for it"
        if not answered:
            raise self._final(self._unavailable) from self._chained()

    @contextmanager
    def outcome(self) -> Iterator[Recorder]:
        """Around one attempt, giving its Recorder: a clean exit completes the call
        (`result`); a RequestError is judged (suppressed when another replica may take the
        call, else raised with the partial answer); anything else (the caller left, the task
        was cancelled) frees the slot and propagates."""
        decision, recorder = self._decision, self.recorder
        assert decision is not None and recorder is not None, "outcome() before next()"
        try:
            yield recorder
        except RequestError as error:
            router = self.router
            retry = router.attempt_failed(
                decision, error, bool(recorder.chunks), first_token_s=self.call.timeout.first_token
            )
            address = decision.replica.address
            if not router.health.is_up(address):
                self._drop(address)
            self._tried.add(address)
            if not retry or recorder.chunks or self.call.remaining_s() <= 0:
                raise failed(error, recorder) from None
            self._last = error
            return
        except BaseException:
            self.router.finished(decision, None)
            raise
        self.result = recorder.result(self.router.output_tokens(recorder))
        self.router.finished(decision, self.result)

    def _final(self, error: RequestError) -> RequestError:
        """The error the call ends with: a full queue met on the way wins (alive but full)."""
        if isinstance(self._last, ServerRejectedError):
            return failed(self._last, self.recorder)
        return failed(error, self.recorder)

    def _chained(self) -> RequestError | None:
        """The cause to chain to the final error (none when it is the full queue itself)."""
        return None if isinstance(self._last, ServerRejectedError) else self._last
