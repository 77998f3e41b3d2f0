"""Alerts: a refused batch alerts once naming the failed check, any other failed run alerts, a passing run never.

The unit tests check the automations' triggers and messages with the Prefect server's own matching and
template code, and the email path against a local SMTP receiver. The last tests run the real thing: a
`prefect server`, `retrain serve`, `retrain alerts setup --webhook`, and a local HTTP receiver standing in
for Slack.
"""

from __future__ import annotations

import socketserver
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from data.pull import waiting_counts
from data.settings import Settings
from data.store import connect, examples_table
from deploy.alerts import (
    DATA_CHECK_AUTOMATION,
    RUN_FAILED_AUTOMATION,
    data_check_automation,
    email_on_failure,
    failure_email,
    run_failed_automation,
    save_notification_block,
    send_email,
    setup_alerts,
)
from models import registry
from tasks.checks import DATA_CHECK_FAILED_EVENT, data_check_failed_payload
from tests.helpers import add_rows, sentiment_rows
from tests.prefect_server import VENV_BIN, WebhookReceiver, wait_for
from validation import CheckResult, ValidationReport

FLOW_RUN_ID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
DATA_CHECK_MESSAGE = ("Flow run encountered an exception: DataCheckFailed: 2 of 19 data checks failed on a batch of "
                      "32 rows:\n- expect_column_values_to_be_in_set (label_in_label_set): 1 row failing")


def _report() -> ValidationReport:
    return ValidationReport(row_count=32, checks=(
        CheckResult("label_in_label_set", "expect_column_values_to_be_in_set", False, 1,
                    "1 of 32 rows has a label outside ['negative', 'positive']", (271,)),
        CheckResult("text_length", "expect_column_value_lengths_to_be_between", True, 0, "ok"),
    ))


def _flow_run_event(state: str, message: str, flow: str = "retrain"):
    from prefect.server.events.schemas.events import ReceivedEvent

    return ReceivedEvent(
        id=uuid.uuid4(), occurred=datetime.now(UTC), event=f"prefect.flow-run.{state}",
        resource={"prefect.resource.id": f"prefect.flow-run.{FLOW_RUN_ID}", "prefect.resource.name": "brave-otter",
                  "prefect.state-message": message, "prefect.state-name": state, "prefect.state-type": state.upper()},
        related=[{"prefect.resource.id": f"prefect.flow.{uuid.uuid4()}", "prefect.resource.role": "flow",
                  "prefect.resource.name": flow}],
    )


def _data_check_event():
    from prefect.server.events.schemas.events import ReceivedEvent

    return ReceivedEvent(
        id=uuid.uuid4(), occurred=datetime.now(UTC), event=DATA_CHECK_FAILED_EVENT,
        resource={"prefect.resource.id": "retrain.labeled-data.labeled_examples",
                  "prefect.resource.name": "labeled_examples"},
        payload=data_check_failed_payload(_report(), "brave-otter", "http://127.0.0.1:4200/runs/flow-run/1"),
    )


def _server_trigger(automation):
    from prefect.server.events.schemas.automations import EventTrigger

    return EventTrigger.model_validate(automation.trigger.model_dump(mode="json"))


def test_a_refused_batch_matches_only_the_data_check_automation():
    data_check = _server_trigger(data_check_automation(uuid.uuid4()))
    run_failed = _server_trigger(run_failed_automation(uuid.uuid4()))

    assert data_check.covers(_data_check_event())
    assert not run_failed.covers(_data_check_event())
    # The run that a data check refused ends Failed too; that state change must not alert a second time.
    assert not run_failed.covers(_flow_run_event("Failed", DATA_CHECK_MESSAGE))
    assert not data_check.covers(_flow_run_event("Failed", DATA_CHECK_MESSAGE))


def test_any_other_failed_or_crashed_retrain_run_matches_the_run_automation():
    run_failed = _server_trigger(run_failed_automation(uuid.uuid4()))
    assert run_failed.covers(_flow_run_event("Failed", "Flow run encountered an exception: ValueError: bad preset"))
    assert run_failed.covers(_flow_run_event("Crashed", "Flow run process exited with non-zero status code -9."))
    assert run_failed.covers(_flow_run_event("TimedOut", "Flow run exceeded timeout of 3600.0 second(s)"))
    assert not run_failed.covers(_flow_run_event("Completed", "All states completed."))
    assert not run_failed.covers(_flow_run_event("Cancelled", "Deployment concurrency limit reached."))
    assert not run_failed.covers(_flow_run_event("Failed", "boom", flow="some-other-flow"))


def test_the_data_check_message_names_each_failed_check_and_links_the_run():
    from prefect.server.events.actions import JinjaTemplateAction
    from prefect.server.utilities.user_templates import render_user_template_sync

    JinjaTemplateAction._register_filters_if_needed()
    action = data_check_automation(uuid.uuid4()).actions[0]
    context = {"event": _data_check_event()}
    subject = render_user_template_sync(action.subject, context)
    body = render_user_template_sync(action.body, context)
    assert subject == "retrain: data checks refused the batch in run brave-otter"
    assert "- label_in_label_set (expect_column_values_to_be_in_set): 1 rows" in body
    assert "example ids 271" in body and "text_length" not in body  # passed checks are not listed
    assert body.endswith("Run: http://127.0.0.1:4200/runs/flow-run/1")


def test_the_event_payload_carries_the_failed_checks_and_the_run():
    payload = data_check_failed_payload(_report(), "brave-otter", None)
    assert payload["rows"] == 32 and payload["flow_run_name"] == "brave-otter"
    assert [check["name"] for check in payload["failed_checks"]] == ["label_in_label_set"]
    assert payload["failed_checks"][0]["example_ids"] == ["271"]


def test_a_channel_without_its_url_is_refused_with_the_setting_to_set():
    with pytest.raises(ValueError, match="RETRAIN_ALERT_WEBHOOK_URL"):
        save_notification_block(Settings(), "webhook")
    with pytest.raises(ValueError, match="RETRAIN_ALERT_SLACK_WEBHOOK_URL"):
        save_notification_block(Settings(), "slack")
    with pytest.raises(ValueError, match="TYPE-SLUG/NAME"):
        save_notification_block(Settings(), "block", "just-a-name")


# --- email ---------------------------------------------------------------------------------------


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept one message: what a local relay does."""

    def handle(self) -> None:
        self.wfile.write(b"220 localhost test SMTP\r\n")
        data: list[str] = []
        while line := self.rfile.readline():
            command = line.decode().strip()
            if command.upper() == "DATA":
                self.wfile.write(b"354 go ahead\r\n")
                while (body := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(body.decode())
                self.server.messages.append("".join(data))  # type: ignore[attr-defined]
                self.wfile.write(b"250 queued\r\n")
            elif command.upper().startswith(("EHLO", "HELO")):
                self.wfile.write(b"250 localhost\r\n")
            elif command.upper() == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.messages = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_failed_run_emails_the_addresses_in_the_settings(smtp_server, monkeypatch):
    port = smtp_server.server_address[1]
    for name, value in {"RETRAIN_ALERT_EMAIL_TO": '["ml-team@example.com"]', "RETRAIN_SMTP_HOST": "127.0.0.1",
                        "RETRAIN_SMTP_PORT": str(port), "RETRAIN_SMTP_STARTTLS": "false"}.items():
        monkeypatch.setenv(name, value)
    flow_run = SimpleNamespace(id=uuid.UUID(FLOW_RUN_ID), name="brave-otter")
    email_on_failure(None, flow_run, SimpleNamespace(name="Failed", message=DATA_CHECK_MESSAGE))
    email_on_failure(None, flow_run, SimpleNamespace(name="Crashed", message="process exited with -9"))

    first, second = smtp_server.messages
    assert "To: ml-team@example.com" in first
    assert "Subject: retrain: data checks refused the batch in run brave-otter" in first
    assert "label_in_label_set" in first
    assert "Subject: retrain: run brave-otter Crashed" in second


def test_no_email_without_addresses(smtp_server):
    settings = Settings(smtp_host="127.0.0.1", smtp_port=smtp_server.server_address[1], smtp_starttls=False)
    send_email(settings, "subject", "body")
    assert smtp_server.messages == []
    subject, body = failure_email("brave-otter", "Failed", "ValueError: bad preset", None)
    assert subject == "retrain: run brave-otter Failed" and "ValueError: bad preset" in body


# --- against a real Prefect server (the `retrain_served` fixture: tests/conftest.py) ---------------


@pytest.fixture(scope="module")
def alerting(retrain_served, live_prefect_server):
    """Alerts set up by `retrain alerts setup --webhook`, pointing at a local receiver that stands in for Slack."""
    with WebhookReceiver() as receiver:
        setup = subprocess.run(
            [str(VENV_BIN / "retrain"), "alerts", "setup", "--webhook"],
            env=live_prefect_server.client_env(RETRAIN_ALERT_WEBHOOK_URL=receiver.url),
            capture_output=True, text=True, timeout=180,
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr
        yield SimpleNamespace(served=retrain_served, receiver=receiver, setup=setup)


def test_alerts_setup_is_idempotent_and_keeps_the_url_secret(alerting, live_prefect_server):
    assert f"automation '{DATA_CHECK_AUTOMATION}': created" in alerting.setup.stdout
    assert f"automation '{RUN_FAILED_AUTOMATION}': created" in alerting.setup.stdout
    assert alerting.receiver.url not in alerting.setup.stdout + alerting.setup.stderr

    with live_prefect_server.settings():
        again = setup_alerts(Settings(alert_webhook_url=alerting.receiver.url), "webhook")
        assert set(again.automations.values()) == {"updated"}
        with live_prefect_server.client() as client:
            for name in (DATA_CHECK_AUTOMATION, RUN_FAILED_AUTOMATION):
                assert len(client.read_automations_by_name(name)) == 1, name
            block = client.read_block_document_by_name("retrain-alerts", "custom-webhook", include_secrets=False)
    assert block.data["url"] == "{{webhook_url}}"  # the real URL lives in the block's secrets


def _crash(served, live_prefect_server):
    """A run of the deployment that crashes: its infrastructure reports Crashed, as when a machine is lost.

    (A run that fails in the flow needs a process and a state to fail in; a crash needs neither, and
    goes through the same automation.)
    """
    from prefect.states import Crashed, Scheduled

    with live_prefect_server.settings(), live_prefect_server.client() as client:
        later = datetime.now(UTC) + timedelta(hours=1)  # not picked up by the runner meanwhile
        run = client.create_flow_run_from_deployment(served.deployment_id, state=Scheduled(scheduled_time=later))
        client.set_flow_run_state(run.id, Crashed(message="Flow run infrastructure exited with code -9 (killed)"),
                                  force=True)
        return client.read_flow_run(run.id)


def test_a_crashed_run_and_a_refused_batch_alert_once_each_and_a_passing_run_never(alerting, live_prefect_server):
    served, receiver, settings = alerting.served, alerting.receiver, alerting.served.settings
    engine = connect(settings)

    # 1. A crashed run: one alert naming the run.
    crashed = _crash(served, live_prefect_server)
    wait_for(lambda: receiver.texts(), 90, "the crashed-run alert")
    (crash_alert,) = receiver.texts()
    assert crash_alert.startswith(f"retrain: run {crashed.name} Crashed") and "code -9" in crash_alert
    assert f"/runs/flow-run/{crashed.id}" in crash_alert

    # 2. A passing run: trains, no alert.
    versions_before = len(registry.list_versions(engine))
    add_rows(settings, sentiment_rows(240, seed=12))
    passing = served.wait_final(served.trigger().id)
    assert passing.state.is_completed(), passing.state
    assert len(registry.list_versions(engine)) == versions_before + 1

    # 3. A batch a data check refuses: exactly one alert, naming the failed checks and linking the run.
    # Rows a kept champion has not trained on are pulled again; a tenth of the batch bad is refused whatever
    # waits (at most 5% may be quarantined).
    waiting = waiting_counts(engine, settings, registry.lineage_of(engine)).total + 30
    unknown_label = [(f"is this even a sentiment, case {i}", "neutral") for i in range(waiting // 10 + 1)]
    bad_ids = add_rows(settings, sentiment_rows(30, seed=13) + unknown_label + [("   ", "positive")])
    try:
        refused = served.wait_final(served.trigger().id)
    finally:
        # The refused rows wait for a person; remove this test's rows so later runs on this database train.
        with engine.begin() as conn:
            table = examples_table(settings)
            conn.execute(sa.delete(table).where(table.c[settings.id_column].in_(bad_ids)))
    assert refused.state.is_failed() and "DataCheckFailed" in refused.state.message
    wait_for(lambda: len(receiver.texts()) >= 2, 90, "the data-check alert")
    time.sleep(8)  # a second alert about the same run (the failed-run automation) would arrive by now
    texts = receiver.texts()
    assert len(texts) == 2, texts  # nothing for the passing run, one for the refused batch
    alert = texts[1]
    assert alert.startswith(f"retrain: data checks refused the batch in run {refused.name}")
    assert "label_in_label_set" in alert and "text_not_blank" in alert
    assert f"/runs/flow-run/{refused.id}" in alert
