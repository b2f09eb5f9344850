"""Verifying models in the Hugging Face cache, offline, before a loader reads them.

::

    import weightseal.hub
    from transformers import AutoModel

    report = weightseal.hub.verify_snapshot("org/name", key="org.pub")   # raises if not verified
    model = AutoModel.from_pretrained(report.path, local_files_only=True)

The snapshot is found as huggingface_hub finds it (``HF_HUB_CACHE``, ``HF_HOME``,
``~/.cache/huggingface/hub``; ``revision`` is a branch, tag or commit, default ``main``). Its
links are followed only into that repository's ``blobs/`` directory: a link anywhere else
fails the check. The manifest is the snapshot's ``weightseal.manifest`` unless ``manifest``
names one (for example the publisher's, downloaded separately).

``from_pretrained`` reads the files again after the check; to bind what is loaded to what was
verified, load the weights with :func:`load_safetensors` (or :mod:`weightseal.safetensors`),
which verifies each tensor's bytes as it reads them.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, Optional, Union

from . import _native
from ._types import Report
from ._util import PathLike, opt_path, trust_keywords


def verify_snapshot(
    repo_id: str,
    revision: Optional[str] = None,
    *,
    key: Union[None, PathLike, Iterable[PathLike]] = None,
    policy: Optional[PathLike] = None,
    cache_dir: Optional[PathLike] = None,
    manifest: Optional[PathLike] = None,
    attestations: Optional[PathLike] = None,
    trust_store: bool = True,
    tensors: bool = False,
    allow_extra: bool = False,
    model: Optional[str] = None,
    digest: Optional[str] = None,
    allow_unsigned: bool = False,
    log_key: Optional[str] = None,
    witnesses: Optional[Iterable[str]] = None,
    quorum: Optional[int] = None,
    check: bool = True,
    progress: Optional[Any] = None,
) -> Report:
    """Verifies the cached snapshot of ``repo_id`` (``ORG/NAME``); ``report.path`` is the
    snapshot directory. Raises :class:`~weightseal.errors.SnapshotError` when it is not in the
    cache or a link leaves the repository, :class:`~weightseal.errors.VerificationError` when it
    does not verify (unless ``check=False``). Trust as in :func:`weightseal.verify`."""
    from . import _raise_unless_ok  # type: ignore[attr-defined]

    text = _native.verify_snapshot(
        repo_id,
        trust_keywords(key, policy, trust_store, model, digest, log_key, witnesses, quorum, allow_unsigned),
        revision=revision,
        cache_dir=opt_path(cache_dir),
        manifest=opt_path(manifest),
        attestations=opt_path(attestations),
        tensors=tensors,
        allow_extra=allow_extra,
        progress=progress,
    )
    report = Report._from_json(text)
    if check:
        _raise_unless_ok(report)
    return report


def load_safetensors(
    repo_id: str,
    filename: Optional[str] = None,
    revision: Optional[str] = None,
    *,
    key: Union[None, PathLike, Iterable[PathLike]] = None,
    policy: Optional[PathLike] = None,
    cache_dir: Optional[PathLike] = None,
    manifest: Optional[PathLike] = None,
    attestations: Optional[PathLike] = None,
    trust_store: bool = True,
    model: Optional[str] = None,
    digest: Optional[str] = None,
    log_key: Optional[str] = None,
    witnesses: Optional[Iterable[str]] = None,
    quorum: Optional[int] = None,
    allow_unsigned: bool = False,
    framework: str = "np",
    device: str = "cpu",
) -> Dict[str, Any]:
    """Loads the safetensors weights of the cached snapshot of ``repo_id`` as one
    ``{name: array}``, every tensor verified as it is read; refuses weights that fail.

    The snapshot's release is judged once, by the library's one judge, with the same trust
    keywords as :func:`weightseal.verify` (trust, pins, transparency log), against the
    snapshot's ``weightseal.manifest`` or ``manifest`` (the publisher's, downloaded
    separately: it describes the snapshot wherever it lies). Every shard is then read against
    that one judged manifest, never against a manifest lying beside a shard, so shard bytes the
    judged release does not record are refused. A sharded model
    (``model.safetensors.index.json``, whose bytes must be the manifest's) is loaded from every
    shard its index names, and those must be exactly the safetensors files the manifest
    records; otherwise the one ``model.safetensors``. ``filename=`` loads that one file only.
    The snapshot's links must stay inside the repository's ``blobs/``."""
    from .errors import VerificationError
    from .safetensors import _framework, _load

    _framework(framework)
    readers = _native.open_snapshot(
        repo_id,
        trust_keywords(key, policy, trust_store, model, digest, log_key, witnesses, quorum, allow_unsigned),
        filename=filename,
        revision=revision,
        cache_dir=opt_path(cache_dir),
        manifest=opt_path(manifest),
        attestations=opt_path(attestations),
    )
    out: Dict[str, Any] = {}
    for r in readers:
        for name, value in _load(r, framework, device).items():
            if name in out:
                raise VerificationError(f"tensor {name!r} is in more than one shard ({r.path})")
            out[name] = value
    return out


def snapshot_path(repo_id: str, revision: Optional[str] = None, *, cache_dir: Optional[PathLike] = None) -> str:
    """The snapshot directory of ``repo_id`` at ``revision`` in the cache, after checking that
    every link in it stays inside the repository's ``blobs/``."""
    return _native.snapshot_path(repo_id, revision=revision, cache_dir=opt_path(cache_dir))
