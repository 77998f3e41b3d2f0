"""Data checks that gate newly labeled batches before retraining, and the quarantine of failing rows.

``validation.batch_checks`` (``validate_batch``: GX imported lazily) runs the checks of ``validation.checks``
(one ``validation.data_check.DataCheck`` entry per check) against ``validation.batch_expectations`` (what a
batch must satisfy, the stored rows it is compared with): ``validation.frame`` prepares the frame,
``validation.suites`` builds the GX suites from the entries, ``validation.outcomes`` reads the results back
into a ``validation.report``. Beside them: ``validation.text`` (text features), ``validation.expectations``
(custom GX expectations), ``validation.quarantine`` (the quarantine tables' operations), ``validation.gate``
(the data-check step as a plain function) and ``validation.docs`` (the Data Docs site). Importing this
package loads neither pandas nor GX.
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
