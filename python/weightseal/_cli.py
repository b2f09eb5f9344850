"""The ``weightseal`` command installed with the package: the same command line as the
``weightseal`` binary (one native module runs it), so ``pip install weightseal`` is enough to
verify, sign and fetch from a shell."""

from __future__ import annotations

import sys
from typing import List, Optional

from . import _native


def main(argv: Optional[List[str]] = None) -> int:
    """Runs ``weightseal ARGS...`` and exits with its status (0 verified, 1 not verified, 2
    usage or I/O error)."""
    args = ["weightseal", *(sys.argv[1:] if argv is None else argv)]
    code = _native.main(args)
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
