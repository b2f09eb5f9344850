"""weightseal.hub on a cache written by huggingface_hub's own cache helpers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import scan_cache_dir

import weightseal
import weightseal.hub
from conftest import COMMIT, cache_model, tensors, write_model



@pytest.fixture
def cache(tmp_path, keys) -> tuple:
    src = write_model(tmp_path / "release")
    weightseal.hash(src, name="org/tiny")
    weightseal.sign(src, keys["acme"][0], version=1)
    cache = tmp_path / "hub"
    snap = cache_model(cache, "org/tiny", src)
    # huggingface_hub itself sees the files we cached.
    info = scan_cache_dir(str(cache))
    (repo,) = info.repos
    assert repo.repo_id == "org/tiny"
    assert {f.file_name for rev in repo.revisions for f in rev.files} >= {"model.safetensors", "weightseal.manifest"}
    return cache, snap


def test_verify_snapshot_finds_and_verifies_the_snapshot(cache, keys, monkeypatch):
    cache_dir, snap = cache
    r = weightseal.hub.verify_snapshot("org/tiny", key=keys["acme"][1], cache_dir=cache_dir)
    assert r.ok and r.signatures.ok and r.name == "org/tiny"
    assert Path(r.path) == snap
    # Found through HF_HUB_CACHE as huggingface_hub finds it, by branch or by commit.
    monkeypatch.setenv("HF_HUB_CACHE", str(cache_dir))
    assert weightseal.hub.verify_snapshot("org/tiny", "main", key=keys["acme"][1]).ok
    assert weightseal.hub.verify_snapshot("org/tiny", COMMIT, key=keys["acme"][1]).ok
    assert weightseal.hub.snapshot_path("org/tiny") == str(snap)


def test_load_safetensors_loads_verified_weights(cache, keys):
    cache_dir, _ = cache
    got = weightseal.hub.load_safetensors("org/tiny", key=keys["acme"][1], cache_dir=cache_dir)
    ref = tensors()
    assert sorted(got) == sorted(ref)
    assert all(np.array_equal(got[k], ref[k]) for k in ref)


def test_a_corrupt_blob_fails_the_hook_and_the_loader(cache, keys):
    cache_dir, snap = cache
    blob = (snap / "model.safetensors").resolve()
    m = weightseal.Manifest.load(snap / "weightseal.manifest")
    t = next(t for t in m.file("model.safetensors").tensors if t.name == "layer.0.bias")
    data = bytearray(blob.read_bytes())
    data[t.start] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(weightseal.VerificationError) as e:
        weightseal.hub.verify_snapshot("org/tiny", key=keys["acme"][1], cache_dir=cache_dir)
    (bad,) = e.value.report.failed
    assert bad.path == "model.safetensors" and bad.tensors.changed == ("layer.0.bias",)
    with pytest.raises(weightseal.TensorVerificationError) as e2:
        weightseal.hub.load_safetensors("org/tiny", key=keys["acme"][1], cache_dir=cache_dir)
    assert e2.value.tensors == ["layer.0.bias"]


def test_a_link_out_of_the_repository_is_refused(cache, keys, tmp_path):
    cache_dir, snap = cache
    outside = tmp_path / "elsewhere.json"
    outside.write_text('{"hidden_size": 32, "layers": 2}\n')
    (snap / "config.json").unlink()
    os.symlink(outside, snap / "config.json")
    with pytest.raises(weightseal.SnapshotError, match="outside this repository"):
        weightseal.hub.verify_snapshot("org/tiny", key=keys["acme"][1], cache_dir=cache_dir)
    with pytest.raises(weightseal.SnapshotError):
        weightseal.hub.load_safetensors("org/tiny", key=keys["acme"][1], cache_dir=cache_dir)


def test_unknown_repositories_and_revisions(cache, keys):
    cache_dir, _ = cache
    with pytest.raises(weightseal.SnapshotError, match="not in the Hugging Face cache"):
        weightseal.hub.verify_snapshot("org/absent", key=keys["acme"][1], cache_dir=cache_dir)
    with pytest.raises(weightseal.SnapshotError, match="no snapshot for revision"):
        weightseal.hub.verify_snapshot("org/tiny", "v9", key=keys["acme"][1], cache_dir=cache_dir)
    with pytest.raises(weightseal.SnapshotError, match="not a repository id"):
        weightseal.hub.verify_snapshot("../../etc", key=keys["acme"][1], cache_dir=cache_dir)


def write_sharded(d: Path, seed: int = 3) -> dict:
    """A sharded model as transformers saves one: three shards, their index, tokenizer files."""
    import json

    from safetensors.numpy import save_file

    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    all_tensors = {f"model.layers.{i}.weight": rng.standard_normal((16, 16)).astype(np.float32) for i in range(6)}
    names = sorted(all_tensors)
    weight_map = {}
    for s in range(3):
        shard = f"model-{s + 1:05d}-of-00003.safetensors"
        part = {n: all_tensors[n] for n in names[2 * s : 2 * s + 2]}
        save_file(part, str(d / shard), metadata={"format": "pt"})
        weight_map.update({n: shard for n in part})
    index = {"metadata": {"total_size": sum(t.nbytes for t in all_tensors.values())}, "weight_map": weight_map}
    (d / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    (d / "tokenizer.json").write_text('{"model": {"vocab": {"a": 0, "b": 1}}}\n')
    (d / "tokenizer_config.json").write_text('{"model_max_length": 2048}\n')
    (d / "config.json").write_text('{"num_hidden_layers": 6}\n')
    return all_tensors


@pytest.fixture
def sharded(tmp_path, keys) -> tuple:
    src = tmp_path / "release"
    ref = write_sharded(src)
    weightseal.hash(src, name="org/sharded")
    weightseal.sign(src, keys["acme"][0], version=1)
    cache = tmp_path / "hub"
    snap = cache_model(cache, "org/sharded", src)
    info = scan_cache_dir(str(cache))
    (repo,) = info.repos
    assert {f.file_name for rev in repo.revisions for f in rev.files} >= {
        "model-00001-of-00003.safetensors",
        "model.safetensors.index.json",
        "tokenizer.json",
    }
    return cache, snap, ref


def test_the_publishers_manifest_given_separately_describes_the_sharded_snapshot(sharded, keys, tmp_path):
    # The docstring invites manifest= (the publisher's, downloaded separately): it describes
    # the snapshot wherever it lies, for the loader as for verify_snapshot.
    cache_dir, snap, ref = sharded
    elsewhere = tmp_path / "from-the-publisher"
    elsewhere.mkdir()
    (elsewhere / "weightseal.manifest").write_bytes((snap / "weightseal.manifest").read_bytes())
    (elsewhere / "weightseal.intoto.jsonl").write_bytes((snap / "weightseal.intoto.jsonl").read_bytes())
    m = elsewhere / "weightseal.manifest"
    assert weightseal.hub.verify_snapshot("org/sharded", key=keys["acme"][1], cache_dir=cache_dir, manifest=m).ok
    got = weightseal.hub.load_safetensors("org/sharded", key=keys["acme"][1], cache_dir=cache_dir, manifest=m)
    assert sorted(got) == sorted(ref) and all(np.array_equal(got[k], ref[k]) for k in ref)
    # Its attestations are the ones beside it: without them nobody vouches.
    (elsewhere / "weightseal.intoto.jsonl").unlink()
    with pytest.raises(weightseal.SignatureError, match="do not meet the trust"):
        weightseal.hub.load_safetensors("org/sharded", key=keys["acme"][1], cache_dir=cache_dir, manifest=m)


def test_a_sharded_snapshot_verifies_and_loads_every_shard(sharded, keys):
    cache_dir, snap, ref = sharded
    r = weightseal.hub.verify_snapshot("org/sharded", key=keys["acme"][1], cache_dir=cache_dir)
    assert r.ok and not r.index and r.name == "org/sharded"
    assert weightseal.verify(snap, key=keys["acme"][1], follow_symlinks=True).ok
    got = weightseal.hub.load_safetensors("org/sharded", key=keys["acme"][1], cache_dir=cache_dir)
    assert sorted(got) == sorted(ref)
    assert all(np.array_equal(got[k], ref[k]) for k in ref)
    one = weightseal.hub.load_safetensors(
        "org/sharded", "model-00002-of-00003.safetensors", key=keys["acme"][1], cache_dir=cache_dir
    )
    assert sorted(one) == ["model.layers.2.weight", "model.layers.3.weight"]


def test_a_broken_index_is_named_in_the_report(sharded, keys):
    import json

    cache_dir, snap, _ = sharded
    # The index (a link into blobs/) now drops a shard: replace its blob's bytes.
    blob = (snap / "model.safetensors.index.json").resolve()
    index = json.loads(blob.read_text())
    index["weight_map"] = {k: v for k, v in index["weight_map"].items() if "00003" not in v}
    blob.write_text(json.dumps(index))
    r = weightseal.hub.verify_snapshot("org/sharded", key=keys["acme"][1], cache_dir=cache_dir, check=False)
    assert not r.ok
    failed = {f.path: f for f in r.failed}
    assert "model.safetensors.index.json" in failed, r.failed
    assert "NOT verified" in r.summary() and "model.safetensors.index.json" in r.summary()
    # Loading refuses an index that names other shards than the manifest records.
    # (the index's own bytes are checked against the manifest before it names anything)
    with pytest.raises(weightseal.VerificationError, match="index.json: its bytes differ from the manifest's"):
        weightseal.hub.load_safetensors("org/sharded", key=keys["acme"][1], cache_dir=cache_dir)
