"""The `weightseal` command installed by the package is the binary's own command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import weightseal
from weightseal import _cli

SCRIPT = Path(sys.executable).parent / "weightseal"


def test_the_package_installs_the_same_command(model, keys, cli):
    assert SCRIPT.exists(), "the wheel installs a `weightseal` script"
    weightseal.hash(model, name="org/model")
    weightseal.sign(model, keys["acme"][0])
    args = ["verify", str(model), "--key", str(keys["acme"][1])]
    ours = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True)
    theirs = subprocess.run([str(cli), *args], capture_output=True, text=True)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout and ours.stderr == theirs.stderr
    # The same exit codes: 1 not verified, 2 usage error.
    (model / "config.json").write_text("{}")
    assert subprocess.run([str(SCRIPT), *args], capture_output=True).returncode == 1
    assert subprocess.run([str(SCRIPT), "verify", "--no-such-flag"], capture_output=True).returncode == 2
    # And from Python, without a subprocess.
    assert _cli.main(["--version"]) == 0


def test_help_says_what_the_tool_does_in_the_same_words_as_the_binary(cli):
    ours = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True)
    theirs = subprocess.run([str(cli), "--help"], capture_output=True, text=True)
    assert ours.returncode == theirs.returncode == 0
    first = ours.stdout.splitlines()[0]
    assert first == "Prove that a set of ML model weights is exactly what its publisher released"
    assert ours.stdout == theirs.stdout
