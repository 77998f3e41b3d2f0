"""Settings: RETRAIN_ environment variables, per-run overrides, and validation that names the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from data.settings import Settings


def test_retrain_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRAIN_LABELS", '["a","b","c"]')
    monkeypatch.setenv("RETRAIN_EPOCHS", "5")
    monkeypatch.setenv("RETRAIN_TEST_FRACTION", "0.25")
    monkeypatch.setenv("RETRAIN_TABLE", "team_reviews")
    monkeypatch.setenv("RETRAIN_CHECK_SEVERITY", '{"label_drift": "warn"}')

    settings = Settings()

    assert settings.labels == ["a", "b", "c"]
    assert settings.epochs == 5
    assert settings.test_fraction == 0.25
    assert settings.table == "team_reviews"
    assert settings.check_severity == {"label_drift": "warn"}


def test_the_defaults_hold_without_environment_variables() -> None:
    settings = Settings()
    assert settings.labels == ["negative", "positive"]
    assert (settings.epochs, settings.test_fraction, settings.table) == (3, 0.2, "labeled_examples")


def test_with_overrides_replaces_given_fields_and_ignores_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRAIN_EPOCHS", "5")
    settings = Settings()

    changed = settings.with_overrides(epochs=None, learning_rate=1e-3, batch_size=None, min_new_rows=7)

    assert (changed.epochs, changed.learning_rate, changed.batch_size, changed.min_new_rows) == (5, 1e-3, 32, 7)
    assert changed.home == settings.home and changed.labels == settings.labels
    assert (settings.learning_rate, settings.min_new_rows) == (1e-4, 50)  # the original is untouched
    assert settings.with_overrides() == settings


def test_with_overrides_validates_the_new_values() -> None:
    with pytest.raises(ValidationError, match="epochs"):
        Settings().with_overrides(epochs=0)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"labels": ["positive", "negative", "positive"]}, "labels"),
        ({"labels": ["positive", " positive "]}, "labels"),
        ({"labels": ["only-one"]}, "labels"),
        ({"test_fraction": 1.5}, "test_fraction"),
        ({"test_fraction": 0.0}, "test_fraction"),
        ({"min_text_chars": 100, "max_text_chars": 10}, "min_text_chars"),
        ({"epochs": 0}, "epochs"),
        ({"not_a_setting": 1}, "not_a_setting"),
    ],
)
def test_bad_values_raise_a_validation_error_naming_the_field(fields: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(**fields)
    assert named in str(raised.value).lower(), str(raised.value)


def test_a_bad_environment_variable_names_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRAIN_TEST_FRACTION", "2")
    with pytest.raises(ValidationError, match="test_fraction"):
        Settings()


def test_labels_are_stripped() -> None:
    assert Settings(labels=[" negative", "positive "]).labels == ["negative", "positive"]


def test_the_default_database_is_a_sqlite_file_in_retrain_home(tmp_path: Path) -> None:
    home = (tmp_path / "home").resolve()  # what the autouse fixture set RETRAIN_HOME to
    settings = Settings()

    assert settings.home.resolve() == home
    assert settings.resolved_database_url() == f"sqlite:///{home / 'retrain.db'}"
    assert settings.models_dir == home / "models"
    assert Settings(database_url="postgresql+psycopg://u@h/db").resolved_database_url() == "postgresql+psycopg://u@h/db"


def test_retrain_database_url_wins_over_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RETRAIN_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert Settings().resolved_database_url() == f"sqlite:///{tmp_path / 'elsewhere.db'}"


@pytest.mark.parametrize(("low", "high", "values"), [
    ("min_text_chars", "max_text_chars", {"min_text_chars": 50, "max_text_chars": 10}),
    ("min_class_share", "max_class_share", {"min_class_share": 0.6, "max_class_share": 0.5}),
])
def test_a_lower_bound_above_its_upper_bound_is_refused_naming_both_settings(low, high, values):
    with pytest.raises(ValueError, match=rf"RETRAIN_{low.upper()} \(.*\) exceeds RETRAIN_{high.upper()}"):
        Settings(**values)
