"""argv building (every flag, the restricted API, mpirun ranks, falsy values kept) and the server
environment (venv bin first on PATH, wheel libs on LD_LIBRARY_PATH, BLAS caps).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tritonsla.errors import ServerError
from tritonsla.server.command import (
    ADMIN_KEY_HEADER,
    BLAS_THREAD_VARIABLES,
    Parallelism,
    ServerOptions,
    mpirun_argv,
    restricted_headers,
    server_argv,
    server_environment,
    tritonserver_argv,
)

REPO = Path("/models")
BACKENDS = Path("/cache/py3.11")


def options(**changes: object) -> ServerOptions:
    values: dict[str, object] = {
        "model_repository": REPO,
        "http_port": 9000,
        "grpc_port": 9001,
        "metrics_port": 9002,
        "admin_key": "KEY",
    }
    values.update(changes)
    return ServerOptions(**values)  # type: ignore[arg-type]


def test_single_server_argv_has_every_flag() -> None:
    argv = tritonserver_argv(
        options(
            model_control_mode="explicit",
            load_models=("ensemble", "tensorrt_llm"),
            log_verbose=1,
            disable_auto_complete_config=True,
        ),
        executable="/bin/tritonserver",
        backend_directory=BACKENDS,
    )
    assert argv == [
        "/bin/tritonserver",
        "--model-repository=/models",
        "--backend-directory=/cache/py3.11",
        "--exit-on-error=true",
        "--strict-readiness=true",
        "--log-verbose=1",
        "--http-address=127.0.0.1",
        "--http-port=9000",
        "--grpc-address=127.0.0.1",
        "--grpc-port=9001",
        "--metrics-address=127.0.0.1",
        "--metrics-port=9002",
        "--model-control-mode=explicit",
        "--load-model=ensemble",
        "--load-model=tensorrt_llm",
        f"--http-restricted-api=model-repository:{ADMIN_KEY_HEADER}=KEY",
        f"--grpc-restricted-protocol=model-repository:{ADMIN_KEY_HEADER}=KEY",
        "--disable-auto-complete-config",
    ]


def test_falsy_values_are_written_not_dropped() -> None:
    argv = tritonserver_argv(
        options(http_port=0, log_verbose=0, exit_on_error=False, strict_readiness=False),
        executable="tritonserver",
    )
    assert "--http-port=0" in argv
    assert "--log-verbose=0" in argv
    assert "--exit-on-error=false" in argv
    assert "--strict-readiness=false" in argv


def test_optional_flags_absent_when_unset() -> None:
    argv = tritonserver_argv(options(admin_key=None), executable="tritonserver")
    assert not [arg for arg in argv if "restricted" in arg]
    assert not [arg for arg in argv if arg.startswith(("--log-verbose", "--backend-directory"))]
    assert not [arg for arg in argv if arg.startswith("--exit-timeout-secs")]
    assert "--model-control-mode=none" in argv


def test_exit_timeout_is_passed_when_set() -> None:
    argv = tritonserver_argv(options(exit_timeout_s=5), executable="tritonserver")
    assert "--exit-timeout-secs=5" in argv


def test_default_admin_key_is_random() -> None:
    first, second = ServerOptions(REPO), ServerOptions(REPO)
    assert first.admin_key and second.admin_key
    assert first.admin_key != second.admin_key
    assert "KEY" not in repr(options())


def test_restricted_headers() -> None:
    assert restricted_headers("KEY") == {"tritonsla-admin-key": "KEY"}
    assert restricted_headers("KEY", grpc=True) == {
        "triton-grpc-protocol-tritonsla-admin-key": "KEY"
    }
    assert restricted_headers(None) == {}
    assert restricted_headers(None, grpc=True) == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model_control_mode": "poll"}, r"`model_control_mode` is 'poll'; allowed"),
        ({"load_models": ("a",)}, r"`load_models` is only honoured with `model_control_mode`"),
        (
            {"model_control_mode": "explicit", "load_models": ("*", "a")},
            r"'\*' loads every model and must be the only entry",
        ),
        ({"log_verbose": -1}, r"`log_verbose` is -1"),
    ],
)
def test_bad_options_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ServerError, match=message):
        options(**changes)


def rank_slices(argv: list[str]) -> list[list[str]]:
    """Split an mpirun argv (after `mpirun --allow-run-as-root`) into per-rank argv."""
    ranks: list[list[str]] = [[]]
    for arg in argv[2:]:
        if arg == ":":
            ranks.append([])
        else:
            ranks[-1].append(arg)
    return ranks


def test_mpirun_two_ranks_exact_shape() -> None:
    argv = mpirun_argv(
        options(model_control_mode="explicit", load_models=("*",)),
        Parallelism(tensor_parallel=2),
        executable="/bin/tritonserver",
        backend_directory=BACKENDS,
    )
    assert argv == [
        "mpirun",
        "--allow-run-as-root",
        "-n",
        "1",
        "/bin/tritonserver",
        "--model-repository=/models",
        "--backend-directory=/cache/py3.11",
        "--exit-on-error=true",
        "--strict-readiness=true",
        "--http-address=127.0.0.1",
        "--http-port=9000",
        "--grpc-address=127.0.0.1",
        "--grpc-port=9001",
        "--metrics-address=127.0.0.1",
        "--metrics-port=9002",
        "--model-control-mode=explicit",
        "--load-model=*",
        f"--http-restricted-api=model-repository:{ADMIN_KEY_HEADER}=KEY",
        f"--grpc-restricted-protocol=model-repository:{ADMIN_KEY_HEADER}=KEY",
        "--disable-auto-complete-config",
        "--backend-config=python,shm-region-prefix-name=prefix0_",
        ":",
        "-n",
        "1",
        "/bin/tritonserver",
        "--model-repository=/models",
        "--backend-directory=/cache/py3.11",
        "--exit-on-error=true",
        "--strict-readiness=true",
        "--allow-http=false",
        "--allow-grpc=false",
        "--allow-metrics=false",
        "--model-control-mode=explicit",
        "--load-model=tensorrt_llm",
        "--disable-auto-complete-config",
        "--backend-config=python,shm-region-prefix-name=prefix1_",
    ]


def test_mpirun_four_ranks_only_rank_zero_serves() -> None:
    parallelism = Parallelism(
        tensor_parallel=2, pipeline_parallel=2, engine_models=("trt_a", "trt_b")
    )
    argv = mpirun_argv(options(), parallelism, executable="tritonserver")
    ranks = rank_slices(argv)
    assert parallelism.world_size == 4
    assert len(ranks) == 4
    for rank, rank_argv in enumerate(ranks):
        assert rank_argv[:3] == ["-n", "1", "tritonserver"]
        assert rank_argv[-1] == f"--backend-config=python,shm-region-prefix-name=prefix{rank}_"
        serving = [arg for arg in rank_argv if arg.startswith(("--http-port", "--grpc-port"))]
        if rank == 0:
            assert serving == ["--http-port=9000", "--grpc-port=9001"]
            assert "--model-control-mode=none" in rank_argv
        else:
            assert serving == []
            assert rank_argv[rank_argv.index("--model-control-mode=explicit") + 1 :][:2] == [
                "--load-model=trt_a",
                "--load-model=trt_b",
            ]


def test_mpirun_needs_more_than_one_rank() -> None:
    with pytest.raises(ServerError, match=r"world size is 1; mpirun is for tp x pp > 1"):
        mpirun_argv(options(), Parallelism(), executable="tritonserver")


def test_server_argv_picks_mpirun_only_for_several_ranks() -> None:
    single = server_argv(options(), executable="tritonserver", parallelism=Parallelism())
    assert single[0] == "tritonserver"
    multi = server_argv(options(), executable="tritonserver", parallelism=Parallelism(2, 1))
    assert multi[:2] == ["mpirun", "--allow-run-as-root"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tensor_parallel": 0}, r"`tensor_parallel` x `pipeline_parallel` is 0 x 1"),
        ({"engine_models": ()}, r"`engine_models` is empty"),
    ],
)
def test_bad_parallelism_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ServerError, match=message):
        Parallelism(**changes)  # type: ignore[arg-type]


def test_endpoints_follow_options() -> None:
    endpoints = options(address="0.0.0.0").endpoints
    assert endpoints.http_url == "http://127.0.0.1:9000"
    assert endpoints.http_address == "127.0.0.1:9000"
    assert endpoints.grpc_address == "127.0.0.1:9001"
    assert endpoints.metrics_url == "http://127.0.0.1:9002/metrics"


VENV_BIN = Path("/venv/bin")
LIBS = Path("/site/nvidia_pytriton.libs")


def test_path_starts_with_the_venv_bin_without_duplicates() -> None:
    env = server_environment({"PATH": "/usr/bin:/venv/bin:/bin"}, python_bin=VENV_BIN)
    assert env["PATH"] == "/venv/bin:/usr/bin:/bin"


def test_path_is_made_when_missing() -> None:
    assert server_environment({}, python_bin=VENV_BIN)["PATH"] == "/venv/bin"


def test_library_dirs_come_first_on_ld_library_path() -> None:
    env = server_environment(
        {"LD_LIBRARY_PATH": "/opt/lib"}, python_bin=VENV_BIN, library_dirs=[LIBS]
    )
    assert env["LD_LIBRARY_PATH"] == "/site/nvidia_pytriton.libs:/opt/lib"


def test_ld_library_path_untouched_without_library_dirs() -> None:
    assert "LD_LIBRARY_PATH" not in server_environment({}, python_bin=VENV_BIN)
    env = server_environment({"LD_LIBRARY_PATH": "/opt/lib"}, python_bin=VENV_BIN)
    assert env["LD_LIBRARY_PATH"] == "/opt/lib"


@pytest.mark.parametrize("threads", [1, 2])
def test_blas_threads_are_capped(threads: int) -> None:
    env = server_environment({"OMP_NUM_THREADS": "16"}, python_bin=VENV_BIN, blas_threads=threads)
    assert {name: env[name] for name in BLAS_THREAD_VARIABLES} == {
        "OPENBLAS_NUM_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }


def test_rest_of_parent_env_is_kept_and_parent_not_changed() -> None:
    base = {"HOME": "/root", "PATH": "/usr/bin", "HF_HOME": "/hf"}
    env = server_environment(base, python_bin=VENV_BIN, library_dirs=[LIBS])
    assert env["HOME"] == "/root"
    assert env["HF_HOME"] == "/hf"
    assert base == {"HOME": "/root", "PATH": "/usr/bin", "HF_HOME": "/hf"}


def test_blas_threads_below_one_refused() -> None:
    with pytest.raises(ServerError, match=r"`blas_threads` is 0; allowed: 1 or more"):
        server_environment({}, python_bin=VENV_BIN, blas_threads=0)
