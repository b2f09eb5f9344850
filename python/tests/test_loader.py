"""The verified loader: the bytes that are loaded are the bytes that were verified."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.numpy
from safetensors.numpy import save_file

import weightseal
from weightseal.safetensors import load_file, safe_open
from conftest import flip_byte, tensors


def tensor_range(model: Path, name: str) -> tuple:
    m = weightseal.Manifest.load(model / "weightseal.manifest")
    t = next(t for t in m.file("model.safetensors").tensors if t.name == name)
    return t.start, t.end


def test_load_file_gives_what_the_safetensors_package_gives(signed, keys):
    path = signed / "model.safetensors"
    ours = load_file(path, key=keys["acme"][1])
    theirs = safetensors.numpy.load_file(str(path))
    assert sorted(ours) == sorted(theirs) == sorted(tensors())
    for name, ref in theirs.items():
        got = ours[name]
        assert isinstance(got, np.ndarray)
        assert got.dtype == ref.dtype and got.shape == ref.shape, name
        assert np.array_equal(got, ref), name


def test_safe_open_reads_keys_metadata_and_tensors(signed, keys):
    path = signed / "model.safetensors"
    with safe_open(path, framework="np", key=keys["acme"][1]) as f, safetensors.safe_open(str(path), framework="np") as ref:
        assert f.keys() == list(ref.offset_keys())
        assert f.metadata() == ref.metadata() == {"format": "np", "author": "tests"}
        for name in f.keys():
            assert np.array_equal(f.get_tensor(name), ref.get_tensor(name)), name
        assert f.dtype_and_shape("embed.weight") == ("F32", (64, 32))
        assert f.signatures is not None and f.signatures.ok
        assert f.manifest_digest == weightseal.Manifest.load(signed / "weightseal.manifest").digest
        with pytest.raises(KeyError, match="no tensor"):
            f.get_tensor("nope")


def test_a_flipped_byte_raises_naming_the_tensor_and_returns_nothing_of_it(signed, keys):
    start, _ = tensor_range(signed, "layer.1.weight")
    flip_byte(signed / "model.safetensors", start + 3)
    with pytest.raises(weightseal.TensorVerificationError) as e:
        load_file(signed / "model.safetensors", key=keys["acme"][1])
    assert e.value.tensors == ["layer.1.weight"]
    assert e.value.path == "model.safetensors"
    assert "layer.1.weight" in str(e.value)
    # Reading tensor by tensor: the others load, the bad one raises and yields no array.
    with safe_open(signed / "model.safetensors", key=keys["acme"][1]) as f:
        assert f.get_tensor("embed.weight").shape == (64, 32)
        with pytest.raises(weightseal.TensorVerificationError) as e2:
            f.get_tensor("layer.1.weight")
        assert e2.value.tensors == ["layer.1.weight"]


def test_a_header_edit_is_refused_before_any_tensor_is_read(signed, keys):
    path = signed / "model.safetensors"
    data = bytearray(path.read_bytes())
    # Same length, other meaning: the metadata value "tests" becomes "tesTs".
    i = data.index(b'"tests"')
    data[i + 4] = ord("T")
    path.write_bytes(bytes(data))
    with pytest.raises(weightseal.VerificationError, match="header") as e:
        load_file(path, key=keys["acme"][1])
    assert not isinstance(e.value, weightseal.TensorVerificationError)
    with pytest.raises(weightseal.VerificationError, match="header"):
        safe_open(path, key=keys["acme"][1])


def test_a_file_swapped_after_verify_is_caught_by_the_loader(signed, keys):
    # verify passes at 9:00 ...
    assert weightseal.verify(signed, key=keys["acme"][1]).ok
    # ... the file is swapped for one with the same header and other weights at 9:01 ...
    # (The safetensors package writes __metadata__ in hash-map order, so the original header
    # bytes are kept and only the data after them is the other file's.)
    other = signed / "other.bin"
    save_file(tensors(seed=1), str(other), metadata={"format": "np", "author": "tests"})
    original = (signed / "model.safetensors").read_bytes()
    n = 8 + int.from_bytes(original[:8], "little")
    swapped = other.read_bytes()
    m = 8 + int.from_bytes(swapped[:8], "little")
    assert len(swapped) - m == len(original) - n
    other.unlink()
    tmp = signed / "swap.tmp"
    tmp.write_bytes(original[:n] + swapped[m:])
    tmp.replace(signed / "model.safetensors")
    # ... and the loader, which hashes what it reads, refuses it.
    with pytest.raises(weightseal.TensorVerificationError) as e:
        load_file(signed / "model.safetensors", key=keys["acme"][1])
    differing = {n for n, a in tensors(0).items() if not np.array_equal(a, tensors(1)[n])}
    assert set(e.value.tensors) == differing


def test_trust_is_required_unless_unsigned_use_is_allowed(signed, keys):
    path = signed / "model.safetensors"
    with pytest.raises(weightseal.TrustError, match="nobody vouches"):
        load_file(path)
    assert sorted(load_file(path, allow_unsigned=True)) == sorted(tensors())
    digest = weightseal.Manifest.load(signed / "weightseal.manifest").digest
    assert sorted(load_file(path, digest=digest)) == sorted(tensors())
    with pytest.raises(weightseal.SignatureError, match="do not meet the trust"):
        load_file(path, key=keys["other"][1])
    with pytest.raises(weightseal.VerificationError, match="wrong-model"):
        load_file(path, key=keys["acme"][1], model="org/other")


def test_a_changed_size_and_a_file_the_manifest_does_not_list(signed, keys):
    path = signed / "model.safetensors"
    with open(path, "ab") as f:
        f.write(b"\0" * 16)
    with pytest.raises(weightseal.VerificationError, match="bytes where the manifest records"):
        load_file(path, key=keys["acme"][1])
    other = signed / "other.safetensors"
    save_file({"x": np.zeros(3, dtype=np.float32)}, str(other))
    with pytest.raises(weightseal.ManifestError, match="lists no file"):
        load_file(other, key=keys["acme"][1])


def test_a_manifest_without_tensor_digests_is_refused(model, keys):
    weightseal.hash(model, tensors=False)
    weightseal.sign(model, keys["acme"][0])
    with pytest.raises(weightseal.ManifestError, match="records no tensors"):
        load_file(model / "model.safetensors", key=keys["acme"][1])


def test_a_manifest_elsewhere_and_a_file_in_a_subdirectory(tmp_path, keys):
    from conftest import write_model

    root = tmp_path / "release"
    write_model(root / "weights")
    weightseal.hash(root, name="org/model")
    weightseal.sign(root, keys["acme"][0])
    got = load_file(root / "weights" / "model.safetensors", root / "weightseal.manifest", key=keys["acme"][1])
    assert sorted(got) == sorted(tensors())


def test_torch_is_optional(signed, keys):
    path = signed / "model.safetensors"
    if importlib.util.find_spec("torch") is None:
        with pytest.raises(ImportError, match="needs PyTorch"):
            load_file(path, key=keys["acme"][1], framework="pt")
    else:
        import torch

        got = load_file(path, key=keys["acme"][1], framework="pt")
        assert isinstance(got["embed.weight"], torch.Tensor)
        assert torch.equal(got["embed.weight"], torch.from_numpy(tensors()["embed.weight"]))
    with pytest.raises(ValueError, match="framework"):
        load_file(path, key=keys["acme"][1], framework="jax")


def test_a_single_file_model_loads_with_the_manifest_beside_it(tmp_path, keys):
    f = tmp_path / "tiny.safetensors"
    save_file(tensors(), str(f))
    weightseal.hash(f)
    weightseal.sign(f, keys["acme"][0])
    got = load_file(f, key=keys["acme"][1])
    assert sorted(got) == sorted(tensors())
