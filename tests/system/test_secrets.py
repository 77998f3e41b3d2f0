"""Database URLs (and their passwords) never reach logs, artifacts, errors or the registry."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from data.settings import Settings
from data.store import connect, create_schema
from flows.retrain import retrain
from models import registry_tables
from tests.helpers import add_rows, sentiment_rows

pytestmark = pytest.mark.usefixtures("prefect_server")
PASSWORD = "s3cret-pw-7731"  # PostgreSQL here trusts local connections, so any password connects


def _everything_prefect_kept(flow_run_id) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    async def read() -> str:
        async with get_client() as client:
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            in_run = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            artifacts = await client.read_artifacts(flow_run_filter=in_run)
            run = await client.read_flow_run(flow_run_id)
        return "\n".join([*(log.message for log in logs), *(str(a.data) for a in artifacts), str(run.parameters)])

    return asyncio.run(read())


def test_database_password_appears_nowhere(flow_settings, postgres_url, monkeypatch):
    url_with_password = postgres_url.replace("postgres@", f"postgres:{PASSWORD}@")
    assert PASSWORD in url_with_password
    monkeypatch.setenv("RETRAIN_DATABASE_URL", url_with_password)
    settings = Settings()
    create_schema(connect(settings), settings)
    add_rows(settings, sentiment_rows(240, seed=1))

    state = retrain(triggered_by="test", return_state=True)
    report = state.result()
    assert report.promoted
    kept = _everything_prefect_kept(state.state_details.flow_run_id)
    assert "Retraining run" in kept and "pulled 240 rows" in kept  # we did read the run's logs and report
    assert PASSWORD not in kept

    with connect(settings).connect() as conn:
        for table in (registry_tables.versions_table, registry_tables.aliases_table, registry_tables.promotions_table):
            dump = " ".join(str(row) for row in conn.execute(sa.select(table)))
            assert dump and PASSWORD not in dump

    monkeypatch.setenv("RETRAIN_TABLE", "no_such_table")
    with pytest.raises(LookupError) as missing:
        retrain(triggered_by="test")
    assert "no_such_table" in str(missing.value) and PASSWORD not in str(missing.value)
