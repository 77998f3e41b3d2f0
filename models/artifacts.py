"""A classifier in and out of the version store: a local folder by default, or any fsspec URL
(``s3://bucket/models``).

A version is saved to a local folder first (KerasHub writes files), its sha256 taken, then
copied to the store. Loading fetches a remote version into a local cache named by its
sha256 and verifies the digest before Keras reads a byte of it (``models.version_files``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from data.settings import Settings
from models.classifier import Classifier, load_classifier, save_classifier
from models.hardware import resolve_precision
from models.registry import ModelVersion
from models.version_files import fetch_version, is_local, local_path


def save_version(classifier: Classifier, store: str, name: str) -> tuple[str, str]:
    """Save a classifier as ``name`` in the store; return its URI and sha256."""
    if is_local(store):
        folder = local_path(store) / name
        folder.parent.mkdir(parents=True, exist_ok=True)
        return str(folder), save_classifier(classifier, folder)
    import fsspec

    with tempfile.TemporaryDirectory(prefix="retrain-upload-") as scratch:
        local = Path(scratch) / name
        sha256 = save_classifier(classifier, local)
        filesystem, root = fsspec.core.url_to_fs(store)
        target = f"{root.rstrip('/')}/{name}"
        filesystem.put(str(local), target, recursive=True)
    return f"{store.rstrip('/')}/{name}", sha256


def open_version(uri: str, sha256: str, cache: Path, dtype: str = "float32") -> Classifier:
    """Load a stored version to compute in ``dtype``, refusing it when its content does not match ``sha256``."""
    return load_classifier(fetch_version(uri, sha256, cache), expected_sha256=sha256, dtype=dtype)


def open_registered(settings: Settings, version: ModelVersion) -> Classifier:
    """A registered version's classifier, fetched into the settings' cache and checked, at their precision."""
    return open_version(version.artifact_uri, version.artifact_sha256, settings.cache_dir,
                        dtype=resolve_precision(settings.precision))
