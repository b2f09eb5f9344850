#!/usr/bin/env bash
# The whole test suite: prepares the Python virtual environment the interop tests need
# (.venv from tests/requirements.txt: the official GGUF writer, model_signing, huggingface_hub,
# maturin, pytest, safetensors), runs cargo test, then builds the Python package's abi3 wheel
# (python/) into that environment and runs its pytest suite. Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/.venv"
if ! "$VENV/bin/python" -c "import gguf, maturin, pytest, safetensors" >/dev/null 2>&1 || [ tests/requirements.txt -nt "$VENV/.installed" ]; then
  echo "== preparing $VENV (tests/requirements.txt)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
  touch "$VENV/.installed"
fi
export WEIGHTSEAL_PYTHON="$VENV/bin/python"
cargo test "$@"
echo "== python: building the weightseal wheel (maturin, abi3) into $VENV"
rm -rf target/wheels
(cd python && "$VENV/bin/maturin" build --quiet --profile dev -i "$VENV/bin/python" -o ../target/wheels)
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/weightseal-*.whl
echo "== python: pytest python/tests"
WEIGHTSEAL_BIN="$PWD/target/debug/weightseal" "$VENV/bin/python" -m pytest -q python/tests
