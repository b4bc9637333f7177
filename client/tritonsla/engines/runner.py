"""Run engine build plans: subprocesses, logs, staging folders, manifests (the side effects).

Each tool runs from its argv list (never a shell string) with its output streamed into
<engines_dir>/_logs/<profile>.log, under a rich progress line per step. A tool writes into a
staging folder; a converted checkpoint or engine is moved into place only after it is complete:
an engine's config.json must pass repo.engine_config.check_engine_config, and its manifest is
written last. A failing step stops the build, names the profile, the step and the log, and
leaves the previous engine untouched.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tritonsla.engines.folders import OWNER, discard, fresh
from tritonsla.engines.manifest import (
    checkpoint_manifest,
    engine_manifest,
    is_current,
    model_fingerprint,
    write_manifest,
)
from tritonsla.engines.plan import engines_dir
from tritonsla.engines.steps import EnginePlan, Step, Toolchain
from tritonsla.engines.tools import require_tools
from tritonsla.errors import ConfigErrors, EngineBuildError
from tritonsla.folders import check_replaceable, replace_folder
from tritonsla.profiles.loading import Deployment
from tritonsla.repo.engine_config import check_engine_config

LOGS = "_logs"
TAIL_LINES = 12


@dataclass(frozen=True)
class Outcome:
    """What happened to one profile: built, up to date, ready (cpu) or nothing to build (llmapi)."""

    profile: str
    status: str
    detail: str


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(f"  | {line}" for line in text[-lines:])


class _Builder:
    """Builds the plans of one run; converted checkpoints are made at most once per run."""

    def __init__(self, dep: Deployment, version: str, console: Console, force: bool) -> None:
        self.dep = dep
        self.version = version
        self.console = console
        self.force = force
        self.ready: set[Path] = set()
        self.model: dict[str, Any] | None = None

    def run(self, plan: EnginePlan) -> Outcome:
        if plan.kind == "cpu":
            return self._cpu(plan)
        if plan.kind == "llmapi":
            return self._llmapi(plan)
        return self._engine(plan)

    def _llmapi(self, plan: EnginePlan) -> Outcome:
        checkpoint = plan.checkpoint
        if checkpoint is None:
            return Outcome(plan.profile, "nothing to build", plan.note)
        if self.model is None:
            self.model = model_fingerprint(self.dep.path(self.dep.deploy.model.checkpoint))
        if checkpoint.folder in self.ready or (
            not self.force
            and is_current(
                checkpoint.folder, checkpoint_manifest(checkpoint, self.model, self.version)
            )
        ):
            self.ready.add(checkpoint.folder)
            return Outcome(plan.profile, "up to date", str(checkpoint.folder))
        with self._logged(plan) as run:
            self._checkpoint(plan, run)
        return Outcome(plan.profile, "quantized", str(checkpoint.folder))

    @contextmanager
    def _logged(self, plan: EnginePlan) -> Iterator[_StepRunner]:
        """A step runner writing `<engines_dir>/_logs/<profile>.log`, with progress lines."""
        log_path = engines_dir(self.dep) / LOGS / f"{plan.profile}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with (
            log_path.open("w", encoding="utf-8") as log,
            Progress(*columns, console=self.console) as progress,
        ):
            yield _StepRunner(plan.profile, log, log_path, progress)

    def _cpu(self, plan: EnginePlan) -> Outcome:
        if not (plan.folder / "config.json").is_file():
            raise EngineBuildError(
                f"profile `{plan.profile}`: the cpu engine's checkpoint {plan.folder} is missing "
                f"(no config.json). Create the default model with `tritonsla assets --out "
                f"{plan.folder}` (`./build.sh setup` makes assets/tiny-gpt2), or point "
                "`model.checkpoint` of the deploy file at a GPT-2 folder (config.json, safetensors)"
            )
        return Outcome(plan.profile, "ready", plan.note)

    def _engine(self, plan: EnginePlan) -> Outcome:
        if self.model is None:
            self.model = model_fingerprint(self.dep.path(self.dep.deploy.model.checkpoint))
        expected = engine_manifest(plan, self.model, self.version)
        if not self.force and is_current(plan.folder, expected):
            return Outcome(plan.profile, "up to date", str(plan.folder))
        check_replaceable(plan.folder, OWNER, force=self.force)  # before hours of building
        with self._logged(plan) as run:
            self._checkpoint(plan, run)
            run.staged(plan.build, lambda staging: self._install_engine(plan, expected, staging))
        return Outcome(plan.profile, "built", str(plan.folder))

    def _checkpoint(self, plan: EnginePlan, run: _StepRunner) -> None:
        checkpoint = plan.checkpoint
        if checkpoint.folder in self.ready:
            return
        expected = checkpoint_manifest(checkpoint, self.model, self.version)
        if self.force or not is_current(checkpoint.folder, expected):
            check_replaceable(checkpoint.folder, OWNER, force=self.force)

            def finish(staging: Path) -> None:
                write_manifest(staging, expected)
                replace_folder(staging, checkpoint.folder, owner=OWNER, force=self.force)

            run.staged(checkpoint.step, finish)
        self.ready.add(checkpoint.folder)

    def _install_engine(self, plan: EnginePlan, expected: dict, staging: Path) -> None:
        config = staging / "config.json"
        problems = check_engine_config(self.dep, plan.profile, config)
        if problems:
            raise ConfigErrors(problems)
        write_manifest(staging, expected)
        replace_folder(staging, plan.folder, owner=OWNER, force=self.force)


class _StepRunner:
    """Runs the steps of one profile into its log file, one progress line per step."""

    def __init__(self, profile: str, log: IO[str], log_path: Path, progress: Progress) -> None:
        self.profile = profile
        self.log = log
        self.log_path = log_path
        self.progress = progress

    def staged(self, step: Step, finish: Callable[[Path], None]) -> None:
        """Run `step` into its fresh staging folder, then `finish(staging)` (check, manifest,
        install); whatever fails, the staging folder is removed."""
        fresh(step.output)
        try:
            self.run(step)
            self._require_config(step, step.output)
            finish(step.output)
        finally:
            discard(step.output)

    def _require_config(self, step: Step, folder: Path) -> None:
        if not (folder / "config.json").is_file():
            raise EngineBuildError(
                f"profile `{self.profile}`: step `{step.name}` exited 0 but wrote no config.json "
                f"into {folder}. Log: {self.log_path}"
            )

    def run(self, step: Step) -> None:
        """Run one step; EngineBuildError names the profile, the step and the log on failure."""
        task = self.progress.add_task(f"{self.profile}: {step.name}", total=1)
        self.log.write(f"$ {step.shell()}\n")
        self.log.flush()
        try:
            code = subprocess.run(
                step.argv,
                cwd=step.cwd,
                env=step.environment(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                check=False,
            ).returncode
        except OSError as error:
            raise EngineBuildError(
                f"profile `{self.profile}`: step `{step.name}` could not start "
                f"{step.argv[0]}: {error}"
            ) from error
        if code != 0:
            self.progress.update(task, description=f"{self.profile}: {step.name} [red]failed")
            self.log.flush()
            raise EngineBuildError(
                f"profile `{self.profile}`: step `{step.name}` failed with exit status {code}; "
                f"the previous engine, if any, is untouched.\nCommand: {shlex.join(step.argv)}\n"
                f"Log: {self.log_path}\n{_tail(self.log_path)}"
            )
        self.progress.update(task, completed=1)


def run_plans(
    dep: Deployment,
    plans: list[EnginePlan],
    tools: Toolchain,
    console: Console,
    *,
    force: bool = False,
) -> list[Outcome]:
    """Build every plan in order (up-to-date ones are skipped unless `force`); stop at the
    first failure. Only folders an earlier build made are replaced, any folder with `force`."""
    builder = _Builder(dep, require_tools(plans, tools), console, force)
    return [builder.run(plan) for plan in plans]
