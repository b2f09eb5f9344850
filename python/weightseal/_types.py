"""Typed results. Each is a frozen dataclass built from the library's JSON result."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from . import _native


def _tuple(items: Any, make: Any) -> tuple:
    return tuple(make(x) for x in (items or ()))


@dataclass(frozen=True)
class ByteRange:
    """A half-open byte range ``start..end`` of a file."""

    start: int
    end: int

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "ByteRange":
        return cls(int(d["start"]), int(d["end"]))


@dataclass(frozen=True)
class Retyped:
    """A tensor whose dtype or shape changed."""

    name: str
    expected_dtype: str
    found_dtype: str
    expected_shape: Tuple[int, ...]
    found_shape: Tuple[int, ...]


@dataclass(frozen=True)
class TensorChanges:
    """What differs inside a modified tensor file."""

    header_changed: bool = False
    unparsable: Optional[str] = None
    metadata_changed: Tuple[str, ...] = ()
    changed: Tuple[str, ...] = ()
    retyped: Tuple[Retyped, ...] = ()
    removed: Tuple[str, ...] = ()
    added: Tuple[str, ...] = ()

    @classmethod
    def _from(cls, d: Optional[Dict[str, Any]]) -> Optional["TensorChanges"]:
        if d is None:
            return None
        return cls(
            header_changed=bool(d.get("header_changed", False)),
            unparsable=d.get("unparsable"),
            metadata_changed=tuple(d.get("metadata_changed", ())),
            changed=tuple(d.get("changed", ())),
            retyped=_tuple(
                d.get("retyped"),
                lambda r: Retyped(
                    r["name"],
                    r["expected_dtype"],
                    r["found_dtype"],
                    tuple(r["expected_shape"]),
                    tuple(r["found_shape"]),
                ),
            ),
            removed=tuple(d.get("removed", ())),
            added=tuple(d.get("added", ())),
        )

    @property
    def tensors(self) -> Tuple[str, ...]:
        """Every tensor that differs in any way, sorted."""
        names = set(self.changed) | set(self.removed) | set(self.added)
        names |= {r.name for r in self.retyped}
        return tuple(sorted(names))


@dataclass(frozen=True)
class FileResult:
    """One path's outcome.

    ``status`` is one of ``ok``, ``modified``, ``modified-digest``, ``missing``, ``extra``,
    ``unreadable`` or ``tensor-file`` (tensor mode).
    """

    path: str
    status: str
    ok: bool
    expected_size: Optional[int] = None
    found_size: Optional[int] = None
    expected_blake3: Optional[str] = None
    found_blake3: Optional[str] = None
    #: The differing chunk ranges (adjacent ones merged): the change is somewhere inside.
    ranges: Tuple[ByteRange, ...] = ()
    #: The manifest's chunk size, the granularity of ``ranges``.
    chunk_size: Optional[int] = None
    #: The manifest's tensors whose bytes lie in ``ranges`` (also when they were not
    #: re-hashed, as for a mirror checked over HTTP).
    overlapping: Tuple[str, ...] = ()
    #: For a modified tensor file whose tensors the manifest records: what changed inside.
    tensors: Optional[TensorChanges] = None
    #: Why an unreadable file could not be read.
    reason: Optional[str] = None
    #: Tensor mode: tensors of this file that are not in the manifest as they are here.
    differing: Tuple[str, ...] = ()

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "FileResult":
        status = d["status"]
        passes = status == "ok" or (status == "extra" and d.get("allowed", False))
        if status == "tensor-file":
            passes = not d.get("differing")
        return cls(
            path=d["path"],
            status=status,
            ok=passes,
            expected_size=d.get("expected_size"),
            found_size=d.get("found_size", d.get("size")),
            expected_blake3=d.get("expected_blake3") or d.get("expected"),
            found_blake3=d.get("found_blake3") or d.get("found"),
            ranges=_tuple(d.get("ranges"), ByteRange._from),
            chunk_size=d.get("chunk_size"),
            overlapping=tuple(d.get("overlapping", ())),
            tensors=TensorChanges._from(d.get("tensors") if isinstance(d.get("tensors"), dict) else None),
            reason=d.get("reason"),
            differing=tuple(d.get("differing", ())),
        )


@dataclass(frozen=True)
class Problem:
    """A failure not about one file or attestation (a pin, rollback, a state file)."""

    code: str
    detail: str

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "Problem":
        return cls(d["code"], d["detail"])


@dataclass(frozen=True)
class AttestationResult:
    """One attestation of the bundle as judged.

    ``status`` is ``valid``, ``untrusted``, ``invalid``, ``wrong-subject``,
    ``role-not-allowed``, ``expired``, ``not-yet-valid``, ``too-old``, ``revoked`` or
    ``key-not-in-window``; ``code`` is the stable reason code.
    """

    line: int
    status: str
    code: str
    detail: str
    keys: Tuple[str, ...] = ()
    keyids: Tuple[str, ...] = ()
    role: Optional[str] = None
    signer: Optional[str] = None
    version: Optional[int] = None
    issued_at: Optional[str] = None
    counted: bool = False

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "AttestationResult":
        return cls(
            line=d["line"],
            status=d["status"],
            code=d["code"],
            detail=d["detail"],
            keys=tuple(d.get("keys", ())),
            keyids=tuple(d.get("keyids", ())),
            role=d.get("role"),
            signer=d.get("signer"),
            version=d.get("version"),
            issued_at=d.get("issued_at"),
            counted=bool(d.get("counted", False)),
        )


@dataclass(frozen=True)
class RoleResult:
    """A role of the policy: its threshold and the signers that earned it."""

    role: str
    threshold: int
    keys: Tuple[str, ...]
    met: bool


@dataclass(frozen=True)
class SignatureReport:
    """The attestations against the trust given."""

    ok: bool
    attestations: Tuple[AttestationResult, ...]
    roles: Tuple[RoleResult, ...]
    version: Optional[int]
    problems: Tuple[Problem, ...]

    @classmethod
    def _from(cls, d: Any) -> Optional["SignatureReport"]:
        if not isinstance(d, dict):
            return None
        return cls(
            ok=bool(d["ok"]),
            attestations=_tuple(d.get("attestations"), AttestationResult._from),
            roles=_tuple(
                d.get("roles"),
                lambda r: RoleResult(r["role"], r["threshold"], tuple(r["keys"]), r["met"]),
            ),
            version=d.get("version"),
            problems=_tuple(d.get("problems"), Problem._from),
        )


@dataclass(frozen=True)
class TensorSetResult:
    """Tensor mode: the directory's tensors against the manifest's, wherever they are stored."""

    ok: bool
    expected_digest: str
    found_digest: str
    count: int
    changed: Tuple[str, ...]
    removed: Tuple[str, ...]
    added: Tuple[str, ...]
    layout_differs: bool
    metadata_ok: bool
    metadata_changed: Tuple[str, ...]

    @classmethod
    def _from(cls, d: Optional[Dict[str, Any]]) -> Optional["TensorSetResult"]:
        if d is None:
            return None
        md = d.get("metadata") or {}
        return cls(
            ok=bool(d["ok"]),
            expected_digest=d["expected_digest"],
            found_digest=d["found_digest"],
            count=d["count"],
            changed=tuple(d.get("changed", ())),
            removed=tuple(d.get("removed", ())),
            added=tuple(d.get("added", ())),
            layout_differs=bool(d.get("layout_differs", False)),
            metadata_ok=bool(md.get("ok", True)),
            metadata_changed=tuple(md.get("changed", ())),
        )


def _describe(ok: bool, what: str, files: Tuple[Any, ...], signatures: Optional[SignatureReport], pins: Tuple[Problem, ...], reasons: Tuple[str, ...] = (), vouched: str = "checked") -> str:
    if ok and vouched == "integrity-only":
        return f"{what}: integrity only (as asked): the files match the manifest; signatures NOT checked"
    if ok and vouched == "digest-pinned":
        return f"{what}: verified by the digest pin (signatures not checked)"
    if ok:
        return f"{what}: verified"
    if reasons:
        # The library's judge says why; this only renders it.
        return f"{what}: NOT verified: " + "; ".join(reasons)
    parts = []
    bad = [f.path for f in files if not getattr(f, "ok", True)]
    if bad:
        parts.append(f"{len(bad)} file(s) differ: " + ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else ""))
    if signatures is not None and not signatures.ok:
        codes = sorted({a.code for a in signatures.attestations if a.status != "valid"} | {p.code for p in signatures.problems})
        parts.append("the attestations do not meet the trust (" + ", ".join(codes or ["threshold not met"]) + ")")
    for p in pins:
        parts.append(f"{p.code}: {p.detail}")
    return f"{what}: NOT verified: " + "; ".join(parts or ["see the report"])


@dataclass(frozen=True)
class OmsSignature:
    """An OpenSSF model signing signature (``model.sig``), as judged."""

    ok: bool
    #: ``key``, ``certificate`` or ``keyless``.
    method: Optional[str]
    signer: Optional[str]
    hash_type: Optional[str]
    resources: int
    error: Optional[str]

    @classmethod
    def _from(cls, d: Any) -> Optional["OmsSignature"]:
        if not isinstance(d, dict):
            return None
        return cls(
            ok=bool(d["ok"]),
            method=d.get("method"),
            signer=d.get("signer"),
            hash_type=d.get("hash_type"),
            resources=int(d.get("resources", 0)),
            error=d.get("error"),
        )


@dataclass(frozen=True)
class Report:
    """The verdict on a release: the files against what was signed, the signatures against the
    trust, and the pins. ``ok`` is the one answer, made by the library's judge; ``reasons``
    says why it is not verified."""

    ok: bool
    name: str
    #: ``None`` when the signature was refused before its statement could be read.
    manifest_digest: Optional[str]
    path: str
    files: Tuple[FileResult, ...]
    #: ``None`` when no trust was given (then only integrity against the manifest was shown).
    signatures: Optional[SignatureReport]
    pins: Tuple[Problem, ...] = ()
    tensor_set: Optional[TensorSetResult] = None
    #: Problems of ``*.safetensors.index.json`` files.
    index: Tuple[Problem, ...] = ()
    #: The trust store entries that supplied the trust, when they did.
    trust_store: Tuple[str, ...] = ()
    #: ``weightseal`` or ``oms``.
    format: str = "weightseal"
    #: Who vouched for what the files were checked against: ``checked``, ``digest-pinned``,
    #: ``integrity-only`` or ``no-trusted-key``.
    vouched: str = "checked"
    #: The OpenSSF model signing signature, for an ``oms`` release.
    oms: Optional[OmsSignature] = None
    #: Why it is not verified, most important first (empty when it is).
    reasons: Tuple[str, ...] = ()
    #: Whether the files were checked (an OMS signature that does not verify stops before).
    files_checked: bool = True
    #: The transparency log proof as checked (``ok``, ``proof``, ``error``), when required.
    log: Optional[Dict[str, Any]] = None

    @classmethod
    def _from_json(cls, text: str) -> "Report":
        # The library's one verdict shape (weightseal::release::Verdict::to_json): the files
        # report's fields at the top level, then the verdict's.
        d = json.loads(text)
        return cls(
            ok=bool(d["ok"]),
            name=d["name"],
            manifest_digest=d.get("manifest_digest"),
            path=d.get("path", ""),
            files=_tuple(d.get("files"), FileResult._from),
            signatures=SignatureReport._from(d.get("signatures")),
            pins=_tuple(d.get("pins"), Problem._from),
            tensor_set=TensorSetResult._from(d.get("tensor_set")),
            index=_tuple(d.get("index"), lambda i: Problem(i["code"], f'{i["index"]}: {i["problem"]}')),
            trust_store=tuple(d.get("trust_store") or ()),
            format=d.get("format", "weightseal"),
            vouched=d.get("vouched", "checked"),
            oms=OmsSignature._from(d.get("oms")),
            reasons=tuple(d.get("reasons", ())),
            files_checked=d.get("checked") == "files",
            log=d.get("log"),
        )

    @property
    def signatures_checked(self) -> bool:
        """Whether any trust (keys, policy, trust store) judged the attestations."""
        return self.signatures is not None

    @property
    def failed(self) -> Tuple[FileResult, ...]:
        """The files that do not pass: each failing file, and each index file with a problem
        (status ``index``, ``reason`` says what). Never empty when the files are why the
        release is not verified."""
        out = [f for f in self.files if not f.ok]
        seen = {f.path for f in out}
        for p in self.index:
            index, _, problem = p.detail.partition(": ")
            if index not in seen:
                out.append(FileResult(path=index, status="index", ok=False, reason=f"{p.code}: {problem}"))
                seen.add(index)
        return tuple(out)

    def summary(self) -> str:
        """One line: verified, or what failed."""
        return _describe(self.ok, self.name or self.path, self.files, self.signatures, self.pins, self.reasons, self.vouched)


@dataclass(frozen=True)
class FetchedFile:
    """One file of a fetch: ``status`` is ``ok`` (downloaded and verified), ``present``
    (already there and verified) or ``failed`` (``error`` says why)."""

    path: str
    size: int
    status: str
    downloaded: int
    resumed: int
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class ExtraFile:
    """A path in the destination that the manifest does not list."""

    path: str
    allowed: bool
    reason: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class FetchResult:
    """The outcome of a fetch. When ``ok``, every file is at its final path and verified, and
    the manifest and attestations sit beside them."""

    ok: bool
    name: str
    manifest_digest: str
    path: str
    signatures: Optional[SignatureReport]
    pins: Tuple[Problem, ...]
    #: Empty when the release was refused before any download (pins, signatures).
    files: Tuple[FetchedFile, ...]
    extra: Tuple[ExtraFile, ...]
    downloaded: int
    requests: int
    #: Whether the download ran (False: refused on the manifest's pins or attestations).
    downloaded_any: bool
    trust_store: Tuple[str, ...] = ()
    #: Who vouched: ``checked``, ``digest-pinned``, ``integrity-only`` or ``no-trusted-key``.
    vouched: str = "checked"
    #: Why it is not verified, most important first (empty when it is).
    reasons: Tuple[str, ...] = ()
    #: The transparency log proof as checked, when required.
    log: Optional[Dict[str, Any]] = None

    @classmethod
    def _from_json(cls, text: str) -> "FetchResult":
        # The library's one verdict shape: the download's fields at the top level.
        d = json.loads(text)
        fetched = d.get("checked") == "download"
        return cls(
            ok=bool(d["ok"]),
            name=d["name"],
            manifest_digest=d["manifest_digest"],
            path=d.get("path", ""),
            signatures=SignatureReport._from(d.get("signatures")),
            pins=_tuple(d.get("pins"), Problem._from),
            files=_tuple(d.get("files") if fetched else None, lambda f: FetchedFile(f["path"], f["size"], f["status"], f["downloaded"], f["resumed"], f.get("error"))),
            extra=_tuple(d.get("extra") if fetched else None, lambda x: ExtraFile(x["path"], x["allowed"], x.get("reason"))),
            downloaded=int(d.get("downloaded", 0) or 0),
            requests=int(d.get("requests", 0) or 0),
            downloaded_any=fetched,
            trust_store=tuple(d.get("trust_store") or ()),
            vouched=d.get("vouched", "checked"),
            reasons=tuple(d.get("reasons", ())),
            log=d.get("log"),
        )

    def summary(self) -> str:
        """One line: verified, or what failed."""
        return _describe(self.ok, self.name, self.files + self.extra, self.signatures, self.pins, self.reasons, self.vouched)


@dataclass(frozen=True)
class Signed:
    """What :func:`weightseal.sign` published."""

    name: str
    manifest_digest: str
    key_id: str
    role: str
    #: The directory was hashed and the manifest written (there was none).
    manifest_written: bool
    #: Envelopes in the bundle after signing (None: no weightseal attestation was written).
    attestations: Optional[int]
    #: This key's earlier attestation of this manifest in this role was replaced.
    replaced: bool
    #: Files in the OpenSSF model signing bundle, when one was written.
    oms_files: Optional[int]
    manifest_path: str
    attestations_path: str
    warnings: Tuple[str, ...] = ()

    @classmethod
    def _from_json(cls, text: str) -> "Signed":
        d = json.loads(text)
        return cls(
            name=d["name"],
            manifest_digest=d["manifest_digest"],
            key_id=d["key_id"],
            role=d["role"],
            manifest_written=d["manifest_written"],
            attestations=d.get("attestations"),
            replaced=d["replaced"],
            oms_files=d.get("oms_files"),
            manifest_path=d["manifest_path"],
            attestations_path=d["attestations_path"],
            warnings=tuple(d.get("warnings", ())),
        )


@dataclass(frozen=True)
class TensorRecord:
    """A tensor as the manifest records it."""

    name: str
    dtype: str
    shape: Tuple[int, ...]
    start: int
    end: int
    blake3: str


@dataclass(frozen=True)
class ManifestFile:
    """A file of the manifest. ``tensors`` is set for safetensors and GGUF files hashed with
    tensor digests."""

    path: str
    size: int
    blake3: str
    sha256: Optional[str] = None
    format: Optional[str] = None
    tensors: Optional[Tuple[TensorRecord, ...]] = None


@dataclass(frozen=True)
class Manifest:
    """A model's manifest: its identity is ``digest``, the BLAKE3 of its canonical bytes."""

    name: str
    digest: str
    chunk_size: int
    total_size: int
    files: Tuple[ManifestFile, ...]
    tensor_digest: Optional[str]
    raw: bytes = field(repr=False, default=b"")

    @classmethod
    def from_bytes(cls, data: bytes) -> "Manifest":
        """Decodes (strictly) a manifest; raises ManifestError when invalid."""
        d = json.loads(_native.manifest_json(bytes(data)))
        files = tuple(
            ManifestFile(
                path=f["path"],
                size=f["size"],
                blake3=f["blake3"],
                sha256=f.get("sha256"),
                format=f.get("type"),
                tensors=None
                if "tensors" not in f
                else tuple(
                    TensorRecord(t["name"], t["dtype"], tuple(t["shape"]), t["start"], t["end"], t["blake3"])
                    for t in f["tensors"]
                ),
            )
            for f in d["files"]
        )
        return cls(
            name=d["name"],
            digest=d["digest"],
            chunk_size=d["chunk_size"],
            total_size=d["total_size"],
            files=files,
            tensor_digest=d.get("tensor_digest"),
            raw=bytes(data),
        )

    @classmethod
    def load(cls, path: "str | Any") -> "Manifest":
        """Reads a manifest file."""
        with open(path, "rb") as f:
            return cls.from_bytes(f.read())

    def to_bytes(self) -> bytes:
        """The canonical CBOR bytes (what is signed)."""
        return self.raw

    def file(self, path: str) -> Optional[ManifestFile]:
        """The entry for ``path`` (``/``-separated, relative to the model root), or None."""
        for f in self.files:
            if f.path == path:
                return f
        return None


@dataclass(frozen=True)
class DerivedTensor:
    """One tensor of a derived release, as :func:`weightseal.derive.check` found it.

    ``status`` is ``reproduced`` (recomputed from the base, the same bytes), ``differs``
    (recomputed, other bytes: ``first_block`` names the first differing block of ``dtype``
    when the derived bytes were at hand), ``not-derivable`` (an operation weightseal does not
    reproduce, or no base tensor) or ``base-modified`` (the base file does not hold the bytes
    its manifest records).
    """

    name: str
    file: str
    dtype: str
    #: The base tensor it comes from, and its file.
    from_: Optional[str]
    base_file: Optional[str]
    #: The operation, in words (``cast F32 -> F16``, ``permute 4 heads, quantize F32 -> Q8_0``).
    operation: str
    status: str
    #: Why it differs or is not derivable (empty when reproduced).
    detail: str
    first_block: Optional[int] = None

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "DerivedTensor":
        return cls(
            name=d["name"],
            file=d["file"],
            dtype=d["dtype"],
            from_=d.get("from"),
            base_file=d.get("base_file"),
            operation=d.get("operation", ""),
            status=d["status"],
            detail=d.get("detail", ""),
            first_block=d.get("first_block"),
        )


@dataclass(frozen=True)
class DerivedFile:
    """A file of a derived release that holds no tensors: ``status`` is ``identical`` (the
    same bytes as the base's ``base_path``), ``new`` (named new by the recipe),
    ``not-in-base`` (neither), or ``tensors`` (a tensor file, judged by its tensors)."""

    path: str
    status: str
    base_path: Optional[str] = None

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "DerivedFile":
        return cls(d["path"], d["status"], d.get("base_path"))


@dataclass(frozen=True)
class DeriveReport:
    """The answer of :func:`weightseal.derive.check`: the judge's verdict on the base, then
    every derived tensor and file. ``ok`` is the one answer, made by the library (the base is
    verified, every derived tensor is reproduced, every other file is the base's or named new,
    and a derived release on disk matches its own manifest); ``reasons`` says why not.
    ``bool(report)`` is ``report.ok``."""

    ok: bool
    #: The verdict on the base release (the same type :func:`weightseal.verify` returns).
    base: Report
    derived_name: str
    #: The derived release's manifest digest.
    derived_digest: str
    #: The recipe as applied: BLAKE3 of its canonical JSON (what a reproduction attestation
    #: signs).
    recipe_digest: str
    tensors: Tuple[DerivedTensor, ...]
    files: Tuple[DerivedFile, ...]
    #: Why the derivation is not reproduced, most important first (empty when it is).
    reasons: Tuple[str, ...] = ()
    #: The derived release's files against its own manifest (integrity only), when it is on
    #: disk; ``None`` for a mirror.
    derived_files: Optional[Tuple[FileResult, ...]] = None
    #: Base tensors no derived tensor comes from.
    unused_base_tensors: int = 0
    #: Base bytes read and recomputed.
    base_bytes: int = 0

    @classmethod
    def _from_json(cls, text: str) -> "DeriveReport":
        # The library's one derivation report (weightseal::derive::DeriveReport::to_json), its
        # `base` the one verdict shape.
        d = json.loads(text)
        df = d.get("derived_files")
        return cls(
            ok=bool(d["ok"]),
            base=Report._from_json(json.dumps(d["base"])),
            derived_name=d["derived_name"],
            derived_digest=d["derived_digest"],
            recipe_digest=d["recipe_digest"],
            tensors=_tuple(d.get("tensors"), DerivedTensor._from),
            files=_tuple(d.get("files"), DerivedFile._from),
            reasons=tuple(d.get("reasons", ())),
            derived_files=None if not isinstance(df, dict) else _tuple(df.get("files"), FileResult._from),
            unused_base_tensors=int(d.get("unused_base_tensors", 0)),
            base_bytes=int(d.get("base_bytes", 0)),
        )

    def __bool__(self) -> bool:
        return self.ok

    def count(self, status: str) -> int:
        """How many tensors have ``status``."""
        return sum(1 for t in self.tensors if t.status == status)

    def summary(self) -> str:
        """One line: reproduced, or why not (the word comes from ``ok`` alone)."""
        what = f"{self.derived_name} from {self.base.name}"
        n = len(self.tensors)
        if self.ok:
            return f"{what}: REPRODUCED: {n} tensor(s), recipe {self.recipe_digest}"
        return (
            f"{what}: NOT reproduced ({self.count('reproduced')} of {n} tensor(s) reproduced): "
            + "; ".join(self.reasons or ("see the report",))
        )

    def __str__(self) -> str:
        return self.summary()


def tensor_names(report: Report) -> List[str]:
    """Every tensor named as differing anywhere in a report."""
    out: List[str] = []
    for f in report.files:
        if f.tensors is not None:
            out.extend(f.tensors.tensors)
        out.extend(f.differing)
    return sorted(set(out))
