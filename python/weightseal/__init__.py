"""weightseal: prove that ML model weights are exactly what their publisher released.

The three jobs, as in the ``weightseal`` command::

    import weightseal

    # Publish: hash the model directory into weightseal.manifest and sign it.
    weightseal.sign("model/", key="acme.key", version=3)

    # Verify: the files against the manifest, the signatures against the publisher's key.
    report = weightseal.verify("model/", key="acme.pub")      # raises VerificationError if not
    print(report.summary())

    # Fetch: download with every chunk verified before it lands.
    weightseal.fetch("https://models.example/org/model", "model/", key="acme.pub")

    # Load: tensors whose bytes are hashed as they are read and checked against the manifest.
    tensors = weightseal.safetensors.load_file("model/model.safetensors", key="acme.pub")

    # Derive: a GGUF or F16 release recomputed, tensor by tensor, from its signed base.
    report = weightseal.derive.check("model.gguf", "model/", key="acme.pub", recipe="recipe.toml")

Heavy work (hashing, downloading, reading tensors) runs in Rust with the GIL released.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from . import _native
from ._util import key_paths as _paths
from ._util import opt_path as _opt
from ._util import trust_keywords as _trust
from ._types import (
    AttestationResult,
    ByteRange,
    DerivedFile,
    DerivedTensor,
    DeriveReport,
    ExtraFile,
    FetchedFile,
    FetchResult,
    FileResult,
    Manifest,
    ManifestFile,
    OmsSignature,
    Problem,
    Report,
    Retyped,
    RoleResult,
    SignatureReport,
    Signed,
    TensorChanges,
    TensorRecord,
    TensorSetResult,
)
from .errors import (
    AttestationError,
    FetchError,
    KeyLoadError,
    ManifestError,
    PolicyError,
    RecipeError,
    SignatureError,
    SnapshotError,
    TensorVerificationError,
    TrustError,
    VerificationError,
    WeightsealError,
)

__version__ = _native.version()

PathLike = Union[str, "os.PathLike[str]"]
#: ``callback(done_bytes, total_bytes)``, called from a worker thread about 200 times per call.
ProgressCallback = Callable[[int, int], Any]

MANIFEST_FILE = "weightseal.manifest"
ATTESTATION_FILE = "weightseal.intoto.jsonl"

__all__ = [
    "hash",
    "sign",
    "verify",
    "fetch",
    "safetensors",
    "hub",
    "derive",
    "Manifest",
    "ManifestFile",
    "TensorRecord",
    "Report",
    "FileResult",
    "ByteRange",
    "TensorChanges",
    "Retyped",
    "TensorSetResult",
    "SignatureReport",
    "OmsSignature",
    "AttestationResult",
    "RoleResult",
    "Problem",
    "FetchResult",
    "FetchedFile",
    "ExtraFile",
    "Signed",
    "DeriveReport",
    "DerivedTensor",
    "DerivedFile",
    "WeightsealError",
    "ManifestError",
    "KeyLoadError",
    "PolicyError",
    "AttestationError",
    "TrustError",
    "FetchError",
    "SnapshotError",
    "RecipeError",
    "VerificationError",
    "SignatureError",
    "TensorVerificationError",
]


def _raise_unless_ok(result: Union[Report, FetchResult]) -> None:
    if result.ok:
        return
    if result.vouched == "no-trusted-key":
        raise TrustError(
            result.summary()
            + ": pass key= or policy=, add the publisher to the trust store, pin digest=, or allow_unsigned=True for integrity checking only",
            result,
        )
    files_ok = all(f.ok for f in result.files) and not result.pins
    if isinstance(result, FetchResult):
        files_ok = files_ok and all(x.ok for x in result.extra)
    signature_failed = result.signatures is not None and not result.signatures.ok
    if isinstance(result, Report):
        signature_failed = signature_failed or (result.oms is not None and not result.oms.ok)
        signature_failed = signature_failed or result.vouched == "no-trusted-key"
    if files_ok and signature_failed:
        raise SignatureError(result.summary(), result)
    raise VerificationError(result.summary(), result)


def hash(
    path: PathLike,
    *,
    output: Optional[PathLike] = None,
    write: bool = True,
    name: Optional[str] = None,
    chunk_size: Optional[int] = None,
    tensors: bool = True,
    sha256: bool = False,
    follow_symlinks: bool = False,
    progress: Optional[ProgressCallback] = None,
) -> Manifest:
    """Hashes the model directory ``path`` (or a single model file) into its manifest.

    The manifest is written to ``output`` (default ``path/weightseal.manifest``) unless
    ``write`` is False. ``tensors`` records a digest per tensor of safetensors and GGUF files
    (needed by :mod:`weightseal.safetensors` and ``verify(tensors=True)``); ``sha256`` records
    each file's SHA-256 (the Hugging Face LFS id). ``name`` defaults to the directory's name.
    Build warnings (a tensor file that does not parse, an index that disagrees with its
    shards) are issued with :func:`warnings.warn`.
    """
    import warnings

    root = os.fsdecode(path)
    data, notes = _native.hash(
        root,
        write=write,
        output=_opt(output),
        name=name,
        chunk_size=chunk_size,
        tensors=tensors,
        sha256=sha256,
        follow_symlinks=follow_symlinks,
        progress=progress,
    )
    for n in notes:
        warnings.warn(f"weightseal: {n}", stacklevel=2)
    return Manifest.from_bytes(data)


def sign(
    path: PathLike,
    key: PathLike,
    *,
    passphrase: Optional[str] = None,
    role: str = "publisher",
    signer: Optional[str] = None,
    version: Optional[int] = None,
    expires: Optional[str] = None,
    derived_from: Sequence[str] = (),
    annotations: Optional[Mapping[str, str]] = None,
    manifest: Optional[PathLike] = None,
    attestations: Optional[PathLike] = None,
    format: str = "weightseal",
    signature: Optional[PathLike] = None,
    manifest_only: bool = False,
    progress: Optional[ProgressCallback] = None,
) -> Signed:
    """Signs the model in ``path`` with the private key file ``key``.

    Hashes the directory into ``weightseal.manifest`` when there is none; otherwise checks the
    stored manifest still describes the directory (``manifest_only=True`` skips that). The
    attestation is added to ``weightseal.intoto.jsonl``; signing again with the same key and
    role replaces the earlier one. The key and every option are checked before anything is
    hashed or written. ``expires`` is a date (``2027-01-31``), a time or ``+90d``;
    ``derived_from`` entries are ``DIGEST[:RELATION[:NAME]]`` or a base model's directory;
    ``format`` is ``weightseal``, ``oms`` (an OpenSSF model signing bundle at ``signature``,
    default ``path/model.sig``) or ``both``. An encrypted key's passphrase comes from
    ``passphrase`` or ``WEIGHTSEAL_PASSPHRASE``.
    """
    root = os.fsdecode(path)
    text = _native.sign(
        root,
        os.fsdecode(key),
        passphrase=passphrase,
        role=role,
        signer=signer if signer is not None else os.path.splitext(os.path.basename(os.fsdecode(key)))[0],
        version=version,
        expires=expires,
        derived_from=list(derived_from),
        annotations=dict(annotations or {}),
        manifest=_opt(manifest),
        attestations=_opt(attestations),
        format=format,
        signature=_opt(signature),
        manifest_only=manifest_only,
        progress=progress,
    )
    return Signed._from_json(text)


def verify(
    path: PathLike,
    *,
    key: Union[None, PathLike, Iterable[PathLike]] = None,
    policy: Optional[PathLike] = None,
    manifest: Optional[PathLike] = None,
    attestations: Optional[PathLike] = None,
    trust_store: bool = True,
    tensors: bool = False,
    allow_extra: bool = False,
    follow_symlinks: bool = False,
    model: Optional[str] = None,
    digest: Optional[str] = None,
    allow_unsigned: bool = False,
    signature: Optional[PathLike] = None,
    certificate_chain: Union[None, PathLike, Iterable[PathLike]] = None,
    identity: Optional[str] = None,
    identity_provider: Optional[str] = None,
    trusted_root: Optional[PathLike] = None,
    ignore_paths: Union[None, PathLike, Iterable[PathLike]] = None,
    ignore_git_paths: bool = True,
    log_key: Optional[str] = None,
    witnesses: Optional[Iterable[str]] = None,
    quorum: Optional[int] = None,
    check: bool = True,
    progress: Optional[ProgressCallback] = None,
) -> Report:
    """Verifies the model directory ``path`` (or a single model file, whose manifest is
    ``FILE.weightseal.manifest``) against its manifest and attestations.

    Trust comes from ``key`` (public key files: PEM, OpenSSH, GitHub ``.keys``) or ``policy``
    (a TOML trust policy), else from the trust store when ``trust_store``. With no trust
    configured that applies to the model (no key, no policy, no trust store entry for its name)
    and no ``digest`` pin, the release is refused unless ``allow_unsigned=True``: then only
    the files' integrity against the manifest is checked, ``report.vouched`` is
    ``integrity-only`` and its summary says so, never "verified". The same rule holds for
    every function that judges a release (:func:`fetch`, :mod:`weightseal.safetensors`,
    :mod:`weightseal.hub`), and they all take the same trust keywords.
    ``model`` and ``digest`` pin the release asked for. ``tensors=True`` judges tensor files by
    their tensors (a re-sharded copy passes).

    ``signature`` (an OpenSSF model signing bundle, ``model.sig``) is checked with ``key``
    (key method), ``certificate_chain`` (certificate method) or ``identity`` and
    ``identity_provider`` (Sigstore keyless, offline; ``trusted_root`` for another instance),
    against the directory as model_signing serialized it; the pins apply to it too.

    ``log_key`` (a transparency log's verifier key, as ``weightseal log init`` prints it)
    requires the release's ``weightseal.tlog-proof`` to prove, offline, that it is in that log,
    cosigned by at least ``quorum`` (default: all) of ``witnesses`` (their verifier keys).

    Raises :class:`VerificationError` (or its :class:`SignatureError`) with the report when it
    does not verify, unless ``check=False``.
    """
    root = os.fsdecode(path)
    text = _native.verify(
        root,
        _trust(key, policy, trust_store, model, digest, log_key, witnesses, quorum, allow_unsigned),
        manifest=_opt(manifest),
        attestations=_opt(attestations),
        tensors=tensors,
        allow_extra=allow_extra,
        follow_symlinks=follow_symlinks,
        signature=_opt(signature),
        certificate_chain=_paths(certificate_chain),
        identity=identity,
        identity_provider=identity_provider,
        trusted_root=_opt(trusted_root),
        ignore_paths=_paths(ignore_paths),
        ignore_git_paths=ignore_git_paths,
        progress=progress,
    )
    report = Report._from_json(text)
    if check:
        _raise_unless_ok(report)
    return report


def fetch(
    url: str,
    dest: PathLike,
    *,
    key: Union[None, PathLike, Iterable[PathLike]] = None,
    policy: Optional[PathLike] = None,
    manifest: Optional[str] = None,
    attestations: Optional[str] = None,
    trust_store: bool = True,
    allow_unsigned: bool = False,
    model: Optional[str] = None,
    digest: Optional[str] = None,
    log_key: Optional[str] = None,
    witnesses: Optional[Iterable[str]] = None,
    quorum: Optional[int] = None,
    allow_extra: bool = False,
    headers: Optional[Mapping[str, str]] = None,
    timeout: Optional[float] = None,
    check: bool = True,
    progress: Optional[ProgressCallback] = None,
) -> FetchResult:
    """Downloads the model at ``url`` into ``dest``, verifying every chunk on arrival.

    The manifest (``URL/weightseal.manifest`` unless ``manifest`` names a file or URL) and its
    attestations are judged before any weight byte is requested; no file reaches its final
    path before all its bytes verified; an interrupted fetch resumes. Trust, pins and the
    transparency log requirement (``log_key``, ``witnesses``, ``quorum``, or a policy's
    ``[log]``) are asked exactly as in :func:`verify`: without ``key``, ``policy``, a trust
    store entry or a ``digest`` pin the release is refused unless ``allow_unsigned``. ``HF_TOKEN`` is sent to Hugging Face hosts
    only. Raises :class:`VerificationError` when the result is not ok, unless ``check=False``.
    """
    text = _native.fetch(
        url,
        os.fsdecode(dest),
        _trust(key, policy, trust_store, model, digest, log_key, witnesses, quorum, allow_unsigned),
        manifest=manifest,
        attestations=attestations,
        allow_extra=allow_extra,
        headers=dict(headers or {}),
        timeout=timeout,
        progress=progress,
    )
    result = FetchResult._from_json(text)
    if check:
        _raise_unless_ok(result)
    return result


from . import derive, hub, safetensors  # noqa: E402  (they import the names above)
