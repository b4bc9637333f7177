"""Each layer of values is type-checked on its own: a later layer never hides a bad value."""

from __future__ import annotations

import pytest

from tritonsla.errors import ConfigErrors
from tritonsla.repo.pipeline import load_and_check


@pytest.fixture(autouse=True)
def in_project(project, monkeypatch) -> None:
    """Paths in messages are shown relative to the working folder."""
    monkeypatch.chdir(project.root)


def _messages(project, sets: list[str] | None = None) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_and_check(project.deploy, project.out, sets)
    return [str(error) for error in caught.value.errors]


def _profile_value(section: str, key: str, value: object):
    def change(data: dict) -> None:
        data.setdefault(section, {})[key] = value

    return change


def _override(profile: str, section: str, key: str, value: object):
    def change(data: dict) -> None:
        data["overrides"].setdefault(profile, {}).setdefault(section, {})[key] = value

    return change


def test_a_bad_profile_value_under_a_deploy_override_is_reported_against_the_profile(project):
    # deploy/cpu.yaml sets overrides.interactive.batching.max_batch_size: 16
    project.edit("profiles/interactive.yaml", _profile_value("batching", "max_batch_size", "eight"))
    [message] = _messages(project)
    assert message.startswith("profiles/interactive.yaml: `batching.max_batch_size`: ")
    assert "valid integer (got 'eight')" in message and "Fix: write a int value" in message


def test_a_bad_deploy_override_under_a_set_option_is_reported_against_the_deploy_file(project):
    project.edit("deploy/cpu.yaml", _override("batch", "batching", "max_batch_size", "many"))
    [message] = _messages(project, ["batch.batching.max_batch_size=8"])
    assert message.startswith("deploy/cpu.yaml: `overrides.batch.batching.max_batch_size`: ")
    assert "(got 'many')" in message


def test_a_bad_set_value_is_reported_against_the_option(project):
    [message] = _messages(project, ["realtime.queue.max_queue_size=-4"])
    assert message.startswith("--set: `realtime.queue.max_queue_size`: ")
    assert "greater than or equal to 0" in message


def test_every_layer_reports_its_own_error_once(project):
    project.edit("profiles/batch.yaml", _profile_value("queue", "max_queue_size", "lots"))
    project.edit("deploy/cpu.yaml", _override("batch", "queue", "max_queue_size", -1))
    messages = _messages(project, ["batch.queue.max_queue_size=8", "batch.slo.ttft_ms=fast"])
    assert [m.split(": ")[0] + ": " + m.split(": ")[1] for m in messages] == [
        "profiles/batch.yaml: `queue.max_queue_size`",
        "deploy/cpu.yaml: `overrides.batch.queue.max_queue_size`",
        "--set: `batch.slo.ttft_ms`",
    ]


def test_typos_in_overrides_are_reported_once(project):
    project.edit("deploy/cpu.yaml", _override("realtime", "batching", "max_batch_sise", 2))
    [message] = _messages(project)
    assert "`overrides.realtime.batching.max_batch_sise`" in message
    assert "did you mean `max_batch_size`" in message


def test_a_profile_file_without_its_name_is_still_refused(project):
    def drop_name(data: dict) -> None:
        del data["name"]

    project.edit("profiles/realtime.yaml", drop_name)
    messages = _messages(project)
    assert any(m.startswith("profiles/realtime.yaml: `name`: Field required") for m in messages)
