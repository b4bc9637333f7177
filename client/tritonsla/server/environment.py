"""The environment tritonserver runs in (pure: parent env in, new env out).

- LD_LIBRARY_PATH starts with the install's library folders (the wheel's nvidia_pytriton.libs).
- PATH starts with the folder of the running Python: the Python backend stub takes its prefix,
  and so the venv's packages, from the `python3` it finds on PATH (DESIGN §7). Use the folder of
  `sys.executable` as it is, not resolved: resolving a venv's symlink leaves the venv.
- BLAS thread caps, so several CPU engine processes do not oversubscribe the cores.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from tritonsla.errors import ServerError

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _prepend(entries: Sequence[Path], current: str | None) -> str:
    first = [str(entry) for entry in entries]
    rest = [item for item in (current or "").split(os.pathsep) if item and item not in first]
    return os.pathsep.join(first + rest)


def server_environment(
    base: Mapping[str, str],
    *,
    python_bin: Path,
    library_dirs: Sequence[Path] = (),
    blas_threads: int = 1,
) -> dict[str, str]:
    """`base` with PATH, LD_LIBRARY_PATH and the BLAS thread caps set for tritonserver."""
    if blas_threads < 1:
        raise ServerError(f"`blas_threads` is {blas_threads}; allowed: 1 or more")
    env = dict(base)
    env["PATH"] = _prepend([python_bin], base.get("PATH"))
    if library_dirs:
        env["LD_LIBRARY_PATH"] = _prepend(library_dirs, base.get("LD_LIBRARY_PATH"))
    for name in BLAS_THREAD_VARIABLES:
        env[name] = str(blas_threads)
    return env
