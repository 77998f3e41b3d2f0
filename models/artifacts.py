"""Where model versions live: a local folder by default, or any fsspec URL (``s3://bucket/models``).

A version is saved to a local folder first (KerasHub writes files), its sha256 taken, then
copied to the store. Loading fetches a remote version into a local cache named by its
sha256 and verifies the digest before Keras reads a byte of it.

>>> is_local("s3://bucket/models"), is_local("/srv/models"), is_local("file:///srv/models")
(False, True, True)
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from data.settings import Settings
from models.classifier import Classifier, folder_sha256, load_classifier, save_classifier
from models.hardware import resolve_precision
from models.registry import ModelVersion


def is_local(location: str) -> bool:
    """Whether a store location is a plain folder on this machine."""
    return "://" not in location or location.startswith("file://")


def _local_path(location: str) -> Path:
    return Path(location.removeprefix("file://")).expanduser()


def save_version(classifier: Classifier, store: str, name: str) -> tuple[str, str]:
    """Save a classifier as ``name`` in the store; return its URI and sha256."""
    if is_local(store):
        folder = _local_path(store) / name
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


def fetch_version(uri: str, sha256: str, cache: Path) -> Path:
    """A local folder holding the version at ``uri``, verified against ``sha256``."""
    if is_local(uri):
        return _local_path(uri)
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        # It names a cache folder that is replaced below: never let a registry value reach outside the cache.
        raise ValueError(f"artifact sha256 {sha256!r} of {uri} is not 64 lowercase hex digits: the registry row "
                         "is damaged, and nothing was fetched")
    import fsspec

    folder = cache / sha256
    if folder.is_dir() and folder_sha256(folder) == sha256:
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}-", dir=cache))
    filesystem, root = fsspec.core.url_to_fs(uri)
    filesystem.get(f"{root.rstrip('/')}/", str(partial), recursive=True)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)  # atomic: a crash never leaves a half-copied folder under the sha256 name
    return folder


def open_version(uri: str, sha256: str, cache: Path, dtype: str = "float32") -> Classifier:
    """Load a stored version to compute in ``dtype``, refusing it when its content does not match ``sha256``."""
    return load_classifier(fetch_version(uri, sha256, cache), expected_sha256=sha256, dtype=dtype)


def open_registered(settings: Settings, version: ModelVersion) -> Classifier:
    """A registered version's classifier, fetched into the settings' cache and checked, at their precision."""
    return open_version(version.artifact_uri, version.artifact_sha256, settings.cache_dir,
                        dtype=resolve_precision(settings.precision))
