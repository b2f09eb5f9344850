"""Argument helpers shared by the modules."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


def key_paths(key: Union[None, PathLike, Iterable[PathLike]]) -> List[str]:
    """One key file or several, as strings."""
    if key is None:
        return []
    if isinstance(key, (str, bytes, os.PathLike)):
        return [os.fsdecode(key)]
    return [os.fsdecode(k) for k in key]


def opt_path(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fsdecode(p)


def trust_keywords(
    key: Union[None, PathLike, Iterable[PathLike]],
    policy: Optional[PathLike],
    trust_store: bool,
    model: Optional[str],
    digest: Optional[str],
    log_key: Optional[str],
    witnesses: Optional[Iterable[str]],
    quorum: Optional[int],
    allow_unsigned: bool,
) -> Dict[str, Any]:
    """The trust keywords every judging function takes (the CLI's flags, by the same names), as
    the one dict the native module turns into the library's question."""
    return {
        "keys": key_paths(key),
        "policy": opt_path(policy),
        "trust_store": trust_store,
        "model": model,
        "digest": digest,
        "log_key": log_key,
        "witnesses": list(witnesses or ()),
        "quorum": quorum,
        "allow_unsigned": allow_unsigned,
    }
