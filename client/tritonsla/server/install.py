"""Where tritonserver is and where its files go: on PATH (GPU machines, NGC container) or
bundled in nvidia-pytriton, and the cache folders the launcher uses.

The bundled server needs a backends folder holding `python/` with the Python backend library,
its utils module and the stub built for the running Python. It is prepared once per
Python version under the cache dir, built in a temporary folder and renamed into place. The cache
dir is the project's `.cache/` in a checkout, else the user cache.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tritonsla.errors import ServerError

SETUP_HINT = (
    "Run `./build.sh setup`, or install the server extra: pip install 'triton-sla[server]' "
    "(nvidia-pytriton==0.7.0)"
)


def project_root() -> Path | None:
    """The checkout this package runs from (editable install), or None when installed."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() else None


def cache_dir() -> Path:
    """`<project>/.cache`, or `$XDG_CACHE_HOME/triton-sla` outside a checkout."""
    root = project_root()
    if root is not None:
        return root / ".cache"
    user_cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(user_cache) / "triton-sla"


def default_backends_dir() -> Path:
    """Where the bundled tritonserver's backends folder is prepared."""
    return cache_dir() / "triton-backends"


def default_run_dir() -> Path:
    """Where a detached server keeps its state file and log."""
    return cache_dir() / "run"


@dataclass(frozen=True)
class TritonInstall:
    """A tritonserver executable and what it needs to run."""

    executable: Path
    backend_directory: Path | None = None
    """`--backend-directory`; None keeps tritonserver's default (/opt/tritonserver/backends)."""
    library_dirs: tuple[Path, ...] = ()
    """Folders for LD_LIBRARY_PATH: the stub copied out of the wheel loses its RPATH to them."""
    bundled: bool = False


@dataclass(frozen=True)
class PyTritonLayout:
    """Paths inside an installed nvidia-pytriton wheel."""

    package_dir: Path

    @property
    def server_dir(self) -> Path:
        return self.package_dir / "tritonserver"

    @property
    def executable(self) -> Path:
        return self.server_dir / "bin" / "tritonserver"

    @property
    def libs_dir(self) -> Path:
        return self.package_dir.parent / "nvidia_pytriton.libs"

    def backend_files(self, python_version: tuple[int, int]) -> dict[str, Path]:
        """The files of `<backends>/python/`, by name, for a Python `major.minor`."""
        python_backend = self.server_dir / "backends" / "python"
        version = "{}.{}".format(*python_version)
        stub = self.server_dir / "python_backend_stubs" / version / "triton_python_backend_stub"
        return {
            "libtriton_python.so": python_backend / "libtriton_python.so",
            "triton_python_backend_utils.py": python_backend / "triton_python_backend_utils.py",
            "triton_python_backend_stub": stub,
        }


def _pytriton_layout() -> PyTritonLayout:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError(
            "tritonserver not found: it is not on PATH and nvidia-pytriton is not installed. "
            + SETUP_HINT
        )
    return PyTritonLayout(Path(next(iter(spec.submodule_search_locations))))


def _check_sources(layout: PyTritonLayout, files: dict[str, Path], version: str) -> None:
    if not layout.executable.is_file():
        raise ServerError(
            f"nvidia-pytriton has no server binary at {layout.executable}. {SETUP_HINT}"
        )
    missing = [path for path in files.values() if not path.is_file()]
    if not missing:
        return
    stubs = sorted(p.name for p in (layout.server_dir / "python_backend_stubs").glob("3.*"))
    raise ServerError(
        f"the Python backend of nvidia-pytriton is incomplete for Python {version}: missing "
        f"{', '.join(map(str, missing))}. Stubs exist for Python {', '.join(stubs) or 'none'}; "
        f"use a venv with one of them. {SETUP_HINT}"
    )


def check_libpython(python_version: tuple[int, int], library_dirs: tuple[Path, ...]) -> None:
    """Raise ServerError when the stub's libpython cannot be found by the dynamic loader."""
    major, minor = python_version
    if any(any(folder.glob(f"libpython{major}*.{minor}.so*")) for folder in library_dirs):
        return
    if ctypes.util.find_library(f"python{major}.{minor}") is not None:
        return
    raise ServerError(
        f"the Python backend stub needs libpython{major}.{minor}.so.1.0, which is not installed. "
        f"Install it with `apt-get install libpython{major}.{minor}` (Debian/Ubuntu) or a "
        "Python built with --enable-shared"
    )


def _is_fresh(target: Path, files: dict[str, Path]) -> bool:
    for name, source in files.items():
        copy = target / "python" / name
        if not copy.is_file():
            return False
        src, dst = source.stat(), copy.stat()
        if (src.st_size, src.st_mtime_ns) != (dst.st_size, dst.st_mtime_ns):
            return False
    return True


def prepare_backend_directory(
    files: dict[str, Path], root: Path, python_version: tuple[int, int]
) -> Path:
    """Copy `files` into `<root>/py<X.Y>/python/` unless already there; return `<root>/py<X.Y>`.

    Built in a temporary folder beside the target and renamed into place, so a concurrent or
    interrupted run never leaves a half-filled backends folder.
    """
    target = root / "py{}.{}".format(*python_version)
    if _is_fresh(target, files):
        return target
    root.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        (build / "python").mkdir()
        for name, source in files.items():
            shutil.copy2(source, build / "python" / name)
        if target.exists():
            stale = Path(tempfile.mkdtemp(prefix=".stale-", dir=root))
            os.replace(target, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(build, target)
        except OSError:
            if not _is_fresh(target, files):  # lost a race against a different copy
                raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return target


def find_tritonserver(
    *, backends_dir: Path | None = None, search_path: str | None = None
) -> TritonInstall:
    """tritonserver on `search_path` (default $PATH), else the one bundled in nvidia-pytriton.

    For the bundled one the backends folder is prepared under `backends_dir`
    (default `<project>/.cache/triton-backends`).
    """
    on_path = shutil.which("tritonserver", path=search_path)
    if on_path is not None:
        return TritonInstall(executable=Path(on_path))
    layout = _pytriton_layout()
    python_version = sys.version_info[:2]
    files = layout.backend_files(python_version)
    _check_sources(layout, files, "{}.{}".format(*python_version))
    library_dirs = (layout.libs_dir,)
    check_libpython(python_version, library_dirs)
    backend_directory = prepare_backend_directory(
        files, backends_dir or default_backends_dir(), python_version
    )
    return TritonInstall(
        executable=layout.executable,
        backend_directory=backend_directory,
        library_dirs=library_dirs,
        bundled=True,
    )
