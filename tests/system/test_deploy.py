"""The deployment: typed run form, weekly cron schedule, one run at a time, progress artifact.

The last tests run against a real `prefect server` and a real `retrain serve` process, on loopback.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from data.settings import RunOptions, Settings
from data.store import connect
from deploy.deployments import build_deployment
from models import registry
from tests.helpers import add_rows, sentiment_rows
from tests.prefect_server import wait_for


def test_deployment_takes_schedule_overlap_and_form_defaults_from_the_settings():
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy

    settings = Settings(schedule_cron="30 2 * * 0", schedule_timezone="Europe/Berlin", on_overlap="wait",
                        deployment_name="nightly", epochs=4)
    deployment = build_deployment(settings)
    assert deployment.name == "nightly" and deployment.flow_name == "retrain"
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("30 2 * * 0", "Europe/Berlin")
    assert deployment.concurrency_limit == 1
    assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE
    assert deployment.parameters["options"]["epochs"] == 4
    assert deployment.enforce_parameter_schema and deployment.entrypoint == "deploy.flow.retrain_deployment"

    default = build_deployment(Settings())
    assert default.name == "weekly" and default.schedules[0].schedule.cron == "0 3 * * 1"
    assert default.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW
    with pytest.raises(ValidationError, match="cron"):
        build_deployment(Settings(schedule_cron="61 3 * * 1"))
    with pytest.raises(ValidationError, match="time zone"):
        Settings(schedule_timezone="Europe/Atlantis")


def test_a_scheduled_run_is_recorded_as_such(monkeypatch):
    from types import SimpleNamespace

    import deploy.flow

    for auto_scheduled, expected in ((True, "schedule"), (False, "manual")):
        context = SimpleNamespace(flow_run=SimpleNamespace(auto_scheduled=auto_scheduled))
        monkeypatch.setattr(deploy.flow.FlowRunContext, "get", classmethod(lambda cls, c=context: c))
        assert deploy.flow.trigger_name() == expected


@pytest.mark.usefixtures("prefect_server")
def test_fine_tuning_moves_a_progress_artifact_after_every_epoch(flow_settings, monkeypatch):
    import tasks.training
    from flows.retrain import retrain

    calls: list[float] = []
    real_update = tasks.training.update_progress_artifact

    def record(artifact_id, progress, description=None):
        calls.append(round(progress, 1))
        return real_update(artifact_id, progress, description=description)

    monkeypatch.setattr(tasks.training, "update_progress_artifact", record)
    add_rows(flow_settings, sentiment_rows(120, seed=1))
    retrain(RunOptions(epochs=3), triggered_by="test")
    assert calls == [33.3, 66.7, 100.0, 100.0]  # each epoch, then done


# --- against a real Prefect server (the `retrain_served` fixture: tests/conftest.py) ---------------


def test_deployment_is_registered_with_its_weekly_schedule_and_typed_form(retrain_served, live_prefect_server):
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy
    from prefect.exceptions import PrefectHTTPStatusError

    served = retrain_served
    with live_prefect_server.settings(), live_prefect_server.client() as client:
        deployment = client.read_deployment(served.deployment_id)
        (schedule,) = deployment.schedules
        assert schedule.active and (schedule.schedule.cron, schedule.schedule.timezone) == ("0 3 * * 1",
                                                                                            "Europe/Berlin")
        assert deployment.global_concurrency_limit.limit == 1
        assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW
        form = deployment.parameter_openapi_schema["definitions"]["RunOptions"]["properties"]
        assert form["epochs"]["title"] == "Epochs" and form["epochs"]["maximum"] == 100
        assert form["dry_run"]["type"] == "boolean"
        assert deployment.parameters["options"]["epochs"] == 8  # the serving process's RETRAIN_EPOCHS

        # Out of bounds: the API refuses the run before any process starts.
        with pytest.raises(PrefectHTTPStatusError, match="epochs"):
            client.create_flow_run_from_deployment(served.deployment_id, parameters={"options": {"epochs": 0}})

        def scheduled():
            runs = client.read_flow_runs(deployment_filter=DeploymentFilter(
                id=DeploymentFilterId(any_=[served.deployment_id])))
            return [run for run in runs if run.auto_scheduled]

        upcoming = wait_for(scheduled, 60, "the scheduler to plan the weekly runs")
    for run in upcoming:
        local = run.expected_start_time.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.weekday(), local.hour, local.minute) == (0, 3, 0), local


def test_two_runs_triggered_together_exactly_one_trains(retrain_served, live_prefect_server):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    served, settings = retrain_served, retrain_served.settings
    versions_before = len(registry.list_versions(connect(settings)))
    add_rows(settings, sentiment_rows(240, seed=11))
    first, second = served.trigger(), served.trigger()  # a click while the first is starting
    runs = [served.wait_final(first.id), served.wait_final(second.id)]

    states = sorted(run.state.type.value for run in runs)
    assert states == ["CANCELLED", "COMPLETED"], [(r.name, r.state) for r in runs]
    cancelled = next(run for run in runs if run.state.is_cancelled())
    assert "concurrency limit" in cancelled.state.message.lower()
    versions = registry.list_versions(connect(settings))
    assert len(versions) == versions_before + 1  # one run trained: one new model version
    assert versions[-1].triggered_by == "manual" and versions[-1].new_rows >= 240

    completed = next(run for run in runs if run.state.is_completed())
    with live_prefect_server.settings(), live_prefect_server.client() as client:
        artifacts = {a.key: a for a in client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[completed.id])))}
    assert {"data-checks", "fine-tuning-progress", "champion-vs-challenger"} <= set(artifacts)
    assert float(artifacts["fine-tuning-progress"].data) == 100.0
    assert "Champion" in artifacts["champion-vs-challenger"].description
