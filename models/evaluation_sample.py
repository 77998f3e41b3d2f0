"""The evaluation sample: the held-out rows champion and challenger are scored on, sized for an interval.

Scoring the whole held-out set every week makes a run's cost grow with the table's history. The
accuracy difference only needs enough rows to be known to a chosen precision: for a paired
comparison, the per-row difference ``challenger_right - champion_right`` is -1, 0 or +1, its variance
is ``q - d**2`` (``q`` the share of rows the two models disagree on, *discordant* rows; ``d`` the
difference), so a 95% interval of half-width ``h`` needs about ``1.96**2 * q / h**2`` rows: ±1 point
with 10% discordant rows takes 3,842 rows, whatever the held-out set's size.

The sample is

- **stable**: each row's place in the sample order comes from a hash of its id alone, so next week's
  sample is (nearly) this week's, and the champion's predictions recorded for those rows stay valid;
- **stratified**: every class is represented in proportion to its share of the held-out set, to
  within one row, at every sample size;
- **nested**: the sample of ``n`` rows is the first ``n`` of one order, so a pilot sample grows into
  the full-size one without rescoring anything.

>>> order = evaluation_order(np.arange(1, 11), np.array(list("aaaaaabbbb")))  # ids 1-6 are "a"
>>> sorted(order[:5].tolist())  # three "a", two "b": the classes' 60/40 shares
[1, 3, 6, 8, 9]
>>> required_rows(half_width=0.01, discordance_rate=0.10)
3842
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from data.held_out import HeldOutSet, content_hash
from data.settings import Settings
from models.registry import ModelVersion

# key(id) = (id mod 2**32) * MULTIPLIER mod 2**32: Knuth's multiplicative hash with the 32-bit
# golden-ratio constant below 2**31, so the product fits a signed 64-bit integer and the same key is
# one integer expression in SQL (``sample_key_sql``), on SQLite and PostgreSQL alike. Consecutive
# ids land evenly spread over the key range (a Weyl sequence), so a sample of a table written in
# label or time order still spans all of it.
MULTIPLIER = 1_640_531_527  # 0x61C88647 = 2**32 - round(2**32 / golden ratio), odd: a bijection mod 2**32
MODULUS = 1 << 32


def sample_key(ids: np.ndarray) -> np.ndarray:
    """Each row id's place in the sample order, as an integer in [0, 2**32).

    >>> sample_key(np.array([1, 2, 3])).tolist()
    [1640531527, 3281063054, 626627285]
    """
    ids = np.asarray(ids, dtype=np.int64)
    return (ids % MODULUS) * MULTIPLIER % MODULUS


def sample_key_sql(column):
    """``sample_key`` as an SQLAlchemy expression on an integer id column (the same integers).

    ``ORDER BY`` it within each label (``row_number() OVER (PARTITION BY label ORDER BY key)``) to rank
    the held-out rows in SQL without reading their ids into Python.
    """
    import sqlalchemy as sa

    bigint = sa.BigInteger()
    return (sa.cast(column, bigint) % MODULUS) * sa.literal(MULTIPLIER, bigint) % MODULUS


def evaluation_order(ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The held-out row ids in sample order: the evaluation sample of ``n`` rows is the first ``n``.

    Within each class rows are ranked by ``sample_key``; a row of rank ``r`` among ``N_c`` rows of
    its class gets position ``(r + 0.5) / N_c``, and all rows are sorted by position (ties by key).
    Every prefix then holds each class in proportion to its share, to within one row.
    """
    ids = np.asarray(ids, dtype=np.int64)
    labels = np.asarray(labels)
    if ids.shape != labels.shape:
        raise ValueError(f"{len(ids)} ids but {len(labels)} labels")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("held-out ids must be distinct")
    keys = sample_key(ids)
    _, class_of = np.unique(labels, return_inverse=True)
    by_class_then_key = np.lexsort((ids, keys, class_of))  # ids break ties of keys (ids 2**32 apart)
    counts = np.bincount(class_of)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[by_class_then_key] = np.arange(len(ids)) - starts[class_of[by_class_then_key]]
    position = (rank + 0.5) / counts[class_of]
    return ids[np.lexsort((ids, keys, position))]


def evaluation_order_query(source, id_column: str = "id", label_column: str = "label"):
    """``evaluation_order`` in SQL: a SELECT of ``source``'s ids (a table or subquery of the held-out
    rows) in sample order; ``.limit(n)`` of it is the sample. The same order as ``evaluation_order``
    on SQLite and PostgreSQL: the positions are computed as (2 rank - 1) / (2 count) in double
    precision, the same correctly rounded quotients as numpy's."""
    import sqlalchemy as sa

    row_id, label = source.c[id_column], source.c[label_column]
    key = sample_key_sql(row_id)
    double = sa.Float(precision=53)
    rank = sa.func.row_number().over(partition_by=label, order_by=(key, row_id))
    count = sa.func.count().over(partition_by=label)
    ranked = sa.select(row_id.label("id"), key.label("sample_key"),
                       (sa.cast(2 * rank - 1, double) / sa.cast(2 * count, double)).label("position")).subquery()
    return sa.select(ranked.c.id).order_by(ranked.c.position, ranked.c.sample_key, ranked.c.id)


def z_value(confidence: float) -> float:
    """The two-sided normal quantile: 1.96 for 0.95."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def required_rows(half_width: float, discordance_rate: float, confidence: float = 0.95,
                  difference: float = 0.0) -> int:
    """Rows for a paired accuracy-difference interval of ``±half_width`` at ``confidence``.

    ``difference`` 0 is the conservative choice (the variance ``q - d**2`` is largest there).
    """
    if half_width <= 0:
        raise ValueError(f"the interval's half-width must be positive, got {half_width}")
    if not 0.0 <= discordance_rate <= 1.0 or abs(difference) > discordance_rate:
        raise ValueError(f"discordance rate {discordance_rate} (difference {difference}) is not a share of rows")
    variance = discordance_rate - difference**2
    return max(1, math.ceil(z_value(confidence) ** 2 * variance / half_width**2))


def expected_half_width(rows: int, discordance_rate: float, confidence: float = 0.95,
                        difference: float = 0.0) -> float:
    """The half-width a paired interval on ``rows`` rows is expected to have."""
    return z_value(confidence) * math.sqrt(max(discordance_rate - difference**2, 0.0) / rows)


def discordance_upper_bound(discordant: int, rows: int, confidence: float = 0.8) -> float:
    """One-sided Clopper-Pearson upper bound of the discordance rate from ``discordant`` of ``rows``
    (a pilot). Sizing from the bound, not the point estimate, keeps an unlucky pilot from
    undersizing the sample; 0.8 costs a few percent more rows than the estimate at a pilot of 1,000.

    >>> round(discordance_upper_bound(0, 1000), 4), round(discordance_upper_bound(100, 1000), 4)
    (0.0016, 0.1088)
    """
    from scipy.stats import beta

    if rows <= 0 or not 0 <= discordant <= rows:
        raise ValueError(f"{discordant} discordant rows of {rows}")
    return 1.0 if discordant == rows else float(beta.ppf(confidence, discordant + 1, rows - discordant))


@dataclass(frozen=True)
class SamplePlan:
    """How many held-out rows a run scores, and why: what its report states."""

    rows: int
    held_out_rows: int
    target_half_width: float
    confidence: float
    discordance_rate: float  # the rate the size was computed for
    discordance_source: str  # where that rate came from, in words
    expected_half_width: float  # of the interval on ``rows`` rows, at that rate
    full: bool  # every held-out row is scored

    @property
    def reason(self) -> str:
        """One sentence for the run report."""
        target = f"±{100 * self.target_half_width:.1f} points at {100 * self.confidence:g}%"
        if self.full and self.rows == self.held_out_rows and self.discordance_source == "full evaluation requested":
            return f"all {self.held_out_rows:,} held-out rows (full evaluation requested)"
        basis = f"{100 * self.discordance_rate:.1f}% discordant rows ({self.discordance_source})"
        if self.full:
            return (f"all {self.held_out_rows:,} held-out rows: {target} with {basis} would need more, "
                    f"so the interval is about ±{100 * self.expected_half_width:.1f} points")
        return (f"{self.rows:,} of {self.held_out_rows:,} held-out rows: enough for {target} with {basis} "
                f"(expected ±{100 * self.expected_half_width:.2f} points)")

    def to_dict(self) -> dict:
        return {**asdict(self), "reason": self.reason}


def plan_sample(held_out_rows: int, target_half_width: float, discordance_rate: float, discordance_source: str,
                confidence: float = 0.95, min_rows: int = 1000, full_evaluation: bool = False) -> SamplePlan:
    """The evaluation sample's size for a held-out set of ``held_out_rows`` rows.

    At least ``min_rows`` (a floor that keeps per-class recall and the pilot meaningful), never more
    than the held-out set; every row with ``full_evaluation`` (``--full-evaluation``).

    >>> plan = plan_sample(200_000, 0.01, 0.10, "pilot of 1,000 rows")
    >>> plan.rows, plan.full
    (3842, False)
    >>> plan_sample(2_000, 0.01, 0.10, "prior").full
    True
    """
    if held_out_rows <= 0:
        raise ValueError("the held-out set is empty")
    if full_evaluation:
        rows, source = held_out_rows, "full evaluation requested"
    else:
        rows, source = min(held_out_rows, max(min_rows, required_rows(target_half_width, discordance_rate,
                                                                      confidence))), discordance_source
    return SamplePlan(rows=rows, held_out_rows=held_out_rows, target_half_width=target_half_width,
                      confidence=confidence, discordance_rate=discordance_rate, discordance_source=source,
                      expected_half_width=expected_half_width(rows, discordance_rate, confidence),
                      full=rows == held_out_rows)


def discordance_prior(champion: ModelVersion | None) -> tuple[float, str] | None:
    """The discordance rate to size this run's sample for, before either model is scored, and its source;
    None when the champion has no record of one (the first champion): the run measures it on a pilot.

    The champion's own run recorded how many of its rows it and its parent disagreed on (from their
    recorded predictions); consecutive versions disagree about as often, and the upper bound of that
    count, not the count, keeps a lucky week from undersizing the next. Before any champion, the
    largest rate there is.
    """
    if champion is None:
        return 1.0, "no champion yet: the largest possible rate"
    paired = (champion.metrics or {}).get("paired")
    if paired and paired.get("rows"):
        discordant = int(paired["challenger_only_correct"]) + int(paired["champion_only_correct"])
        rows = int(paired["rows"])
        return (discordance_upper_bound(discordant, rows),
                f"upper bound from v{champion.version}'s run: {discordant:,} of {rows:,} rows discordant")
    return None


def error_bound(champion: ModelVersion) -> tuple[float, str]:
    """Two models that each err on a share ``e`` of rows disagree on at most ``2e``: a bound for a
    champion without a paired record, used only to state the interval of a set scored whole (it is
    too loose to size a sample by: 38% discordance for a 19%-error champion asks for 14,600 rows)."""
    return (min(1.0, 2 * (1.0 - champion.accuracy)),
            f"at most twice champion v{champion.version}'s error rate {1 - champion.accuracy:.3f}")


@dataclass(frozen=True)
class EvaluationSample:
    """The held-out rows a run scores both models on, and the plan that sized them.

    A *pilot* (``pilot`` true, ``plan`` None) is the first ``evaluation_min_rows`` rows of the order:
    score both models on it, then ``size_from_pilot`` gives the sample, which starts with those rows.
    """

    rows: HeldOutSet
    plan: SamplePlan | None  # None for a pilot, and for an empty held-out set, which nothing can be scored on
    pilot: bool = False


def choose_evaluation_sample(settings: Settings, held_out: HeldOutSet, champion: ModelVersion | None
                             ) -> EvaluationSample:
    """This run's evaluation sample: sized for the settings' target interval from the champion's record;
    a pilot when the champion has none and the held-out set is larger than the pilot; the whole held-out
    set with ``full_evaluation`` or when it is no larger than the sample."""
    if held_out.size == 0:  # scoring refuses it, as it always has
        return EvaluationSample(held_out, None)
    prior = discordance_prior(champion)
    if prior is None:
        if not settings.full_evaluation and held_out.size > settings.evaluation_min_rows:
            return EvaluationSample(evaluation_sample(held_out, settings.evaluation_min_rows), None, pilot=True)
        prior = error_bound(champion)
    return _sample(settings, held_out, *prior)


def size_from_pilot(settings: Settings, held_out: HeldOutSet, truth: Sequence[str],
                    challenger: Sequence[str], champion: Sequence[str]) -> EvaluationSample:
    """The evaluation sample sized from a pilot's discordant rows (rows exactly one of the two models
    got right): the 80% upper bound of their share, as for a champion's record. The sample's first
    rows are the pilot's, so neither model runs on them again.

    >>> import pandas as pd
    >>> held_out = HeldOutSet(pd.DataFrame({"id": range(1, 20_001), "text": "t", "label": "a"}), "")
    >>> truth = ["a"] * 1000
    >>> sample = size_from_pilot(Settings(), held_out, truth, truth, ["a"] * 900 + ["b"] * 100)
    >>> sample.plan.rows, sample.plan.discordance_source
    (4181, 'upper bound from a pilot of 1,000 rows: 100 discordant')
    """
    if not len(truth) == len(challenger) == len(champion) > 0:
        raise ValueError(f"a pilot of {len(truth)} rows with {len(challenger)} and {len(champion)} predictions")
    discordant = sum((a == t) != (b == t) for t, a, b in zip(truth, challenger, champion, strict=True))
    return _sample(settings, held_out, discordance_upper_bound(discordant, len(truth)),
                   f"upper bound from a pilot of {len(truth):,} rows: {discordant:,} discordant")


def _sample(settings: Settings, held_out: HeldOutSet, rate: float, source: str) -> EvaluationSample:
    plan = plan_sample(held_out.size, settings.evaluation_half_width, rate, source,
                       confidence=settings.evaluation_confidence, min_rows=settings.evaluation_min_rows,
                       full_evaluation=settings.full_evaluation)
    return EvaluationSample(evaluation_sample(held_out, plan.rows), plan)


def evaluation_sample(held_out: HeldOutSet, rows: int) -> HeldOutSet:
    """The first ``rows`` of the held-out set's evaluation order, in id order like the held-out set;
    the held-out set itself when that is all of it."""
    if rows >= held_out.size:
        return held_out
    frame = held_out.frame
    chosen = evaluation_order(frame["id"].to_numpy(), frame["label"].to_numpy())[:rows]
    sample = frame[frame["id"].isin(chosen)].reset_index(drop=True)
    return HeldOutSet(frame=sample, content_hash=content_hash(sample))
