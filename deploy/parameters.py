"""The typed run form: what a person may change when starting a retraining run from the Prefect UI.

Prefect renders the form from this model's JSON schema (titles, descriptions, bounds) and, with
``enforce_parameter_schema``, the API refuses a run whose values are out of bounds before any
process starts. The bounds are the settings' own (``data/settings.py``); a test keeps them equal.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from data.settings import Settings

_DEFAULTS = Settings.model_fields


def _default(name: str) -> Any:
    return _DEFAULTS[name].default


class RetrainParameters(BaseModel):
    """Retraining options for one run; they override the worker's ``RETRAIN_`` settings for that run."""

    model_config = ConfigDict(extra="forbid", title="Retraining options")

    epochs: int = Field(
        default=_default("epochs"), ge=1, le=100, title="Epochs",
        description="Passes over the new rows (the best epoch on the early-stopping rows is kept).",
    )
    batch_size: int = Field(
        default=_default("batch_size"), ge=1, le=1024, title="Batch size",
        description="Rows per optimizer step; lower it if the machine runs out of memory.",
    )
    learning_rate: float = Field(
        default=_default("learning_rate"), gt=0.0, le=1.0, title="Learning rate",
        description="Adam learning rate for fine-tuning (2e-5 suits BERT; a tiny test model needs 1e-3).",
    )
    min_new_rows: int = Field(
        default=_default("min_new_rows"), ge=0, le=10_000_000, title="Minimum new rows",
        description="Fewest new labeled rows the run trains on; with fewer, the data check refuses the batch.",
    )
    min_improvement: float = Field(
        default=_default("min_improvement"), ge=0.0, le=1.0, title="Minimum improvement",
        description="Held-out accuracy the challenger must add over the champion to be promoted (0.01 = 1 point).",
    )
    base_model: str = Field(
        default=_default("base_model"), min_length=1, max_length=500, title="Base model",
        description="Used only before the first champion: 'minilm', a KerasHub BERT preset name or a preset folder.",
    )
    dry_run: bool = Field(
        default=False, title="Dry run",
        description="Validate, train and evaluate, record the challenger, but never promote it.",
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> RetrainParameters:
        """The form's starting values: the settings of the process that serves the deployment."""
        return cls(**{name: getattr(settings, name) for name in cls.model_fields if name != "dry_run"})

    def flow_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``flows.retrain.retrain``.

        Only the fields the run was given override the settings: a run started through the API with
        ``{"options": {"epochs": 5}}`` takes everything else from the worker's ``RETRAIN_`` settings,
        not from this model's defaults. (The UI's form sends every field, prefilled from the deployment.)
        """
        given = self.model_fields_set
        kwargs = {name: getattr(self, name) if name in given else None for name in type(self).model_fields}
        kwargs["dry_run"] = self.dry_run
        return kwargs
