"""Custom Great Expectations expectations, for what GX Core has no expectation for.

- ``ExpectColumnValuesToBeFirstOccurrences``: a value may appear once; later repeats are
  unexpected (GX's ``expect_column_values_to_be_unique`` flags every copy, the first included,
  and a batch should keep one copy of a duplicated row).
- ``ExpectColumnValuesToHaveCharacterShareAtMost``: at most a share of each value's characters
  may match a pattern (the regex expectations judge a value by any match at all).
- ``ExpectColumnPairValuesAToDetermineB``: rows with the same A carry the same B (one label per text).
- ``ExpectColumnValueSharesToBeBetween``: every listed value's share of the column lies within bounds.

Defining a GX expectation registers it globally, and importing GX costs seconds, so the classes
are built on first use by ``load()`` rather than at import.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from validation.text import pattern_shares

_LOCK = threading.Lock()
_LOADED: SimpleNamespace | None = None


def load() -> SimpleNamespace:
    """The custom expectation classes, defined (and registered with GX) once per process."""
    global _LOADED
    with _LOCK:
        if _LOADED is None:
            _LOADED = _define()
        return _LOADED


def _define() -> SimpleNamespace:  # noqa: C901 - one scope for classes that must be defined together
    from typing import ClassVar, Literal

    import pandas as pd
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.expectation import (
        ColumnAggregateExpectation,
        ColumnMapExpectation,
        ColumnPairMapExpectation,
    )
    from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
        ColumnAggregateMetricProvider,
        column_aggregate_value,
    )
    from great_expectations.expectations.metrics.map_metric_provider import (
        ColumnMapMetricProvider,
        ColumnPairMapMetricProvider,
        column_condition_partial,
        column_pair_condition_partial,
    )


    class ColumnValuesFirstOccurrence(ColumnMapMetricProvider):
        condition_metric_name = "column_values.retrain_first_occurrence"

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
            return ~column.duplicated(keep="first")

    class ExpectColumnValuesToBeFirstOccurrences(ColumnMapExpectation):
        """Each value appears once; a value equal to one in an earlier row is unexpected."""

        map_metric: ClassVar[str] = "column_values.retrain_first_occurrence"

    class ColumnValuesCharacterShare(ColumnMapMetricProvider):
        condition_metric_name = "column_values.retrain_character_share_at_most"
        condition_value_keys = ("pattern", "max_share")

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column: pd.Series, pattern: str, max_share: float, **kwargs: Any) -> pd.Series:
            return pattern_shares(column, pattern) <= max_share

    class ExpectColumnValuesToHaveCharacterShareAtMost(ColumnMapExpectation):
        """At most ``max_share`` of each value's characters match ``pattern``."""

        pattern: str
        max_share: float = 0.0
        map_metric: ClassVar[str] = "column_values.retrain_character_share_at_most"
        success_keys: ClassVar[tuple[str, ...]] = ("pattern", "max_share", "mostly")

    class ColumnPairAToB(ColumnPairMapMetricProvider):
        condition_metric_name = "column_pair_values.retrain_a_determines_b"
        condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition",
                                 "condition_parser", "ignore_row_if")

        @column_pair_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column_A: pd.Series, column_B: pd.Series, **kwargs: Any) -> pd.Series:
            pairs = pd.DataFrame({"a": column_A, "b": column_B})
            return pairs.groupby("a", sort=False, dropna=False)["b"].transform("nunique") <= 1

    class ExpectColumnPairValuesAToDetermineB(ColumnPairMapExpectation):
        """Rows with the same value in column A have the same value in column B."""

        ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
            "either_value_is_missing"
        )
        map_metric: ClassVar[str] = "column_pair_values.retrain_a_determines_b"
        success_keys: ClassVar[tuple[str, ...]] = ("ignore_row_if", "mostly")

    class ColumnValueShares(ColumnAggregateMetricProvider):
        metric_name = "column.retrain_value_shares"
        filter_column_isnull = True

        @column_aggregate_value(engine=PandasExecutionEngine)
        def _pandas(cls, column: pd.Series, **kwargs: Any) -> dict:
            return {str(value): float(share) for value, share in column.value_counts(normalize=True).items()}

    class ExpectColumnValueSharesToBeBetween(ColumnAggregateExpectation):
        """Each value of ``value_set`` makes up between ``min_share`` and ``max_share`` of the non-null values."""

        value_set: list
        min_share: float = 0.0
        max_share: float = 1.0
        metric_dependencies: ClassVar[tuple[str, ...]] = ("column.retrain_value_shares",)
        success_keys: ClassVar[tuple[str, ...]] = ("value_set", "min_share", "max_share")

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                      execution_engine: Any = None) -> dict:
            shares = metrics["column.retrain_value_shares"]
            observed = {str(value): shares.get(str(value), 0.0) for value in self.value_set} if shares else {}
            # An empty column has no shares to judge; the row-count expectation speaks for it.
            outside = {value: share for value, share in observed.items()
                       if shares and not self.min_share <= share <= self.max_share}
            return {"success": not outside,
                    "result": {"observed_value": observed, "details": {"outside_bounds": outside}}}

    return SimpleNamespace(
        ExpectColumnValuesToBeFirstOccurrences=ExpectColumnValuesToBeFirstOccurrences,
        ExpectColumnValuesToHaveCharacterShareAtMost=ExpectColumnValuesToHaveCharacterShareAtMost,
        ExpectColumnPairValuesAToDetermineB=ExpectColumnPairValuesAToDetermineB,
        ExpectColumnValueSharesToBeBetween=ExpectColumnValueSharesToBeBetween,
        metric_providers=(ColumnValuesFirstOccurrence, ColumnValuesCharacterShare, ColumnPairAToB,
                          ColumnValueShares),
    )
