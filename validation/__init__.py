"""Data checks that gate newly labeled batches before retraining, and the quarantine of failing rows.

``validation.batch_checks`` (the checks, GX imported lazily), ``validation.text`` (text features),
``validation.expectations`` (custom GX expectations), ``validation.quarantine`` (the quarantine
tables' operations), ``validation.gate`` (the data-check step as a plain function) and
``validation.docs`` (the Data Docs site). Importing this package loads neither pandas nor GX.
"""

from validation.batch_checks import (
    BatchExpectations,
    CheckResult,
    DataCheckFailed,
    FlaggedRow,
    ReferenceData,
    ValidationReport,
    require_valid,
    validate_batch,
)

__all__ = [
    "BatchExpectations",
    "CheckResult",
    "DataCheckFailed",
    "FlaggedRow",
    "ReferenceData",
    "ValidationReport",
    "require_valid",
    "validate_batch",
]
