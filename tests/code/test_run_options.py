"""The per-run knobs are declared once, as Settings fields: the Prefect UI's run form (``RunOptions``), the
flags of ``retrain run`` and the settings read that one declaration, and each refuses a value out of bounds."""

from __future__ import annotations

import argparse

import pytest
from pydantic import ValidationError

from data.settings import RUN_KNOBS, RunOptions, Settings
from retrain.cli import build_parser, main
from retrain.cli_run_flags import run_options

# A value just out of each knob's bounds; a switch (a bool knob) has none, only values that are no bool.
OUT_OF_BOUNDS = {"epochs": 101, "batch_size": 0, "learning_rate": 0.0, "min_new_rows": -1,
                 "min_improvement": 1.01, "base_model": ""}
SWITCHES = {"full_evaluation"}


def run_flags() -> dict[str, argparse.Action]:
    """The flags of `retrain run`, by the name they are stored under."""
    (commands,) = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    return {action.dest: action for action in commands.choices["run"]._actions if action.dest != "help"}


def test_the_form_fields_are_the_settings_fields_of_the_run_knobs():
    assert set(OUT_OF_BOUNDS) | SWITCHES == set(RUN_KNOBS)
    assert {name for name in RUN_KNOBS if Settings.model_fields[name].annotation is bool} == SWITCHES
    form, settings = RunOptions.model_json_schema(), Settings.model_json_schema()
    assert list(form["properties"]) == [*RUN_KNOBS, "dry_run"] and form["title"] == "Retraining options"
    for name in RUN_KNOBS:  # type, default, bounds, title and description: what the UI renders and enforces
        assert form["properties"][name] == settings["properties"][name], name
    for name, field in form["properties"].items():
        assert field.get("title") and field.get("description"), name
    assert "2e-5" not in form["properties"]["learning_rate"]["description"]


def test_the_run_flags_are_the_form_fields():
    flags = run_flags()
    assert list(flags) == list(RunOptions.model_fields)
    for name, field in RunOptions.model_fields.items():
        flag = flags[name]
        assert flag.option_strings == ["--" + name.replace("_", "-")] and flag.help == field.description
        assert flag.default is None  # a flag left out keeps the setting
        if field.annotation is bool:
            assert flag.nargs == 0 and flag.const is True, name
        else:
            assert flag.type is field.annotation, name


def test_flags_become_options_that_override_only_what_they_name():
    parser = build_parser()
    given = run_options(parser.parse_args(["run", "--epochs", "1", "--dry-run", "--base-model", "/models/bert"]))
    assert given.model_fields_set == {"epochs", "dry_run", "base_model"} and given.dry_run
    settings = given.override(Settings(epochs=7, batch_size=8))
    assert (settings.epochs, settings.batch_size, settings.base_model) == (1, 8, "/models/bert")
    assert run_options(parser.parse_args(["run"])).model_fields_set == set()


def test_only_the_knobs_a_run_was_given_override_the_settings():
    settings = Settings(epochs=7, base_model="/models/bert")
    partial = RunOptions.model_validate({"epochs": 5, "dry_run": True})  # a run started through the API
    run = partial.override(settings)
    assert (run.epochs, run.base_model, run.batch_size) == (5, "/models/bert", 32) and partial.dry_run
    assert RunOptions().override(settings).model_dump() == settings.model_dump()  # no options: every setting
    form = RunOptions.from_settings(settings)  # the deployment's form starts from the serving settings
    assert (form.epochs, form.base_model, form.dry_run) == (7, "/models/bert", False)
    assert form.override(Settings()).epochs == 7


def test_full_evaluation_is_a_switch_of_the_run_that_overrides_the_setting():
    given = run_options(build_parser().parse_args(["run", "--full-evaluation"]))
    assert given.model_fields_set == {"full_evaluation"} and given.full_evaluation
    assert given.override(Settings()).full_evaluation and not Settings().full_evaluation
    assert RunOptions().override(Settings(full_evaluation=True)).full_evaluation  # not given: the setting kept
    for name in SWITCHES:
        with pytest.raises(ValidationError, match=name):
            RunOptions(**{name: "maybe"})


@pytest.mark.parametrize("name", list(OUT_OF_BOUNDS))
def test_a_value_out_of_bounds_is_refused_by_the_settings_the_form_and_the_flags(name, monkeypatch, capsys):
    value = OUT_OF_BOUNDS[name]
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})
    with pytest.raises(ValidationError, match=name):
        RunOptions(**{name: value})

    import retrain.cli_runs

    def no_run():
        raise AssertionError("a run started with a value out of bounds")

    monkeypatch.setattr(retrain.cli_runs, "temporary_prefect_server", no_run)
    assert main(["run", "--" + name.replace("_", "-"), str(value)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("retrain: bad setting:") and name in err


def test_the_deployment_form_refuses_what_the_settings_refuse():
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools.validation import validate

    from deploy.flow import retrain_deployment

    # The schema Prefect registers with the deployment; the API checks a run's parameters against it.
    schema = parameter_schema(retrain_deployment).model_dump(exclude_unset=True)
    assert not validate({"options": RunOptions.from_settings(Settings()).model_dump()}, schema)
    for name, value in [*OUT_OF_BOUNDS.items(), *((name, "maybe") for name in SWITCHES)]:
        assert validate({"options": {name: value}}, schema), f"the form accepts {name}={value!r}"
