#!/usr/bin/env bash
# The whole test suite: prepares the Python virtual environment the interop tests need
# (.venv with the official GGUF writer, from tests/requirements.txt), then runs cargo test.
# Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/.venv"
if ! "$VENV/bin/python" -c "import gguf" >/dev/null 2>&1 || [ tests/requirements.txt -nt "$VENV/.installed" ]; then
  echo "== preparing $VENV (tests/requirements.txt)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
  touch "$VENV/.installed"
fi
export WEIGHTSEAL_PYTHON="$VENV/bin/python"
exec cargo test "$@"
