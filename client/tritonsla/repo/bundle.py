"""The tritonsla code a rendered repository's Python models need, bundled into the repository.

Every rendered model.py imports tritonsla (they are thin adapters over package code). So that a
stock Triton container serves the repository with only the third-party packages installed, the
render packs the modules those imports reach into one zip file, `<repository>/.tritonsla.zip`,
and each model.py puts it first on sys.path (Python imports pure modules from a zip). A file,
not a folder: Triton takes every folder of the repository root for a model (a `.tritonsla/`
folder fails the server's start: "No model version was found"), and ignores files there.

The bundle is version-stamped: its BUNDLE.json names the tritonsla version, the modules, a
sha256 over their contents and the third-party modules they import, which is what the serving
Python must provide. Modules are found by reading import statements (ast), from the model
templates down, so the bundle holds exactly what the models can import. The zip is
byte-for-byte reproducible (fixed entry order, dates and modes), so `render --check` holds.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import tritonsla

BUNDLE = ".tritonsla.zip"
STAMP = "BUNDLE.json"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
"""The earliest date a zip entry can hold: entries carry no build time."""
PACKAGE_DIR = Path(tritonsla.__file__).resolve().parent
ROOT_PACKAGE = "tritonsla"


def _imports(source: str) -> Iterable[tuple[str, tuple[str, ...]]]:
    """(module, imported names) of every absolute import statement in `source`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, tuple(alias.name for alias in node.names)


def _module_file(module: str) -> Path | None:
    """The source file of tritonsla module `module` (package __init__ or module.py)."""
    parts = module.split(".")[1:]
    base = PACKAGE_DIR.joinpath(*parts)
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _package_inits(module: str) -> list[str]:
    """The packages above `module`, each needing its __init__.py in the bundle."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def closure(sources: Iterable[str]) -> tuple[dict[str, Path], set[str]]:
    """The tritonsla modules `sources` reach (name -> file), and the top-level names of the
    other modules they import (standard library included)."""
    found: dict[str, Path] = {}
    external: set[str] = set()
    pending = [source for source in sources]
    while pending:
        for module, names in _imports(pending.pop()):
            if module.split(".")[0] != ROOT_PACKAGE:
                external.add(module.split(".")[0])
                continue
            candidates = [module, *(f"{module}.{name}" for name in names)]
            for name in [*_package_inits(module), *candidates]:
                path = _module_file(name)
                if path is not None and name not in found:
                    found[name] = path
                    pending.append(path.read_text(encoding="utf-8"))
    return found, external


def third_party(external: set[str]) -> list[str]:
    """The names of `external` that are neither standard library nor Triton's own module."""
    own = {"triton_python_backend_utils", "__future__"}
    return sorted(name for name in external - own if name not in sys.stdlib_module_names)


def _zip(files: dict[str, bytes]) -> bytes:
    """`files` as a reproducible zip archive (sorted, fixed dates and modes, deflated)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def bundle_contents(model_sources: Iterable[str]) -> dict[str, bytes]:
    """Entries of the bundle (tritonsla/... and BUNDLE.json) for models with `model_sources`."""
    modules, external = closure(model_sources)
    files = {
        path.relative_to(PACKAGE_DIR.parent).as_posix(): path.read_bytes()
        for path in sorted(modules.values())
    }
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    stamp = {
        "tritonsla": tritonsla.__version__,
        "sha256": digest.hexdigest(),
        "modules": sorted(modules),
        "requires": third_party(external),
    }
    files[STAMP] = (json.dumps(stamp, indent=2) + "\n").encode()
    return files


def read_stamp(bundle: Path) -> dict:
    """BUNDLE.json of a bundle file."""
    with zipfile.ZipFile(bundle) as archive:
        return json.loads(archive.read(STAMP))


def repository_roots(plan_paths: Iterable[str]) -> list[str]:
    """Prefixes ("" or "<profile>/") of the repositories in a plan, from its model configs."""
    roots = {path.rsplit("/", 2)[0] + "/" if path.count("/") > 1 else "" for path in plan_paths}
    return sorted(roots)


def bundled(plan: dict[str, bytes]) -> dict[str, bytes]:
    """`plan` plus the bundle in each of its repositories (from the model.py files it holds)."""
    configs = [path for path in plan if path.endswith("/config.pbtxt")]
    result = dict(plan)
    for root in repository_roots(configs):
        sources = [
            data.decode("utf-8")
            for path, data in plan.items()
            if path.startswith(root) and path.endswith("/model.py")
        ]
        if sources:
            result[root + BUNDLE] = _zip(bundle_contents(sources))
    return result
