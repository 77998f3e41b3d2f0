"""When a step retries: the database could not be reached, dropped the connection or was busy.

Only steps whose database work can simply be done again retry (reads, idempotent writes); any
other error fails the step at once, and training never reruns for a database hiccup.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

DATABASE_RETRIES = 3
DATABASE_RETRY_DELAYS = [2, 10, 30]  # seconds: long enough for a database restart or a failover


def database_unreachable(task: Any, task_run: TaskRun, state: State) -> bool:
    """Whether the failed step lost the database (SQLAlchemy's operational and interface errors)."""
    try:
        state.result()
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        return True
    except Exception:
        return False
    return False
