"""A verified safetensors loader: the bytes that are loaded are the bytes that were verified.

Each tensor is read once, into the buffer that becomes the returned array, and that buffer is
hashed (BLAKE3) and compared with the tensor's digest in the manifest before the array is
handed out. The header (tensor names, dtypes, shapes, offsets, ``__metadata__``) is checked
against the manifest's header digest when the file is opened, and the manifest against the
trust given (``key``, ``policy``, the trust store) before any tensor is read. A file swapped or
edited after an earlier ``verify`` is caught here, because nothing is taken from that earlier
check.

The API follows the ``safetensors`` package::

    from weightseal.safetensors import load_file, safe_open

    tensors = load_file("model/model.safetensors", key="acme.pub")             # NumPy arrays
    tensors = load_file("model/model.safetensors", key="acme.pub", framework="pt")  # torch

    with safe_open("model/model.safetensors", framework="np", key="acme.pub") as f:
        for name in f.keys():
            array = f.get_tensor(name)

The manifest defaults to ``weightseal.manifest`` in the file's directory (the model root);
it must record tensor digests (``weightseal hash`` does by default). NumPy is imported only
here; torch only when ``framework="pt"``; neither is a requirement of the package.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from . import _native
from ._util import trust_keywords
from ._util import opt_path as _opt

PathLike = Union[str, "os.PathLike[str]"]

# safetensors dtype -> NumPy dtype string (little-endian, as the format stores them).
_NUMPY = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U64": "<u8",
    "U32": "<u4",
    "U16": "<u2",
    "U8": "u1",
    "BOOL": "?",
    "C64": "<c8",
}

_TORCH = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "C64": "complex64",
}


def _framework(framework: str) -> Any:
    if framework in ("np", "numpy"):
        try:
            import numpy
        except ImportError as e:  # pragma: no cover - numpy is in the test environment
            raise ImportError("weightseal.safetensors with framework='np' needs NumPy: pip install numpy") from e
        return numpy
    if framework in ("pt", "torch"):
        try:
            import torch
        except ImportError as e:
            raise ImportError(
                "framework='pt' needs PyTorch, which is not installed (weightseal does not require it): "
                "pip install torch, or load with framework='np'"
            ) from e
        return torch
    raise ValueError(f"framework {framework!r}: expected 'np' or 'pt'")


def _array(framework: str, lib: Any, name: str, dtype: str, shape: Tuple[int, ...], buf: bytearray, offset: int, length: int, device: str) -> Any:
    if framework in ("np", "numpy"):
        np_dtype = _NUMPY.get(dtype)
        if np_dtype is None:
            raise TypeError(f"tensor {name!r}: dtype {dtype} has no NumPy equivalent; load with framework='pt'")
        dt = lib.dtype(np_dtype)
        return lib.frombuffer(buf, dtype=dt, count=length // dt.itemsize, offset=offset).reshape(shape)
    t_dtype = _TORCH.get(dtype)
    if t_dtype is None or not hasattr(lib, t_dtype):
        raise TypeError(f"tensor {name!r}: dtype {dtype} is not supported by this PyTorch")
    tdt = getattr(lib, t_dtype)
    if length == 0:
        t = lib.empty(shape, dtype=tdt)
    else:
        itemsize = lib.empty((), dtype=tdt).element_size()
        t = lib.frombuffer(buf, dtype=tdt, count=length // itemsize, offset=offset).reshape(shape)
    return t if device == "cpu" else t.to(device)


def _reader(
    filename: PathLike,
    manifest: Optional[PathLike],
    key: Union[None, PathLike, Iterable[PathLike]],
    policy: Optional[PathLike],
    attestations: Optional[PathLike],
    trust_store: bool,
    allow_unsigned: bool,
    model: Optional[str],
    digest: Optional[str],
    log_key: Optional[str],
    witnesses: Optional[Iterable[str]],
    quorum: Optional[int],
) -> Any:
    path = os.fsdecode(filename)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such file", path)
    return _native.SafetensorsReader(
        path,
        trust_keywords(key, policy, trust_store, model, digest, log_key, witnesses, quorum, allow_unsigned),
        manifest=_opt(manifest),
        attestations=_opt(attestations),
    )


def load_file(
    filename: PathLike,
    manifest: Optional[PathLike] = None,
    *,
    key: Union[None, PathLike, Iterable[PathLike]] = None,
    policy: Optional[PathLike] = None,
    attestations: Optional[PathLike] = None,
    trust_store: bool = True,
    allow_unsigned: bool = False,
    model: Optional[str] = None,
    digest: Optional[str] = None,
    log_key: Optional[str] = None,
    witnesses: Optional[Iterable[str]] = None,
    quorum: Optional[int] = None,
    framework: str = "np",
    device: str = "cpu",
) -> Dict[str, Any]:
    """Loads every tensor of a safetensors file, verified, as ``{name: array}``.

    Tensors are read and hashed in parallel with the GIL released. If any tensor's bytes
    differ from the manifest, :class:`~weightseal.errors.TensorVerificationError` names them
    all and nothing is returned. Raises :class:`~weightseal.errors.TrustError` when nobody
    vouches for the manifest (no ``key``, ``policy``, trust store entry or ``digest`` pin)
    unless ``allow_unsigned``, or when a required transparency log proof (``log_key``, or a
    policy's ``[log]``) does not hold, :class:`~weightseal.errors.SignatureError` when the
    attestations do not meet the trust, and :class:`~weightseal.errors.VerificationError` when
    the header or size differ.
    """
    _framework(framework)
    r = _reader(filename, manifest, key, policy, attestations, trust_store, allow_unsigned, model, digest, log_key, witnesses, quorum)
    return _load(r, framework, device)


def _load(r: Any, framework: str, device: str) -> Dict[str, Any]:
    """Every tensor of an opened reader, verified, as ``{name: array}``."""
    lib = _framework(framework)
    buf, layout = r.read_all()
    out: Dict[str, Any] = {}
    for name, dtype, shape, offset, length in layout:
        out[name] = _array(framework, lib, name, dtype, tuple(shape), buf, offset, length, device)
    return out


class SafeOpen:
    """A verified ``safe_open``: the header is checked on opening, each tensor when read."""

    def __init__(self, reader: Any, framework: str, device: str) -> None:
        self._r = reader
        self._framework = framework
        self._lib = _framework(framework)
        self._device = device

    def __enter__(self) -> "SafeOpen":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def keys(self) -> List[str]:
        """Tensor names, in file order."""
        return list(self._r.keys())

    def offset_keys(self) -> List[str]:
        """Tensor names in file order (the safetensors package's name for it)."""
        return self.keys()

    def metadata(self) -> Optional[Dict[str, str]]:
        """The header's ``__metadata__`` (verified with the header), or None."""
        m = self._r.metadata()
        return None if m is None else json.loads(m)

    def get_tensor(self, name: str) -> Any:
        """One tensor, read and verified; raises TensorVerificationError naming it if its bytes
        differ (and returns nothing of it), KeyError if the manifest has no such tensor."""
        dtype, shape, buf = self._r.read(name)
        return _array(self._framework, self._lib, name, dtype, tuple(shape), buf, 0, len(buf), self._device)

    def dtype_and_shape(self, name: str) -> Tuple[str, Tuple[int, ...]]:
        """A tensor's safetensors dtype and shape, from the verified header."""
        dtype, shape = self._r.info(name)
        return dtype, tuple(shape)

    @property
    def manifest_digest(self) -> str:
        """The digest of the manifest the file was checked against."""
        return self._r.manifest_digest

    @property
    def signatures(self) -> Optional[Any]:
        """The attestations' verdict (a SignatureReport), None when no trust was given."""
        from ._types import SignatureReport

        return SignatureReport._from(json.loads(self._r.signatures()))


def safe_open(
    filename: PathLike,
    framework: str = "np",
    device: str = "cpu",
    *,
    manifest: Optional[PathLike] = None,
    key: Union[None, PathLike, Iterable[PathLike]] = None,
    policy: Optional[PathLike] = None,
    attestations: Optional[PathLike] = None,
    trust_store: bool = True,
    allow_unsigned: bool = False,
    model: Optional[str] = None,
    digest: Optional[str] = None,
    log_key: Optional[str] = None,
    witnesses: Optional[Iterable[str]] = None,
    quorum: Optional[int] = None,
) -> SafeOpen:
    """Opens a safetensors file for verified reading (see :func:`load_file` for the checks)."""
    r = _reader(filename, manifest, key, policy, attestations, trust_store, allow_unsigned, model, digest, log_key, witnesses, quorum)
    return SafeOpen(r, framework, device)
