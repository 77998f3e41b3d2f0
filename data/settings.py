"""All configuration in one typed object.

Every field can be set with a ``RETRAIN_`` environment variable (``RETRAIN_DATABASE_URL``,
``RETRAIN_LABELS='["negative","neutral","positive"]'``, ...). The per-run knobs (``RUN_KNOBS``:
epochs, learning rate, ...) can also be given to one run: ``RunOptions``, a model made from
those fields, is the flow's parameter, the Prefect UI's run form and the flags of ``retrain run``.

>>> s = Settings(home="/tmp/retrain-doc")
>>> s.resolved_database_url()
'sqlite:////tmp/retrain-doc/retrain.db'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BASE_MODEL = "minilm"
# RETRAIN_DEVICES: auto, cpu, or a number of devices (models/devices.py).
DEVICES_PATTERN = r"^(auto|cpu|[1-9][0-9]*)$"


class Settings(BaseSettings):
    """Configuration for the data layer, the model registry, training and the promotion gate."""

    model_config = SettingsConfigDict(env_prefix="RETRAIN_", extra="forbid", validate_assignment=True)

    # --- where things live -------------------------------------------------------------
    home: Path = Field(
        default=Path(".retrain"),
        description="Folder for the SQLite database (when database_url is unset) and model artifacts.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the labeled data and the registry; default: a SQLite file in home.",
    )

    # --- the labeled-examples table (map your own table here) ---------------------------
    table: str = Field(default="labeled_examples", description="Table holding the labeled rows.")
    id_column: str = Field(default="id", description="Integer primary key column.")
    text_column: str = Field(default="text", description="Column with the text to classify.")
    label_column: str = Field(default="label", description="Column with the label name.")
    labeled_at_column: str = Field(default="labeled_at", description="When the row was labeled.")
    source_column: str | None = Field(default="source", description="Where the row came from.")
    confidence_column: str | None = Field(
        default="confidence", description="Optional annotator confidence (0..1) column."
    )
    split_column: str | None = Field(
        default=None,
        description="Optional column holding 'train' or 'test' to fix a row's split explicitly.",
    )

    # --- labels and the held-out set ---------------------------------------------------
    labels: list[str] = Field(
        default_factory=lambda: ["negative", "positive"],
        description="The model's label set, in class-index order.",
    )
    test_fraction: float = Field(
        default=0.2, gt=0.0, lt=1.0, description="Share of rows held out, chosen by a hash of the id."
    )

    # --- the model and fine-tuning ------------------------------------------------------
    # A field named in RUN_KNOBS (below) is also a flag of `retrain run` and a field of the Prefect
    # UI's run form: its title and description are what the form shows, its bounds what the form takes.
    base_model: str = Field(
        default=DEFAULT_BASE_MODEL, min_length=1, max_length=500, title="Base model",
        description="What the first champion (and a refit: challenger_from) starts from: 'minilm', a KerasHub BERT "
                    "preset name or a preset folder.",
    )
    challenger_from: Literal["auto", "champion", "base"] = Field(
        default="auto", description="'champion': fine-tune the champion on the new rows and replay; 'base': refit "
        "the base model on the new rows and every older row the lineage trained on (replay_max_rows caps those); "
        "'auto': refit while those rows number at most refit_max_rows.")
    refit_max_rows: int = Field(default=10_000, ge=0, description="Most rows an 'auto' refit trains on.")
    pooling: Literal["cls", "declared", "mean"] = Field(
        default="declared", description="A first model's head: KerasHub's [CLS] pooler, the mean of the token "
        "vectors, or what the base model's 1_Pooling/config.json declares (MiniLM: the mean; none declared: [CLS]).",
    )
    max_sequence_length: int = Field(
        default=128, ge=8, le=512, description="Cap on tokens per text; the length used is chosen from the data."
    )
    epochs: int = Field(
        default=3, ge=1, le=100, title="Epochs",
        description="Passes over the new rows (with early_stopping_fraction above 0, the best one is kept).",
    )
    batch_size: int = Field(
        default=32, ge=1, le=1024, title="Batch size",
        description="Rows per optimizer step; lower it if the machine runs out of memory.",
    )
    learning_rate: float = Field(
        default=1e-4, gt=0.0, le=1.0, title="Learning rate",
        description="Peak Adam learning rate of fine-tuning, reached after a linear warm-up, then decayed linearly to "
                    "zero (1e-4 suits MiniLM and BERT; a tiny test model needs 1e-3).",
    )
    warmup_fraction: float = Field(default=0.1, ge=0.0, lt=1.0, description="Share of the steps spent warming up.")
    early_stopping_fraction: float = Field(
        default=0.0, ge=0.0, lt=0.5, description="Share of the new training rows held back to pick the best epoch "
        "(0: every row trains, every epoch runs; a few hundred held back picked epochs by noise: README).")
    replay_fraction: float = Field(
        default=1.0, ge=0.0, le=10.0,
        description="Older training rows replayed into each fine-tune, as a share of the new rows (0: no replay; "
                    "1.0, as many as the new rows, was measured 1.5 points better than 0.5: bench/weekly_quality.py).",
    )
    replay_max_rows: int | None = Field(default=None, ge=0, description="If set, at most this many replayed rows.")
    seed: int = Field(default=1337)
    precision: Literal["auto", "float32", "mixed_bfloat16"] = Field(
        default="auto",
        description="Compute precision: 'auto' uses mixed bfloat16 where the CPU or GPU multiplies bfloat16 natively.",
    )
    eval_batch_size: int = Field(default=64, ge=1, le=4096, description="Rows per batch when scoring.")
    devices: str = Field(
        default="auto", pattern=DEVICES_PATTERN,
        description="Training devices: 'auto' mirrors over every GPU when there are two or more, a count N uses "
                    "N (batch_size rows per step split across them), 'cpu' the CPU even where GPUs are visible.",
    )

    # --- the evaluation sample (models/evaluation_sample.py) ------------------------------
    evaluation_half_width: float = Field(
        default=0.01, gt=0.0, lt=1.0,
        description="Target half-width of the interval of the challenger-minus-champion accuracy difference: the "
                    "held-out rows scored (the evaluation sample) are as many as it needs (0.01 = ±1 point).",
    )
    evaluation_confidence: float = Field(default=0.95, gt=0.0, lt=1.0, description="Confidence level of that interval.")
    evaluation_min_rows: int = Field(
        default=1000, ge=1,
        description="Fewest held-out rows the evaluation sample holds; a held-out set this small is scored whole.",
    )
    full_evaluation: bool = Field(
        default=False, title="Full evaluation",
        description="Score both models on every held-out row instead of the evaluation sample sized for "
                    "evaluation_half_width.",
    )

    # --- data checks and the promotion gate ---------------------------------------------
    min_new_rows: int = Field(
        default=50, ge=0, le=10_000_000, title="Minimum new rows",
        description="Fewest new labeled rows the run trains on; with fewer, the data check refuses the batch.",
    )
    min_text_chars: int = Field(default=1, ge=0)
    max_text_chars: int = Field(
        default=100_000, ge=1,
        description="Longest text kept (about 25 pages): documents fit, junk rows of megabytes do not; "
                    "the model reads the first max_sequence_length tokens of each.",
    )
    min_improvement: float = Field(
        default=0.0, ge=0.0, le=1.0, title="Minimum improvement",
        description="Held-out accuracy the challenger must add over the champion to be promoted (0.01 = 1 point).",
    )
    promotion_gate: Literal["accuracy", "significance"] = Field(
        default="accuracy",
        description="'accuracy': the plain rule; 'significance': also an exact McNemar test at alpha.",
    )
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5, description="Significance level of the McNemar gate.")
    max_recall_drop: float | None = Field(default=None, ge=0.0, le=1.0,
                                          description="If set, no class's recall may drop by more than this.")
    first_model_baseline: Literal["tfidf", "majority"] = Field(
        default="tfidf",
        description="What the first model must beat: TF-IDF + logistic regression, or the majority class.",
    )
    baseline_max_rows: int = Field(
        default=20_000, ge=0,
        description="Newest training rows the TF-IDF baseline trains on each run (0: no TF-IDF baseline).",
    )
    max_slice_drop: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="If set, no source or week of arrival may lose more than this much held-out accuracy.",
    )
    min_slice_rows: int = Field(default=50, ge=1, description="Held-out rows a slice needs for the slice guard.")
    behaviour_suite: Path | None = Field(
        default=None, description="A behavioural test suite (YAML: MFT, INV, DIR tests) both models run every run.",
    )
    max_behaviour_regressions: float = Field(
        default=0.05, ge=0.0, le=1.0,
        description="Share of the suite cases the champion passes that the challenger may fail and still be promoted.",
    )
    behaviour_margin: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description="The behaviour gate counts only suite cases the champion passes by at least this much "
                    "probability (0: every passed case).",
    )
    behaviour_net_of_fixes: bool = Field(default=False, description="The behaviour gate counts the challenger's "
                                         "losses less the cases it newly passes by the margin (off: every loss).")
    artifact_store: str | None = Field(
        default=None,
        description="Where model versions are stored: a folder or any fsspec URL (s3://...); default home/models.",
    )

    # --- data checks and quarantine (validation/) ----------------------------------------
    max_quarantine_share: float = Field(
        default=0.05, ge=0.0, le=1.0,
        description="Largest share of a batch row checks may quarantine; above it the run fails instead.",
    )
    min_confidence: float = Field(
        default=0.35, ge=0.0, le=1.0,
        description="Rows whose annotator confidence is below this are quarantined (when the column is mapped).",
    )
    max_garbage_share: float = Field(
        default=0.2, ge=0.0, le=1.0,
        description="Largest share of a text's characters that may be encoding garbage (mojibake, U+FFFD).",
    )
    max_control_share: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Largest share of a text's characters that may be control characters."
    )
    length_outlier_factor: float = Field(
        default=10.0, gt=0.0, description="Texts longer than this times the stored rows' median length are quarantined."
    )
    max_label_kl: float = Field(
        default=0.1, ge=0.0, description="Largest KL divergence of a batch's label shares from the champion's data."
    )
    min_class_share: float = Field(default=0.0, ge=0.0, le=1.0, description="Smallest share of a batch per label.")
    max_class_share: float = Field(default=0.9, ge=0.0, le=1.0, description="Largest share of a batch per label.")
    check_severity: dict[str, Literal["quarantine", "warn", "fail", "off"]] = Field(
        default_factory=dict,
        description="Per-check severity overrides, e.g. '{\"label_drift\": \"warn\"}' (see README, data checks).",
    )

    # --- the Prefect deployment and its alerts (deploy/) ----------------------------------
    deployment_name: str = Field(default="weekly", min_length=1,
                                 description="Name of the deployment of flow 'retrain' (retrain/NAME).")
    schedule_cron: str = Field(default="0 3 * * 1", description="When the deployment runs (cron; Monday 03:00).")
    schedule_timezone: str = Field(default="UTC", description="IANA time zone the cron schedule is read in.")
    on_overlap: Literal["cancel", "wait"] = Field(
        default="cancel",
        description="A run triggered while another run of the deployment is active: cancelled, or waits its turn.",
    )
    alert_block: str = Field(default="retrain-alerts", min_length=1,
                             description="Name of the notification block `retrain alerts setup` saves.")
    alert_slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming webhook for `retrain alerts setup --slack` (kept secret)."
    )
    alert_webhook_url: SecretStr | None = Field(
        default=None, description="Any HTTP endpoint for `retrain alerts setup --webhook`: POSTs {\"text\": ...}."
    )
    alert_email_to: list[str] = Field(
        default_factory=list, description="Addresses a failed or crashed deployment run emails (JSON list)."
    )
    alert_email_from: str = Field(default="retrain@localhost", description="Sender of the alert emails.")
    smtp_host: str | None = Field(default=None, description="SMTP server the alert emails go through.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = Field(default=None)
    smtp_password: SecretStr | None = Field(default=None)
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS.")

    @field_validator("schedule_timezone")
    @classmethod
    def _timezone_exists(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"RETRAIN_SCHEDULE_TIMEZONE {name!r} is not an IANA time zone") from error
        return name

    @field_validator("schedule_cron")
    @classmethod
    def _cron_has_five_fields(cls, cron: str) -> str:
        # The full check (ranges, names) is Prefect's, when the deployment is built.
        if len(cron.split()) != 5:
            raise ValueError(f"RETRAIN_SCHEDULE_CRON {cron!r} needs five fields: minute hour day month weekday")
        return cron

    @field_validator("labels")
    @classmethod
    def _labels_are_distinct(cls, labels: list[str]) -> list[str]:
        cleaned = [label.strip() for label in labels]
        if len(cleaned) < 2:
            raise ValueError(f"RETRAIN_LABELS needs at least two labels, got {labels!r}")
        if len(set(cleaned)) != len(cleaned) or any(not label for label in cleaned):
            raise ValueError(f"RETRAIN_LABELS must be distinct non-empty names, got {labels!r}")
        return cleaned

    @model_validator(mode="after")
    def _bounds_are_ordered(self) -> Settings:
        for low, high in (("min_text_chars", "max_text_chars"), ("min_class_share", "max_class_share")):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"RETRAIN_{low.upper()} ({getattr(self, low)}) exceeds "
                                 f"RETRAIN_{high.upper()} ({getattr(self, high)})")
        return self

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home.expanduser().resolve() / 'retrain.db'}"

    @property
    def models_dir(self) -> Path:
        """The default store of model versions, one folder each."""
        return self.home.expanduser().resolve() / "models"

    @property
    def model_store(self) -> str:
        """Where model versions are stored: ``artifact_store`` or the home's models folder."""
        return self.artifact_store or str(self.models_dir)

    @property
    def cache_dir(self) -> Path:
        """Local copies of remote model versions, fine-tuning checkpoints, XLA's compiled training kernels."""
        return self.home.expanduser().resolve() / "cache"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given fields replaced; ``None`` values mean "keep the setting"."""
        given = {key: value for key, value in overrides.items() if value is not None}
        copy = self.model_validate({**self.model_dump(), **given})
        # What was set stays told apart from defaults (data.labels checks whether RETRAIN_LABELS was given).
        copy.__pydantic_fields_set__ = self.model_fields_set | set(given)
        return copy


# The settings one run may change; each is declared once, as a Settings field above.
RUN_KNOBS = ("epochs", "batch_size", "learning_rate", "min_new_rows", "min_improvement", "base_model",
             "full_evaluation")


class _RunOptionsBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="Retraining options")

    @classmethod
    def from_settings(cls, settings: Settings) -> _RunOptionsBase:
        """Every knob at its value in ``settings`` (the run form's starting values)."""
        return cls(**{name: getattr(settings, name) for name in RUN_KNOBS})

    def override(self, settings: Settings) -> Settings:
        """``settings`` with the knobs this run was given in place of theirs.

        Only the fields given override: options validated from ``{"epochs": 5}`` (a run started through
        the API) take everything else from the ``RETRAIN_`` settings, not from this model's defaults.
        """
        return settings.with_overrides(**{name: getattr(self, name) for name in RUN_KNOBS
                                          if name in self.model_fields_set})


# The run form: the RUN_KNOBS fields of Settings as declared there (pydantic copies them), and dry_run,
# which only a run has.
RunOptions = create_model(
    "RunOptions",
    __base__=_RunOptionsBase,
    __module__=__name__,
    __doc__="Retraining options for one run; they override the worker's ``RETRAIN_`` settings for that run.",
    **{name: (Settings.model_fields[name].annotation, Settings.model_fields[name]) for name in RUN_KNOBS},
    dry_run=(bool, Field(default=False, title="Dry run",
                         description="Validate, train and evaluate, record the challenger, but never promote it.")),
)
NO_RUN_OPTIONS = RunOptions()  # a run given no options: every knob from the settings
