"""The held-out set: the snapshot champion and challenger are scored on, and its content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from data.consumed import lineage_rows
from data.ledger import HELD_OUT, NO_CHAMPION, Lineage
from data.pull import LabeledBatch
from data.settings import Settings
from data.split import TEST


@dataclass(frozen=True)
class HeldOutSet:
    """The held-out rows both models are scored on, and a content hash that identifies this snapshot."""

    frame: pd.DataFrame
    content_hash: str

    @property
    def size(self) -> int:
        return len(self.frame)


def held_out_set(
    engine: sa.Engine, settings: Settings, lineage: Lineage | None, batch: LabeledBatch | None = None
) -> HeldOutSet:
    """The snapshot both models are scored on: the rows the champion's lineage held out, and the
    batch's own held-out rows (those that passed its checks)."""
    lineage = lineage or NO_CHAMPION
    earlier = lineage_rows(engine, settings, lineage, [HELD_OUT])
    new = batch.frame[batch.frame["split"] == TEST] if batch is not None else earlier.iloc[0:0]
    frame = pd.concat([earlier, new[earlier.columns]], ignore_index=True) if len(new) else earlier
    frame = frame.drop_duplicates("id").sort_values("id", ignore_index=True)
    return HeldOutSet(frame=frame, content_hash=content_hash(frame))


def content_hash(frame: pd.DataFrame) -> str:
    """A sha256 over (id, label, text) of a frame's rows, in id order."""
    digest = hashlib.sha256()
    for row_id, label, text in frame.sort_values("id")[["id", "label", "text"]].itertuples(index=False):
        digest.update(f"{int(row_id)}\x1f{label}\x1f{text}\x1e".encode())
    return digest.hexdigest()
