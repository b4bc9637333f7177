"""Waiting for readiness, with a spinner, and the report of a failed start."""

from __future__ import annotations

import http.server
import io
import threading
from pathlib import Path

import pytest
from rich.console import Console

from tritonsla.errors import ServerError
from tritonsla.server.probe import failure_report, startup_spinner, wait_until_ready

TABLE = "".join(f"| option {n} | value |\n" for n in range(40))


def test_report_keeps_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    report = failure_report(log)
    assert report.startswith(f"Last lines of {log}:\nline 70\n")
    assert report.endswith("line 99")
    assert "Errors logged earlier" not in report


def test_report_brings_back_errors_pushed_out_by_tables(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    error = "E1122 01:43:45.306171 7418 model_lifecycle.cc:642] \"failed to load 'm'\""
    log.write_text(f"I1122 loading\n{error}\n{TABLE}error: creating server\n")
    report = failure_report(log)
    assert report.startswith(f"Errors logged earlier:\n{error}\nLast lines of {log}:\n")
    assert report.endswith("error: creating server")


def test_report_without_log(tmp_path: Path) -> None:
    assert failure_report(tmp_path / "absent.log") == f"(no log at {tmp_path / 'absent.log'})"


def test_exit_during_startup_reports_the_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("E: model failed\n")
    with pytest.raises(ServerError) as caught:
        wait_until_ready("http://127.0.0.1:9", exit_code=lambda: 1, log_file=log, timeout=10)
    assert str(caught.value) == (
        f"tritonserver exited with code 1 while starting. Last lines of {log}:\nE: model failed"
    )


def test_startup_timeout_says_what_to_do(tmp_path: Path) -> None:
    seen: list[float] = []
    with pytest.raises(ServerError, match=r"not ready at http://127\.0\.0\.1:9 after 0 s\. Try"):
        wait_until_ready(
            "http://127.0.0.1:9",
            exit_code=lambda: None,
            log_file=tmp_path / "server.log",
            timeout=0.2,
            on_progress=seen.append,
            poll_interval=0.05,
        )
    assert seen


def test_spinner_hook_shows_the_elapsed_seconds() -> None:
    out = io.StringIO()
    with startup_spinner("starting tritonserver", Console(file=out, force_terminal=True)) as hook:
        hook(3.2)
    assert "starting tritonserver (3 s)" in out.getvalue()


def test_ready_waits_for_the_metrics_endpoint(tmp_path: Path) -> None:
    # tritonserver opens its metrics port after HTTP: "ready" alone is not "serving".
    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Ready) as http_server:
        threading.Thread(target=http_server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{http_server.server_address[1]}"
        log = tmp_path / "server.log"
        assert wait_until_ready(url, exit_code=lambda: None, log_file=log, timeout=5) >= 0
        with pytest.raises(ServerError, match="not ready"):
            wait_until_ready(
                url,
                metrics_url="http://127.0.0.1:9/metrics",
                exit_code=lambda: None,
                log_file=log,
                timeout=0.3,
                poll_interval=0.05,
            )
        http_server.shutdown()
