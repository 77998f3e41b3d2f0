"""The registry's tables: versions, the aliases (the champion), the promotion history and the
predictions cache. They live next to the labeled data, so one database backup holds everything.
"""

from __future__ import annotations

import sqlalchemy as sa

from data.sql import ID_TYPE

metadata = sa.MetaData()

versions_table = sa.Table(
    "retrain_model_versions", metadata,
    sa.Column("version", ID_TYPE, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("parent_version", ID_TYPE, nullable=True),
    sa.Column("base_model", sa.String(500), nullable=False),
    sa.Column("artifact_uri", sa.String(1000), nullable=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("sequence_length", sa.Integer, nullable=False),
    sa.Column("window_after_at", sa.DateTime, nullable=True),
    sa.Column("window_after_id", ID_TYPE, nullable=True),
    sa.Column("window_end_at", sa.DateTime, nullable=False),
    sa.Column("window_end_id", ID_TYPE, nullable=False),
    sa.Column("new_rows", sa.Integer, nullable=False),
    sa.Column("train_rows", sa.Integer, nullable=False),
    sa.Column("test_rows", sa.Integer, nullable=False),
    sa.Column("test_set_hash", sa.String(64), nullable=False),
    sa.Column("accuracy", sa.Float, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("triggered_by", sa.String(200), nullable=False),
)

aliases_table = sa.Table(
    "retrain_aliases", metadata,
    sa.Column("alias", sa.String(50), primary_key=True),
    sa.Column("version", ID_TYPE, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

promotions_table = sa.Table(
    "retrain_promotions", metadata,
    sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    sa.Column("alias", sa.String(50), nullable=False),
    sa.Column("from_version", ID_TYPE, nullable=True),
    sa.Column("to_version", ID_TYPE, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

# What each version predicted for each held-out text, keyed by the text (``models.predictions``).
predictions_table = sa.Table(
    "retrain_predictions", metadata,
    sa.Column("version", ID_TYPE, primary_key=True),
    sa.Column("text_sha256", sa.String(64), primary_key=True),
    sa.Column("label", sa.String(200), nullable=False),
)
