"""A saved model version's files: where they are, fetching them, and checking them against the registry.

Nothing here imports TensorFlow: ``retrain predict`` checks and reads a version before (and often
without) it. A version is a folder; its sha256 is taken over every file's name and bytes, and a
folder whose files no longer match the registry's digest is refused before a byte is read.

>>> is_local("s3://bucket/models"), is_local("/srv/models"), is_local("file:///srv/models")
(False, True, True)
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

LABELS_FILE = "retrain_labels.json"


class ArtifactIntegrityError(ValueError):
    """A model folder's content does not match the sha256 recorded for it."""


def folder_sha256(folder: str | Path) -> str:
    """One sha256 over every file of a model folder (names and bytes, in name order)."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        digest.update(relative.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def verified_labels(folder: Path, expected_sha256: str | None) -> tuple[str, ...]:
    """A saved classifier's labels, once its files are checked against ``expected_sha256`` (if given)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist")
    if expected_sha256 is not None:
        actual = folder_sha256(folder)
        if actual != expected_sha256:
            raise ArtifactIntegrityError(
                f"model folder {folder} has sha256 {actual}, the registry recorded {expected_sha256}:"
                " refusing to load a changed artifact"
            )
    return tuple(json.loads((folder / LABELS_FILE).read_text())["labels"])


def is_local(location: str) -> bool:
    """Whether a store location is a plain folder on this machine."""
    return "://" not in location or location.startswith("file://")


def local_path(location: str) -> Path:
    return Path(location.removeprefix("file://")).expanduser()


def fetch_version(uri: str, sha256: str, cache: Path) -> Path:
    """A local folder holding the version at ``uri``, verified against ``sha256``."""
    if is_local(uri):
        return local_path(uri)
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
