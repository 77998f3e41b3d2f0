"""Replay: mix a stratified sample of rows the champion's lineage trained on into the new rows.

Fine-tuning only on this week's rows erodes what stopped arriving (a source, a topic, a class).
Replaying a sample of older training rows, stratified so every (label, source) group keeps
its share, protects them at the price of the sample's extra training time.

>>> import pandas as pd
>>> pool = pd.DataFrame({"id": range(8), "label": list("aaaabbbb"), "source": list("xxyyxxyy"),
...                      "labeled_at": pd.Timestamp("2026-01-05")})
>>> chosen = pool.set_index("id").loc[replay_sample(pool, 4)]
>>> sorted(chosen["label"] + chosen["source"])
['ax', 'ay', 'bx', 'by']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.consumed import trained_rows, trained_strata
from data.pull import LabeledBatch
from data.settings import Settings
from data.store import connect
from models.registry import ModelVersion
from models.slices import week_of


def replay_size(new_rows: int, fraction: float, budget: int | None = None) -> int:
    """How many older rows to replay: ``fraction`` of the new rows, at most ``budget``.

    >>> replay_size(600, 0.5), replay_size(600, 0.5, budget=100), replay_size(600, 0.0)
    (300, 100, 0)
    """
    size = int(round(new_rows * fraction))
    return size if budget is None else min(size, budget)


def strata(candidates: pd.DataFrame) -> pd.Series:
    """Each candidate's stratum: its label and its source, or its week of arrival where it has no source."""
    week = candidates["labeled_at"].map(week_of)
    if "source" in candidates.columns:
        where = candidates["source"].astype("object").where(candidates["source"].notna(), week)
    else:
        where = week
    return candidates["label"].astype(str) + "\x1f" + where.astype(str)


def replay_sample(candidates: pd.DataFrame, rows: int, seed: int = 0) -> list[int]:
    """Ids of ``rows`` candidates (columns id, label, labeled_at, optionally source), sampled without
    replacement so each stratum (``strata``) keeps its share of the pool (largest remainders get
    the rounding). All candidates when ``rows`` is at least their number; sorted ids."""
    if rows <= 0 or candidates.empty:
        return []
    if rows >= len(candidates):
        return sorted(int(i) for i in candidates["id"])
    groups = candidates.groupby(strata(candidates), sort=True)["id"]
    sizes = groups.size()
    exact = sizes / sizes.sum() * rows
    quota = np.floor(exact).astype(int)
    remainder = (exact - quota).sort_values(ascending=False, kind="stable")
    quota[remainder.index[: rows - int(quota.sum())]] += 1
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for stratum, ids in groups:
        if quota[stratum]:
            chosen += rng.choice(ids.to_numpy(), size=int(quota[stratum]), replace=False).tolist()
    return sorted(int(i) for i in chosen)


def replay_candidates(settings: Settings, champion: ModelVersion, batch: LabeledBatch) -> pd.DataFrame:
    """The rows replay may sample (ids, labels, times and sources; no texts): those the champion's lineage
    trained on (the ledger names them; they are never in the batch, which holds only rows the lineage
    has not consumed)."""
    return trained_strata(connect(settings), settings, batch.lineage)


def refits(settings: Settings, new_rows: int, older_rows: int) -> bool:
    """Whether the challenger is a refit, the base model trained on the new rows and every older row the
    champion's lineage trained on, rather than the champion fine-tuned on the new rows and a replayed sample.
    ``RETRAIN_CHALLENGER_FROM`` says which; ``auto`` refits while those rows number at most
    ``RETRAIN_REFIT_MAX_ROWS``, where a refit costs little and trains a better model (README, Model quality).

    >>> auto = Settings(challenger_from="auto", refit_max_rows=10_000)
    >>> refits(auto, 2_000, 8_000), refits(auto, 2_000, 8_001), refits(Settings(challenger_from="base"), 1, 10**6)
    (True, False, True)
    """
    if settings.challenger_from == "auto":
        return new_rows + older_rows <= settings.refit_max_rows
    return settings.challenger_from == "base"


def with_replay(
    settings: Settings, champion: ModelVersion | None, batch: LabeledBatch
) -> tuple[pd.DataFrame, list[int], bool]:
    """The rows to fine-tune on: the batch's training rows and a stratified sample of older ones, and
    whether the challenger is a refit (``refits``), which trains on every older one (up to
    ``RETRAIN_REPLAY_MAX_ROWS``). The first model has no older rows and is no refit."""
    rows = batch.training_rows
    size = replay_size(len(rows), settings.replay_fraction, settings.replay_max_rows)
    if champion is None or (size == 0 and settings.challenger_from == "champion"):
        return rows, [], False
    pool = replay_candidates(settings, champion, batch)  # read once: it decides the refit and is sampled
    refit = refits(settings, len(rows), len(pool))
    if refit:  # every row of the pool: the share of the new rows does not apply
        size = replay_size(len(pool), 1.0, settings.replay_max_rows)
    if size == 0:
        return rows, [], refit
    ids = replay_sample(pool, size, settings.seed)
    replayed = trained_rows(connect(settings), settings, batch.lineage, ids=ids)  # the texts of the chosen only
    return pd.concat([rows, replayed[rows.columns.intersection(replayed.columns)]], ignore_index=True), ids, refit
