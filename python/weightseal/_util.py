"""Argument helpers shared by the modules."""

from __future__ import annotations

import os
from typing import Iterable, List, Optional, Union

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
