"""The retraining deployment: weekly cron schedule, manual runs from the UI, one run at a time.

``retrain serve`` serves it from a local process (``serve``); ``prefect.yaml`` declares the same
deployment for a work pool (``prefect deploy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from data.settings import RunOptions, Settings

if TYPE_CHECKING:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.deployments.runner import RunnerDeployment

DESCRIPTION = (
    "Retrain the text classifier on newly labeled rows: pull, validate (Great Expectations), fine-tune the "
    "champion, evaluate both on the same held-out set, promote only a better challenger. Runs on a weekly "
    "schedule; click Run for a manual run (the form's values override the RETRAIN_ settings for that run)."
)


def concurrency(settings: Settings) -> ConcurrencyLimitConfig:
    """At most one run of the deployment at a time; a run triggered meanwhile is cancelled or waits its turn.

    Prefect enforces it server-side when a run is about to start: a second run never trains in
    parallel, whoever triggered it (schedule, UI, API, automation).
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    strategy = ConcurrencyLimitStrategy.CANCEL_NEW if settings.on_overlap == "cancel" \
        else ConcurrencyLimitStrategy.ENQUEUE
    return ConcurrencyLimitConfig(limit=1, collision_strategy=strategy)


def weekly_schedule(settings: Settings):
    """The cron schedule from the settings, validated by Prefect here rather than at the API."""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.schedules import Cron

    CronSchedule(cron=settings.schedule_cron, timezone=settings.schedule_timezone)  # raises on a bad cron
    return Cron(settings.schedule_cron, timezone=settings.schedule_timezone)


def build_deployment(settings: Settings) -> RunnerDeployment:
    """The deployment ``retrain/<deployment_name>`` for a local runner."""
    from prefect.deployments.runner import EntrypointType

    from deploy.flow import retrain_deployment  # lazy: the flow imports TensorFlow (about 8 s)

    return retrain_deployment.to_deployment(
        name=settings.deployment_name,
        schedules=[weekly_schedule(settings)],
        concurrency_limit=concurrency(settings),
        # The form starts from the serving process's RETRAIN_ settings: the ones its runs inherit.
        parameters={"options": RunOptions.from_settings(settings).model_dump()},
        description=DESCRIPTION,
        tags=["retrain"],
        enforce_parameter_schema=True,
        # A module path, not a file path: the runs find the flow wherever `retrain serve` was started.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def serve(settings: Settings) -> None:
    """Register the deployment and run its flow runs from this process until interrupted."""
    from prefect import serve as prefect_serve

    prefect_serve(build_deployment(settings))
