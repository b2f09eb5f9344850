"""weightseal.hash / sign / verify on a real safetensors model, with keys made by openssl."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from safetensors.numpy import save_file

import weightseal
from conftest import flip_byte, run, tensors


def tensor_range(model: Path, name: str) -> tuple:
    m = weightseal.Manifest.load(model / "weightseal.manifest")
    t = next(t for t in m.file("model.safetensors").tensors if t.name == name)
    return t.start, t.end


def test_hash_records_every_file_and_tensor_and_matches_the_cli(model, cli):
    m = weightseal.hash(model, name="org/model")
    assert isinstance(m, weightseal.Manifest)
    assert [f.path for f in m.files] == ["config.json", "model.safetensors", "tokenizer.json"]
    st = m.file("model.safetensors")
    assert st.format == "safetensors"
    assert sorted(t.name for t in st.tensors) == sorted(tensors())
    emb = next(t for t in st.tensors if t.name == "embed.weight")
    assert (emb.dtype, emb.shape, emb.end - emb.start) == ("F32", (64, 32), 64 * 32 * 4)
    assert m.total_size == sum(p.stat().st_size for p in model.iterdir() if p.name != "weightseal.manifest")
    # The bytes written are the manifest returned, and the CLI reads the same digest.
    on_disk = (model / "weightseal.manifest").read_bytes()
    assert on_disk == m.to_bytes()
    assert weightseal.Manifest.load(model / "weightseal.manifest") == m
    shown = json.loads(run(str(cli), "show", "--json", str(model)).stdout)
    assert shown["digest"] == m.digest
    # Deterministic: hashing again without writing gives the same bytes.
    assert weightseal.hash(model, name="org/model", write=False).to_bytes() == on_disk


def test_sign_then_verify_with_openssl_keys(model, keys):
    s = weightseal.sign(model, keys["acme"][0], version=3, annotations={"license": "apache-2.0"})
    assert isinstance(s, weightseal.Signed)
    assert s.manifest_written and s.attestations == 1 and not s.replaced
    assert s.role == "publisher" and len(s.key_id) == 64
    r = weightseal.verify(model, key=keys["acme"][1])
    assert r.ok and r.signatures is not None and r.signatures.ok
    assert r.signatures.version == 3
    (a,) = r.signatures.attestations
    assert (a.status, a.code, a.role, a.signer) == ("valid", "valid", "publisher", "acme")
    assert r.manifest_digest == s.manifest_digest
    assert all(f.status == "ok" and f.ok for f in r.files)


def test_signing_again_with_the_same_key_replaces_the_attestation(model, keys):
    weightseal.sign(model, keys["acme"][0], version=1)
    again = weightseal.sign(model, keys["acme"][0], version=1)
    assert again.replaced and again.attestations == 1 and not again.manifest_written
    other = weightseal.sign(model, keys["p256"][0], role="auditor")
    assert not other.replaced and other.attestations == 2
    lines = (model / "weightseal.intoto.jsonl").read_text().splitlines()
    assert len(lines) == 2


def test_an_ecdsa_p256_key_signs_and_verifies(model, keys):
    weightseal.sign(model, keys["p256"][0])
    r = weightseal.verify(model, key=keys["p256"][1])
    assert r.signatures.ok


def test_without_trust_verify_refuses_and_integrity_only_never_says_verified(signed):
    # One rule for every front end: with no trust at all, a release is refused ...
    with pytest.raises(weightseal.TrustError, match="no trust is configured.*allow_unsigned") as e:
        weightseal.verify(signed, trust_store=False)
    assert not e.value.report.ok and e.value.report.vouched == "no-trusted-key"
    # ... and integrity only is given when asked, in words that never say "verified".
    r = weightseal.verify(signed, trust_store=False, allow_unsigned=True)
    assert r.ok and r.signatures is None and not r.signatures_checked
    assert r.vouched == "integrity-only"
    assert "integrity only" in r.summary() and "verified" not in r.summary()


def test_the_trust_store_is_used_when_no_key_is_given(signed, keys, cli, monkeypatch):
    run(str(cli), "trust", "add", str(keys["acme"][1]), "--model", "org/*")
    r = weightseal.verify(signed)
    assert r.signatures is not None and r.signatures.ok
    assert r.trust_store and "org/*" in r.trust_store[0]


def test_a_wrong_key_raises_signature_error_with_the_report(signed, keys):
    with pytest.raises(weightseal.SignatureError) as e:
        weightseal.verify(signed, key=keys["other"][1])
    r = e.value.report
    assert isinstance(r, weightseal.Report) and not r.ok
    assert all(f.ok for f in r.files)
    assert r.signatures.attestations[0].status == "untrusted"
    # check=False returns the same report without raising.
    r2 = weightseal.verify(signed, key=keys["other"][1], check=False)
    assert not r2.ok and r2.signatures.attestations[0].code == r.signatures.attestations[0].code


def test_a_flipped_byte_names_the_tensor_and_the_range(signed, keys):
    start, end = tensor_range(signed, "layer.1.weight")
    flip_byte(signed / "model.safetensors", start + 10)
    with pytest.raises(weightseal.VerificationError) as e:
        weightseal.verify(signed, key=keys["acme"][1])
    assert not isinstance(e.value, weightseal.SignatureError)
    (bad,) = e.value.report.failed
    assert bad.path == "model.safetensors" and bad.status == "modified"
    assert bad.tensors.changed == ("layer.1.weight",)
    assert not bad.tensors.header_changed
    assert len(bad.ranges) == 1 and bad.ranges[0].start <= start + 10 < bad.ranges[0].end
    # The chunk is named with its size and the manifest's tensors in it.
    assert bad.chunk_size is not None and bad.ranges[0].end - bad.ranges[0].start <= bad.chunk_size
    assert "layer.1.weight" in bad.overlapping
    assert "model.safetensors" in str(e.value)


def test_a_header_edit_is_reported_with_the_metadata_key(signed, keys):
    # The same tensors, written again with other metadata by the safetensors package.
    save_file(tensors(), str(signed / "model.safetensors"), metadata={"format": "np", "author": "mallory"})
    r = weightseal.verify(signed, key=keys["acme"][1], check=False)
    (bad,) = r.failed
    assert bad.tensors.header_changed
    assert bad.tensors.metadata_changed == ("author",)


def test_tensor_mode_passes_a_resharded_copy(signed, keys, tmp_path):
    t = tensors()
    names = sorted(t)
    (signed / "model.safetensors").unlink()
    save_file({k: t[k] for k in names[:4]}, str(signed / "model-00001-of-00002.safetensors"), metadata={"format": "np", "author": "tests"})
    save_file({k: t[k] for k in names[4:]}, str(signed / "model-00002-of-00002.safetensors"), metadata={"format": "np", "author": "tests"})
    r = weightseal.verify(signed, key=keys["acme"][1], tensors=True)
    assert r.ok and r.tensor_set is not None and r.tensor_set.count == len(t)
    assert r.tensor_set.layout_differs


def test_pins_name_the_release_asked_for(signed, keys):
    with pytest.raises(weightseal.VerificationError) as e:
        weightseal.verify(signed, key=keys["acme"][1], model="org/other")
    assert [p.code for p in e.value.report.pins] == ["wrong-model"]
    digest = weightseal.Manifest.load(signed / "weightseal.manifest").digest
    assert weightseal.verify(signed, digest=digest, trust_store=False).ok


def test_extra_and_missing_files(signed, keys):
    (signed / "extra.bin").write_bytes(b"x" * 10)
    (signed / "config.json").unlink()
    r = weightseal.verify(signed, key=keys["acme"][1], check=False)
    assert {(f.path, f.status) for f in r.failed} == {("config.json", "missing"), ("extra.bin", "extra")}
    (signed / "config.json").write_text('{"hidden_size": 32, "layers": 2}\n')
    assert weightseal.verify(signed, key=keys["acme"][1], allow_extra=True).ok


def test_errors_form_one_hierarchy_with_clear_messages(model, keys, tmp_path):
    for cls in (
        weightseal.ManifestError,
        weightseal.KeyLoadError,
        weightseal.PolicyError,
        weightseal.AttestationError,
        weightseal.TrustError,
        weightseal.FetchError,
        weightseal.SnapshotError,
        weightseal.VerificationError,
    ):
        assert issubclass(cls, weightseal.WeightsealError)
    assert issubclass(weightseal.TensorVerificationError, weightseal.VerificationError)
    assert issubclass(weightseal.SignatureError, weightseal.VerificationError)

    with pytest.raises(weightseal.ManifestError, match="hash the model first"):
        weightseal.verify(model)
    (model / "weightseal.manifest").write_bytes(b"\xa1\x00\x00not cbor")
    with pytest.raises(weightseal.ManifestError, match="invalid manifest"):
        weightseal.verify(model)
    with pytest.raises(weightseal.ManifestError, match="invalid manifest"):
        weightseal.Manifest.from_bytes(b"garbage")
    (model / "weightseal.manifest").unlink()
    weightseal.hash(model)
    with pytest.raises(weightseal.KeyLoadError, match="config.json"):
        weightseal.verify(model, key=model / "config.json")
    bad_policy = tmp_path / "policy.toml"
    bad_policy.write_text("this is = = not toml")
    with pytest.raises(weightseal.PolicyError, match="policy.toml"):
        weightseal.verify(model, policy=bad_policy)
    with pytest.raises(FileNotFoundError, match="no such model directory or file"):
        weightseal.verify(tmp_path / "nowhere")
    with pytest.raises(weightseal.WeightsealError, match="64 lowercase hex"):
        weightseal.verify(model, digest="abc")


def test_sign_checks_key_and_options_before_hashing(model, keys):
    with pytest.raises(weightseal.KeyLoadError):
        weightseal.sign(model, model / "config.json")
    with pytest.raises(weightseal.WeightsealError, match="role"):
        weightseal.sign(model, keys["acme"][0], role="Not A Role")
    with pytest.raises(weightseal.WeightsealError, match="expires"):
        weightseal.sign(model, keys["acme"][0], expires="yesterday-ish")
    assert not (model / "weightseal.manifest").exists()
    assert not (model / "weightseal.intoto.jsonl").exists()


def test_an_encrypted_key_takes_its_passphrase(model, tmp_path):
    priv = tmp_path / "enc.key"
    run("openssl", "genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:s3cret", "-out", str(priv))
    with pytest.raises(weightseal.KeyLoadError):
        weightseal.sign(model, priv, passphrase="wrong")
    s = weightseal.sign(model, priv, passphrase="s3cret")
    assert s.attestations == 1


def test_progress_reports_bytes_and_its_exceptions_propagate(model, tmp_path):
    (model / "big.bin").write_bytes(bytes(range(256)) * (12 << 12))
    calls = []
    weightseal.hash(model, progress=lambda done, total: calls.append((done, total)))
    total = sum(p.stat().st_size for p in model.iterdir() if p.name != "weightseal.manifest")
    assert calls and calls[0] == (0, total) and calls[-1] == (total, total)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))

    def boom(done, total):
        raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        weightseal.verify(model, progress=boom)


def test_the_gil_is_released_while_hashing(tmp_path):
    d = tmp_path / "big"
    d.mkdir()
    (d / "weights.bin").write_bytes(bytes(range(256)) * (384 << 10))  # 96 MiB
    window = {}

    def work():
        window["t0"] = time.perf_counter()
        weightseal.hash(d, write=False, tensors=False)
        window["t1"] = time.perf_counter()

    t = threading.Thread(target=work)
    ticks = []
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
    t.join()
    t0, t1 = window["t0"], window["t1"]
    inside = [x for x in ticks if t0 <= x <= t1]
    assert t1 - t0 > 0.01, "the hash was too quick to judge"
    # With the GIL held through the native call this thread could not run inside the window:
    # the largest gap would be about the whole call.
    gaps = [b - a for a, b in zip([t0] + inside, inside + [t1])]
    assert max(gaps) < 0.5 * (t1 - t0), (max(gaps), t1 - t0)


def test_a_single_file_model(tmp_path, keys):
    d = tmp_path / "downloads"
    d.mkdir()
    save_file(tensors(), str(d / "tiny.safetensors"))
    (d / "unrelated.txt").write_text("not part of the model")
    m = weightseal.hash(d / "tiny.safetensors")
    assert m.name == "tiny.safetensors" and [f.path for f in m.files] == ["tiny.safetensors"]
    assert (d / "tiny.safetensors.weightseal.manifest").read_bytes() == m.to_bytes()
    s = weightseal.sign(d / "tiny.safetensors", keys["acme"][0])
    assert s.attestations_path.endswith("tiny.safetensors.weightseal.intoto.jsonl")
    r = weightseal.verify(d / "tiny.safetensors", key=keys["acme"][1])
    assert r.ok and [f.path for f in r.files] == ["tiny.safetensors"] and r.signatures.ok


def test_an_oms_bundle_verifies_through_the_same_judge(signed, keys, tmp_path, cli):
    sig = tmp_path / "model.sig"
    run(str(cli), "sign", str(signed), "--key", str(keys["p256"][0]), "--format", "oms", "--signature", str(sig))
    r = weightseal.verify(signed, signature=sig, key=keys["p256"][1])
    assert r.ok and r.format == "oms" and r.oms is not None and r.oms.method == "key"
    assert r.vouched == "checked" and r.manifest_digest
    # Pins apply to OMS signatures too.
    with pytest.raises(weightseal.VerificationError, match="wrong-model"):
        weightseal.verify(signed, signature=sig, key=keys["p256"][1], model="org/wanted")
    with pytest.raises(weightseal.VerificationError, match="wrong-digest"):
        weightseal.verify(signed, signature=sig, key=keys["p256"][1], digest="0" * 64)
    # Another key: the signature does not verify, and nothing says it does.
    with pytest.raises(weightseal.SignatureError) as e:
        weightseal.verify(signed, signature=sig, key=keys["other"][1])
    assert not e.value.report.ok and e.value.report.oms.error
    assert "NOT verified" in e.value.report.summary()
    # A changed file after a valid signature.
    flip_byte(signed / "config.json", 2)
    with pytest.raises(weightseal.VerificationError) as e:
        weightseal.verify(signed, signature=sig, key=keys["p256"][1])
    assert [f.path for f in e.value.report.failed] == ["config.json"]


def test_a_renamed_model_does_not_escape_the_trust_store(signed, keys, cli):
    run(str(cli), "trust", "add", str(keys["acme"][1]), "--model", "org/*")
    assert weightseal.verify(signed).ok
    flip_byte(signed / "config.json", 2)
    for name in ["Org/model", "evil/model"]:
        weightseal.hash(signed, name=name)
        with pytest.raises(weightseal.VerificationError) as e:
            weightseal.verify(signed)
        assert not e.value.report.ok and e.value.report.reasons
    # Asked for integrity only, a name no entry covers passes; one an entry covers does not.
    assert weightseal.verify(signed, allow_unsigned=True).vouched == "integrity-only"
    weightseal.hash(signed, name="Org/model")
    with pytest.raises(weightseal.VerificationError):
        weightseal.verify(signed, allow_unsigned=True)
