"""The flow the deployments run: the retraining runbook behind a typed run form, with email alerts.

Same flow name as ``flows.retrain`` (``retrain``), so runs from the CLI, the schedule and the UI
are listed together. It runs the runbook's body in its own flow run (no subflow).
"""

from __future__ import annotations

from prefect import flow
from prefect.context import FlowRunContext

from data.settings import NO_RUN_OPTIONS, RunOptions
from deploy.alerts import email_on_failure
from flows import FLOW_NAME
from flows.retrain import retrain
from tasks.report import RunReport


def trigger_name() -> str:
    """What started this run, as recorded with the model version: the schedule, or a person (UI or API)."""
    context = FlowRunContext.get()
    return "schedule" if context and context.flow_run and context.flow_run.auto_scheduled else "manual"


@flow(name=FLOW_NAME, on_failure=[email_on_failure], on_crashed=[email_on_failure], log_prints=False)
def retrain_deployment(options: RunOptions = NO_RUN_OPTIONS) -> RunReport:
    """Retrain the champion on the rows labeled since it was trained; promote the challenger only if it is better.

    Args:
        options: Retraining options for this run. Fields a run is not given come from the RETRAIN_ settings.
    """
    return retrain.fn(options, triggered_by=trigger_name())
