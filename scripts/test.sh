#!/usr/bin/env bash
# The whole test suite: prepares the Python virtual environment the interop tests need
# (.venv from tests/requirements.txt: the official GGUF writer, model_signing, huggingface_hub,
# maturin, pytest, safetensors) and .venv-witness (tests/requirements-witness.txt: aics-witness,
# an independent log witness), runs cargo test, then builds the Python package's abi3 wheel
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
# An independent cosignature/v1 witness for tests/log_interop.rs (aics-witness, from PyPI), in an
# environment of its own: it asks for Python >= 3.12. Where only an older python3 is found it is
# installed all the same (--ignore-requires-python); the test shows whether it runs.
WVENV="$PWD/.venv-witness"
if ! "$WVENV/bin/aics-witness" --version >/dev/null 2>&1 || [ tests/requirements-witness.txt -nt "$WVENV/.installed" ]; then
  echo "== preparing $WVENV (tests/requirements-witness.txt)"
  WPY=python3
  WIGNORE=--ignore-requires-python
  for c in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
    if "$c" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then
      WPY=$c
      WIGNORE=
      break
    fi
  done
  rm -rf "$WVENV"
  "$WPY" -m venv "$WVENV"
  "$WVENV/bin/pip" install --quiet --disable-pip-version-check $WIGNORE -r tests/requirements-witness.txt
  touch "$WVENV/.installed"
fi
export WEIGHTSEAL_AICS_WITNESS="$WVENV/bin/aics-witness"
cargo test "$@"
echo "== python: building the weightseal wheel (maturin, abi3) into $VENV"
rm -rf target/wheels
(cd python && "$VENV/bin/maturin" build --quiet --profile dev -i "$VENV/bin/python" -o ../target/wheels)
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/weightseal-*.whl
echo "== python: pytest python/tests"
WEIGHTSEAL_BIN="$PWD/target/debug/weightseal" "$VENV/bin/python" -m pytest -q python/tests
