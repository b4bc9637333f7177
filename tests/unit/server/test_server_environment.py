"""The server environment: venv bin first on PATH, wheel libs on LD_LIBRARY_PATH, BLAS caps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tritonsla.errors import ServerError
from tritonsla.server.environment import BLAS_THREAD_VARIABLES, server_environment

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
