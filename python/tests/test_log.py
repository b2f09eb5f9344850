"""weightseal.verify(log_key=...) checks a release's transparency log proof, offline."""

from __future__ import annotations

import pytest

import weightseal
from conftest import run


def test_a_logged_release_verifies_with_its_proof_and_fails_without(signed, keys, cli, tmp_path):
    log_key = tmp_path / "log.key"
    run(str(cli), "keygen", "--out", str(log_key))
    vkey = run(str(cli), "log", "init", str(tmp_path / "log"), "--origin", "example.test/py", "--key", str(log_key)).stdout.splitlines()[0]
    run(str(cli), "log", "add", str(tmp_path / "log"), "--key", str(log_key), str(signed))
    r = weightseal.verify(signed, key=keys["acme"][1], log_key=vkey)
    assert r.ok and r.reasons == ()
    # A witness key whose id does not match its key is an error, not a silent skip.
    bad_witness = "w.test+" + vkey.split("+", 2)[1] + "+" + vkey.split("+", 2)[2]
    with pytest.raises(weightseal.WeightsealError, match="key id does not match"):
        weightseal.verify(signed, key=keys["acme"][1], log_key=vkey, witnesses=[bad_witness])
    # The proof of another release.
    (signed / "weightseal.tlog-proof").rename(tmp_path / "proof")
    with pytest.raises(weightseal.VerificationError) as e:
        weightseal.verify(signed, key=keys["acme"][1], log_key=vkey)
    assert any("transparency log" in x for x in e.value.report.reasons)
    # The log's own key listed as a witness is refused, as by the CLI (one constructor).
    with pytest.raises(weightseal.WeightsealError, match="not a witness's cosignature/v1 key"):
        weightseal.verify(signed, key=keys["acme"][1], log_key=vkey, witnesses=[vkey], quorum=1)
    # Without log_key nothing changes.
    assert weightseal.verify(signed, key=keys["acme"][1]).ok
