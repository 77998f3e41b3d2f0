"""Alerts: a refused batch or a failed run reaches a person.

Two Prefect Automations, created (idempotently) by ``retrain alerts setup``, notify through one
notification block:

- ``retrain: data check failed`` fires on the ``retrain.data-check.failed`` event the data-check
  step emits; the message names each failed check and links the run.
- ``retrain: run failed or crashed`` fires on any other Failed, Crashed or TimedOut run of the
  ``retrain`` flow. Runs refused by a data check are left out (their state message names
  ``DataCheckFailed``), so a refused batch alerts once, not twice.

A self-hosted Prefect server can notify only through Prefect's built-in notification blocks
(Slack webhook, custom webhook, Teams, ...), so email goes out from the deployment flow's own
failure hook, over SMTP from the settings (``email_on_failure``).
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from data.settings import Settings
from flows import FLOW_NAME
from tasks.checks import DATA_CHECK_FAILED_EVENT

if TYPE_CHECKING:
    from prefect.events.schemas.automations import AutomationCore

DATA_CHECK_AUTOMATION = "retrain: data check failed"
RUN_FAILED_AUTOMATION = "retrain: run failed or crashed"
# The text every notification carries; Slack's incoming webhooks read "text" too.
WEBHOOK_JSON = {"text": "{{subject}}\n{{body}}"}

DATA_CHECK_SUBJECT = "retrain: data checks refused the batch in run {{ event.payload.flow_run_name }}"
DATA_CHECK_BODY = """\
Data checks refused a batch of {{ event.payload.rows }} new rows: nothing was trained, nothing was \
quarantined, the champion is unchanged.
{% for check in event.payload.failed_checks %}- {{ check.name }} ({{ check.expectation }}): \
{% if check.failed_rows %}{{ check.failed_rows }} rows; {% endif %}{{ check.detail }}\
{% if check.example_ids %}; example ids {{ check.example_ids | join(", ") }}{% endif %}
{% endfor %}Run: {{ event.payload.flow_run_url or event.payload.flow_run_name }}"""

RUN_FAILED_SUBJECT = "retrain: run {{ flow_run.name }} {{ flow_run.state.name }}"
RUN_FAILED_BODY = """\
Flow run {{ flow_run.name }} of flow {{ flow.name }}{% if deployment %} (deployment {{ deployment.name }}){% endif %} \
entered {{ flow_run.state.name }}; the champion is unchanged.
{{ flow_run.state.message }}
Run: """


def run_link_template() -> str:
    """The run's link in the failed-run message. A self-hosted server rarely knows its own UI address
    (``ui_url`` renders None there), so the client's, known when the automation is set up, is baked in."""
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    return f"{ui.rstrip('/')}/runs/flow-run/{{{{ flow_run.id }}}}" if ui else "{{ flow_run | ui_url }}"

Channel = Literal["slack", "webhook", "block"]


@dataclass(frozen=True)
class AlertSetup:
    """What ``setup_alerts`` did: the block it notifies through and each automation, created or updated."""

    block: str
    automations: dict[str, str]  # name -> "created" | "updated"


def data_check_automation(block_document_id: UUID) -> AutomationCore:
    """Notify on every ``retrain.data-check.failed`` event."""
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    return AutomationCore(
        name=DATA_CHECK_AUTOMATION,
        description="A batch of newly labeled rows failed its data checks; nothing was trained. "
                    "Created by `retrain alerts setup`.",
        trigger=EventTrigger(expect={DATA_CHECK_FAILED_EVENT}, match={"prefect.resource.id": "retrain.labeled-data.*"},
                             posture="Reactive", threshold=1),
        actions=[SendNotification(block_document_id=block_document_id, subject=DATA_CHECK_SUBJECT,
                                  body=DATA_CHECK_BODY)],
    )


def run_failed_automation(block_document_id: UUID) -> AutomationCore:
    """Notify on every failed, crashed or timed-out ``retrain`` run, except those a data check refused."""
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    return AutomationCore(
        name=RUN_FAILED_AUTOMATION,
        description="A retraining run failed or crashed (refused batches alert through the data-check "
                    "automation instead). Created by `retrain alerts setup`.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.TimedOut"},
            match={"prefect.resource.id": "prefect.flow-run.*", "prefect.state-message": "!*DataCheckFailed*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": FLOW_NAME},
            posture="Reactive", threshold=1,
        ),
        actions=[SendNotification(block_document_id=block_document_id, subject=RUN_FAILED_SUBJECT,
                                  body=RUN_FAILED_BODY + run_link_template())],
    )


def save_notification_block(settings: Settings, channel: Channel, block: str | None = None) -> tuple[UUID, str]:
    """Save (or overwrite) the notification block; returns its id and ``type-slug/name``.

    ``slack``: a SlackWebhook block on ``RETRAIN_ALERT_SLACK_WEBHOOK_URL``. ``webhook``: a custom
    webhook POSTing ``{"text": subject + body}`` to ``RETRAIN_ALERT_WEBHOOK_URL``; the URL is kept in
    the block's secrets, so neither the UI nor a log shows it. ``block``: an existing notification
    block, ``type-slug/name``, made in the UI (Teams, PagerDuty, Discord, ...).
    """
    from prefect.blocks.notifications import CustomWebhookNotificationBlock, SlackWebhook
    from prefect.client.orchestration import get_client

    if channel == "block":
        if not block or "/" not in block:
            raise ValueError("--block takes TYPE-SLUG/NAME of a notification block, e.g. slack-webhook/team-ml")
        slug, name = block.split("/", 1)
        from prefect.exceptions import ObjectNotFound

        with get_client(sync_client=True) as client:
            try:
                document = client.read_block_document_by_name(name, slug, include_secrets=False)
            except ObjectNotFound:
                raise ValueError(f"no block {block} on the Prefect server (Blocks page of the UI)") from None
            capabilities = document.block_schema.capabilities if document.block_schema else []
        if "notify" not in capabilities:
            raise ValueError(f"block {block} is not a notification block")
        return document.id, block
    if channel == "slack":
        if settings.alert_slack_webhook_url is None:
            raise ValueError("set RETRAIN_ALERT_SLACK_WEBHOOK_URL to the Slack incoming webhook first")
        saved = SlackWebhook(url=settings.alert_slack_webhook_url)
    elif channel == "webhook":
        if settings.alert_webhook_url is None:
            raise ValueError("set RETRAIN_ALERT_WEBHOOK_URL to the URL that should receive the alerts first")
        saved = CustomWebhookNotificationBlock(
            name=settings.alert_block, url="{{webhook_url}}", json_data=WEBHOOK_JSON,
            secrets={"webhook_url": settings.alert_webhook_url.get_secret_value()},
        )
    else:
        raise ValueError(f"unknown alert channel {channel!r}: slack, webhook or block")
    block_id = saved.save(settings.alert_block, overwrite=True)
    return block_id, f"{saved.get_block_type_slug()}/{settings.alert_block}"


def upsert_automation(automation: AutomationCore) -> str:
    """Create the automation, or update the one of that name (and drop duplicates): setup is idempotent."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(automation.name)
        if not existing:
            client.create_automation(automation)
            return "created"
        client.update_automation(existing[0].id, automation)
        for duplicate in existing[1:]:
            client.delete_automation(duplicate.id)
        return "updated"


def setup_alerts(settings: Settings, channel: Channel, block: str | None = None) -> AlertSetup:
    """Save the notification block and point both automations at it."""
    block_id, block_name = save_notification_block(settings, channel, block)
    done = {automation.name: upsert_automation(automation)
            for automation in (data_check_automation(block_id), run_failed_automation(block_id))}
    return AlertSetup(block=block_name, automations=done)


def send_test_notification(block_name: str) -> None:
    """Send one message through the block, from this machine, to check the channel end to end."""
    from prefect.blocks.core import Block

    Block.load(block_name).notify("retrain: test alert", subject="retrain: alerts are set up")


# --- email, from the flow's own failure hook ---------------------------------------------------


def failure_email(flow_run_name: str, state_name: str, message: str | None, url: str | None) -> tuple[str, str]:
    """Subject and body of the email about a failed or crashed run."""
    message = message or ""
    if "DataCheckFailed" in message:
        subject = f"retrain: data checks refused the batch in run {flow_run_name}"
        first = "Data checks refused the batch: nothing was trained, nothing was quarantined."
    else:
        subject = f"retrain: run {flow_run_name} {state_name}"
        first = f"Flow run {flow_run_name} entered {state_name}."
    return subject, f"{first} The champion is unchanged.\n\n{message}\n\nRun: {url or flow_run_name}\n"


def send_email(settings: Settings, subject: str, body: str) -> None:
    """Send one plain-text email to ``RETRAIN_ALERT_EMAIL_TO`` through ``RETRAIN_SMTP_HOST``."""
    if not settings.alert_email_to:
        return
    if not settings.smtp_host:
        raise ValueError("RETRAIN_ALERT_EMAIL_TO is set but RETRAIN_SMTP_HOST is not")
    email = EmailMessage()
    email["Subject"] = subject
    email["From"] = settings.alert_email_from
    email["To"] = ", ".join(settings.alert_email_to)
    email.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
        smtp.send_message(email)


def email_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow state hook (on_failure, on_crashed): email the run's outcome when RETRAIN_ALERT_EMAIL_TO is set."""
    from prefect.utilities.urls import url_for

    settings = Settings()
    if not settings.alert_email_to:
        return
    subject, body = failure_email(flow_run.name, state.name, state.message, url_for("flow-run", obj_id=flow_run.id))
    send_email(settings, subject, body)
