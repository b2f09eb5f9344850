"""The exceptions weightseal raises. Every one is a :class:`WeightsealError`.

::

    WeightsealError
    ├── ManifestError            no manifest, an invalid one, or one that does not cover the file
    ├── KeyLoadError             a key file that cannot be read (format, passphrase)
    ├── PolicyError              a trust policy or state file that cannot be read or written
    ├── AttestationError         an attestation bundle that cannot be read
    ├── TrustError               nobody vouches for the manifest and unsigned use was not allowed
    ├── FetchError               the server or the network failed
    ├── SnapshotError            no such Hugging Face cache snapshot, or a link leaving it
    ├── RecipeError              a derivation recipe that is refused (also a ValueError)
    └── VerificationError        the bytes or the signatures are not what was published
        ├── SignatureError       the attestations do not meet the trust given
        └── TensorVerificationError   tensors whose bytes differ (named in ``tensors``)
"""

from __future__ import annotations

from typing import Any, Optional, Sequence


class WeightsealError(Exception):
    """Base class of every weightseal error."""


class ManifestError(WeightsealError):
    """The manifest is missing, invalid, or does not describe what was asked for."""


class KeyLoadError(WeightsealError):
    """A key file could not be read: its format, type or passphrase."""


class PolicyError(WeightsealError):
    """A trust policy, trust store or state file could not be read or written."""


class AttestationError(WeightsealError):
    """An attestation bundle could not be read at all."""


class FetchError(WeightsealError):
    """A download failed: the URL, the server or the network."""


class SnapshotError(WeightsealError):
    """A Hugging Face cache snapshot was not found, or one of its links leaves the repository."""


class RecipeError(WeightsealError, ValueError):
    """A derivation recipe (:mod:`weightseal.derive`) was refused. The message names the field
    and the tensor; ``code`` is the stable code (``recipe-syntax``, ``recipe-version``,
    ``recipe-nan``, ``recipe-duplicate``, ``recipe-field``, ``recipe-new-file``)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class VerificationError(WeightsealError):
    """The files, signatures or pins are not what was published.

    ``report`` holds the full result (a :class:`weightseal.Report` or
    :class:`weightseal.FetchResult`) when there is one.
    """

    def __init__(self, message: str, report: Optional[Any] = None) -> None:
        super().__init__(message)
        self.report = report


class TrustError(VerificationError):
    """Nobody vouches for the manifest (no key, policy, trust store entry or digest pin) and
    integrity only was not asked for (``allow_unsigned=True``). A refusal like every other
    :class:`VerificationError`; ``report`` holds the verdict when there is one."""


class SignatureError(VerificationError):
    """The attestations do not meet the trust given (bad, expired, untrusted, too few)."""


class TensorVerificationError(VerificationError):
    """Tensors whose bytes differ from the manifest's digests. No array of them is returned.

    ``path`` is the file (as the manifest names it), ``tensors`` the names that failed.
    """

    def __init__(self, message: str, path: str = "", tensors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.path = path
        self.tensors = list(tensors)
