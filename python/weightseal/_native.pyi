# Type stubs of the extension module (python/src/lib.rs). Results are JSON strings that
# weightseal._types turns into typed objects; use the public modules instead.
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

_Progress = Optional[Callable[[int, int], Any]]
#: weightseal._util.trust_keywords(): keys, policy, trust_store, model, digest, log_key,
#: witnesses, quorum, allow_unsigned.
TrustKeywords = Dict[str, Any]

def version() -> str: ...
def hash(
    path: str,
    *,
    write: bool = ...,
    output: Optional[str] = ...,
    name: Optional[str] = ...,
    chunk_size: Optional[int] = ...,
    tensors: bool = ...,
    sha256: bool = ...,
    follow_symlinks: bool = ...,
    progress: _Progress = ...,
) -> Tuple[bytes, List[str]]: ...
def manifest_json(bytes: bytes) -> str: ...
def sign(
    path: str,
    key: str,
    *,
    passphrase: Optional[str] = ...,
    role: str = ...,
    signer: Optional[str] = ...,
    version: Optional[int] = ...,
    expires: Optional[str] = ...,
    derived_from: Sequence[str] = ...,
    annotations: Dict[str, str] = ...,
    manifest: Optional[str] = ...,
    attestations: Optional[str] = ...,
    format: str = ...,
    signature: Optional[str] = ...,
    manifest_only: bool = ...,
    progress: _Progress = ...,
) -> str: ...
def verify(
    path: str,
    trust: TrustKeywords,
    *,
    manifest: Optional[str] = ...,
    attestations: Optional[str] = ...,
    tensors: bool = ...,
    allow_extra: bool = ...,
    follow_symlinks: bool = ...,
    signature: Optional[str] = ...,
    certificate_chain: Sequence[str] = ...,
    identity: Optional[str] = ...,
    identity_provider: Optional[str] = ...,
    trusted_root: Optional[str] = ...,
    ignore_paths: Sequence[str] = ...,
    ignore_git_paths: bool = ...,
    progress: _Progress = ...,
) -> str: ...
def verify_snapshot(
    repo_id: str,
    trust: TrustKeywords,
    *,
    revision: Optional[str] = ...,
    cache_dir: Optional[str] = ...,
    manifest: Optional[str] = ...,
    attestations: Optional[str] = ...,
    tensors: bool = ...,
    allow_extra: bool = ...,
    progress: _Progress = ...,
) -> str: ...
def snapshot_path(repo_id: str, *, revision: Optional[str] = ..., cache_dir: Optional[str] = ...) -> str: ...
def fetch(
    url: str,
    dest: str,
    trust: TrustKeywords,
    *,
    manifest: Optional[str] = ...,
    attestations: Optional[str] = ...,
    allow_extra: bool = ...,
    headers: Dict[str, str] = ...,
    timeout: Optional[float] = ...,
    progress: _Progress = ...,
) -> str: ...

class SafetensorsReader:
    manifest_digest: str
    name: str
    path: str
    def __init__(
        self,
        path: str,
        trust: TrustKeywords,
        *,
        manifest: Optional[str] = ...,
        attestations: Optional[str] = ...,
    ) -> None: ...
    def keys(self) -> List[str]: ...
    def info(self, name: str) -> Tuple[str, List[int]]: ...
    def metadata(self) -> Optional[str]: ...
    def signatures(self) -> str: ...
    def read(self, name: str) -> Tuple[str, List[int], bytearray]: ...
    def read_all(self) -> Tuple[bytearray, List[Tuple[str, str, List[int], int, int]]]: ...
def open_snapshot(
    repo_id: str,
    trust: TrustKeywords,
    *,
    filename: Optional[str] = ...,
    revision: Optional[str] = ...,
    cache_dir: Optional[str] = ...,
    manifest: Optional[str] = ...,
    attestations: Optional[str] = ...,
) -> List[SafetensorsReader]: ...
def derive_check(
    derived: str,
    base: str,
    trust: TrustKeywords,
    *,
    recipe: Optional[str] = ...,
    recipe_text: Optional[str] = ...,
    headers: Dict[str, str] = ...,
    timeout: Optional[float] = ...,
    progress: _Progress = ...,
) -> str: ...
def main(argv: Sequence[str]) -> int: ...
