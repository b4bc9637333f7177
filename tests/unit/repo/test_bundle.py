"""The tritonsla code a rendered repository carries: .tritonsla.zip, its stamp, its bootstrap."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import tritonsla
from tritonsla.repo.bundle import BUNDLE, STAMP, closure, read_stamp
from tritonsla.repo.pipeline import render
from tritonsla.repo.render import ADAPTERS_DIR

TEMPLATES = sorted(ADAPTERS_DIR.glob("*/model.py"))
BOOTSTRAP = 'sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".tritonsla.zip"))'


def test_every_model_template_puts_the_bundle_first_before_importing_tritonsla():
    assert len(TEMPLATES) == 5
    for template in TEMPLATES:
        text = template.read_text()
        assert BOOTSTRAP in text, template
        assert text.index(BOOTSTRAP) < text.index("from tritonsla"), template


def test_bundle_holds_every_tritonsla_module_the_models_import(project):
    render(project.deploy, project.out)
    stamp = read_stamp(project.out / BUNDLE)
    modules, _ = closure(template.read_text() for template in TEMPLATES)
    cpu_modules = {m for m in modules if not m.startswith("tritonsla.llmapi")}
    assert cpu_modules <= set(stamp["modules"]), "the cpu repository needs no llmapi module"
    assert {"tritonsla.cpu.engine", "tritonsla.text.tokenizer", "tritonsla.bls.core"} <= set(
        stamp["modules"]
    )
    assert stamp["tritonsla"] == tritonsla.__version__ and len(stamp["sha256"]) == 64
    assert {"numpy", "tokenizers", "safetensors"} <= set(stamp["requires"])
    assert "json" not in stamp["requires"] and "tritonsla" not in stamp["requires"]
    with zipfile.ZipFile(project.out / BUNDLE) as archive:
        names = archive.namelist()
    assert names == sorted(names) and STAMP in names
    assert "tritonsla/__init__.py" in names and "tritonsla/cli/main.py" not in names


def test_python_imports_tritonsla_from_the_bundle_alone(project):
    render(project.deploy, project.out)
    code = (
        f"import sys; sys.path.insert(0, {str(project.out / BUNDLE)!r}); "
        "import tritonsla.contract, tritonsla.paths; print(tritonsla.contract.__file__)"
    )
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(project.out / BUNDLE))


def test_bundle_is_reproducible_and_part_of_render_check(project):
    render(project.deploy, project.out)
    first = (project.out / BUNDLE).read_bytes()
    assert render(project.deploy, project.out, check=True).diff == []
    (project.out / BUNDLE).write_bytes(first[:-1])
    diff = render(project.deploy, project.out, check=True).diff
    assert diff == [f"Binary file model_repo/{BUNDLE} differs\n"]
    render(project.deploy, project.out)
    assert (project.out / BUNDLE).read_bytes() == first


def test_each_per_profile_repository_carries_its_own_bundle(project):
    deploy = project.edit("deploy/cpu.yaml", lambda d: d.update(layout="per-profile"))
    d = project.edit("deploy/cpu.yaml", lambda d: d.pop("budget", None))
    assert d == deploy
    render(deploy, project.out)
    for profile in ("realtime", "interactive", "batch"):
        assert read_stamp(project.out / profile / BUNDLE)["modules"]
    assert not (project.out / BUNDLE).exists()
