"""Running the gateway app under uvicorn: in the foreground, or in a thread beside tritonserver.

The API key is read from the environment (API_KEY_ENV) by the command, never from argv, where
other local users could read it (`ps`).
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from tritonsla.errors import ServerError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
GRACEFUL_S = 5
"""Seconds open requests get to finish when the gateway stops."""


class _Server(uvicorn.Server):
    """uvicorn's server, stopping gracefully on SIGINT/SIGTERM without raising the signal again
    afterwards (uvicorn's default), so a clean stop exits 0 as `serve --foreground` does."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: do not wait for open requests
        else:
            self.should_exit = True


def server_of(app: Starlette, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for `app`: no access log (it costs per request), warnings only.

    HTTP is parsed and written by httptools (llhttp, in C) instead of uvicorn's default h11 in
    Python, which took a visible share off what the gateway adds to time to first token
    (benchmarks/gateway_overhead.py). The event loop is asyncio's: uvloop took about 0.25 ms
    more off at concurrency 1, but the fault tests that fork and freeze servers failed in every
    CI run that had it (and the other gateway changes) loaded in the test process.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="asyncio",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_S,
    )
    return _Server(config)


def serve(app: Starlette, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's handlers); raises ServerError when it cannot."""
    server = server_of(app, host, port)
    server.run()
    if not server.started:
        raise ServerError(
            f"the gateway could not listen on {host}:{port} (see the message above); free the "
            "port or pass --port"
        )


class GatewayThread:
    """The gateway served from a daemon thread (its own event loop) until `stop`."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server = server_of(app, host, port)
        self._thread = threading.Thread(
            target=self._server.run, name="tritonsla-gateway", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until it listens; raises ServerError when it does not."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerError(
                    f"the gateway did not start listening on {self.host}:{self.port}; free the "
                    "port or choose another"
                )
            time.sleep(0.05)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Ask it to stop (open requests get GRACEFUL_S) and wait; safe to call twice."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(GRACEFUL_S + 10)
