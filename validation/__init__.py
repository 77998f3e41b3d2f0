"""Data checks that gate newly labeled batches before retraining."""

from validation.batch_checks import (
    BatchExpectations,
    CheckResult,
    DataCheckFailed,
    ValidationReport,
    require_valid,
    validate_batch,
)

__all__ = [
    "BatchExpectations",
    "CheckResult",
    "DataCheckFailed",
    "ValidationReport",
    "require_valid",
    "validate_batch",
]
