"""Shared fixtures: isolated settings per test, a tiny BERT with the real vocabulary, PostgreSQL.

The tests are split by what they test (like Made-With-ML's ``tests/``):

- ``tests/code/``   the floors' plain functions: settings, store, ledger, registry, importing, CLI
- ``tests/data/``   the data checks, the quarantine and bad input (what the rows must satisfy)
- ``tests/model/``  the classifier, behaviour and quality (the tiny BERT; ``integration``: the real MiniLM)
- ``tests/system/`` real processes end to end: Prefect server and worker, browser, crash drills

Every test in ``tests/system/``, and every test that runs the flow under a Prefect server, is
marked ``system``; every test that opens PostgreSQL is marked ``postgres``; ``slow`` marks the
few other tests that take more than a few seconds (simulations, state machines, a fresh process).
The fast set (``make test-fast``) is ``-m "not integration and not system and not slow"``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

POSTGRES_URL = os.environ.get(
    "RETRAIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure to connect means "not reachable"
        return f"{type(error).__name__}: {error}".splitlines()[0]


_POSTGRES_PROBLEM = _postgres_reachable()


def pytest_report_header(config: pytest.Config) -> list[str]:
    if _POSTGRES_PROBLEM is None:
        return [f"PostgreSQL: reachable at {POSTGRES_URL}"]
    return [
        "!" * 78,
        f"!!! PostgreSQL NOT reachable at {POSTGRES_URL}: {_POSTGRES_PROBLEM}",
        "!!! the PostgreSQL tests will be SKIPPED (set RETRAIN_TEST_POSTGRES_URL; .ci/run requires it)",
        "!" * 78,
    ]


# A test that runs the real flow under a Prefect server is a system test wherever it lives.
_FLOW_FIXTURES = {"prefect_server", "live_prefect_server", "retrain_served"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by where they live and by what they open, so markers select them (see the docstring)."""
    system = Path(__file__).with_name("system")
    for item in items:
        runs_the_flow = bool(_FLOW_FIXTURES & set(getattr(item, "fixturenames", ())))
        if system in Path(str(item.path)).parents or runs_the_flow:
            item.add_marker(pytest.mark.system)
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if on_postgres or "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own RETRAIN_HOME and no RETRAIN_ variable from the caller's shell."""
    for name in list(os.environ):
        if name.startswith("RETRAIN_") and name != "RETRAIN_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("RETRAIN_HOME", str(tmp_path / "home"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    if _POSTGRES_PROBLEM is not None:
        if os.environ.get("RETRAIN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but not reachable: {_POSTGRES_PROBLEM}")
        pytest.skip(f"PostgreSQL NOT reachable at {POSTGRES_URL}: {_POSTGRES_PROBLEM}")
    import sqlalchemy as sa

    schema = f"retrain_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        from data.store import _engine

        _engine.cache_clear()
        with admin.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each data-layer test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny randomly initialised BertBackbone with MiniLM's real WordPiece vocabulary, as a preset folder."""
    import keras
    import keras_hub

    from models.base_model import minilm_folder

    folder = tmp_path_factory.mktemp("tiny-bert")
    keras.utils.set_random_seed(7)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30522, num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64,
        max_sequence_length=128,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=str(minilm_folder() / "vocab.txt"), lowercase=True)
    backbone.save_to_preset(str(folder))
    tokenizer.save_to_preset(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A temporary Prefect API for tests that run flows."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def tiny_run_env(tiny_base_model: str) -> dict[str, str]:
    """RETRAIN_ variables for fast runs on the tiny BERT: `flow_settings` sets them, system tests pass them on."""
    # At 1e-3 the tiny BERT sat on its plateau (loss 0.69) until epoch 6 or 7 of 8, so whether the
    # first model beat the majority class hung on float rounding (CI once saw 0.68 at epoch 8);
    # at 3e-3 it leaves the plateau by epoch 4 (loss 0.03 at epoch 8).
    return {
        "RETRAIN_BASE_MODEL": tiny_base_model, "RETRAIN_LEARNING_RATE": "3e-3", "RETRAIN_EPOCHS": "8",
        "RETRAIN_EARLY_STOPPING_FRACTION": "0", "RETRAIN_MIN_NEW_ROWS": "20", "RETRAIN_BATCH_SIZE": "16",
        "RETRAIN_MAX_SEQUENCE_LENGTH": "32",
        # The generated rows are separable word by word: TF-IDF scores 1.0 and a tiny BERT cannot beat it.
        "RETRAIN_FIRST_MODEL_BASELINE": "majority",
    }


@pytest.fixture
def flow_settings(tiny_run_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """Settings for fast flow runs on the tiny BERT (learnable in a few seconds), with the schema created."""
    from data.settings import Settings
    from data.store import connect, create_schema

    for name, value in tiny_run_env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    create_schema(connect(settings), settings)
    return settings


@pytest.fixture
def make_champion():
    """Register a model version that consumed the waiting rows up to a position, without training.

    For tests of the data checks and the quarantine, which read only the champion's lineage and the
    ledger: ``make_champion(settings, window_end, parent=<the champion>, promote=True)``.
    """
    from tests.helpers import register_consumed

    def make(settings, window_end, parent: int | None = -1, promote: bool = True):
        return register_consumed(settings, up_to=window_end, parent=parent, promote=promote)

    return make


@pytest.fixture(scope="session")
def live_prefect_server(tmp_path_factory: pytest.TempPathFactory):
    """A real `prefect server` on a free loopback port (PREFECT_HOME in a temporary folder), stopped at the end."""
    from tests.prefect_server import PrefectServer

    server = PrefectServer.start(tmp_path_factory.mktemp("prefect-server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def retrain_served(live_prefect_server, tiny_run_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """`retrain serve` against the live server, on its own database, serving deployment retrain/test.

    Shared by the deployment and the alert tests (one TensorFlow start-up, not two); each test adds
    rows of its own and asserts on what changed, so the order they run in does not matter.
    """
    from data.settings import Settings
    from data.store import connect, create_schema
    from models.registry import create_registry_schema
    from tests.prefect_server import Served

    folder = tmp_path_factory.mktemp("served")
    env = {**tiny_run_env, "RETRAIN_HOME": str(folder / "home"), "RETRAIN_DEPLOYMENT_NAME": "test",
           "RETRAIN_SCHEDULE_TIMEZONE": "Europe/Berlin"}
    settings = Settings(**{key.removeprefix("RETRAIN_").lower(): value for key, value in env.items()})
    create_schema(connect(settings), settings)
    create_registry_schema(connect(settings))
    served = Served.start(live_prefect_server, folder, env, settings)
    try:
        yield served
    finally:
        served.stop()
