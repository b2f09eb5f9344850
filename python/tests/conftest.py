"""Fixtures: a real model written by the safetensors package, keys made by openssl, and the
weightseal binary of this checkout (for cross-checks between the two front ends)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import file_download as fd
from huggingface_hub.constants import REPO_TYPE_MODEL
from huggingface_hub.file_download import repo_folder_name
from safetensors.numpy import save_file

REPO = Path(__file__).resolve().parents[2]
#: The commit of every Hugging Face cache snapshot the tests make.
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)


@pytest.fixture(scope="session")
def cli() -> Path:
    """The weightseal binary (built by cargo test before pytest runs)."""
    p = Path(os.environ.get("WEIGHTSEAL_BIN", REPO / "target" / "debug" / "weightseal"))
    if not p.exists():
        run("cargo", "build", "--quiet", "--bin", "weightseal", cwd=REPO)
    return p


@pytest.fixture(autouse=True)
def no_trust_store(tmp_path_factory, monkeypatch):
    """Each test starts with an empty trust store of its own (never the user's)."""
    monkeypatch.setenv("WEIGHTSEAL_TRUST", str(tmp_path_factory.mktemp("trust") / "trust.toml"))
    monkeypatch.delenv("WEIGHTSEAL_PASSPHRASE", raising=False)


def tensors(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "embed.weight": rng.standard_normal((64, 32)).astype(np.float32),
        "layer.0.weight": rng.standard_normal((32, 32)).astype(np.float16),
        "layer.0.bias": rng.standard_normal((32,)).astype(np.float32),
        "layer.1.weight": rng.standard_normal((32, 32)).astype(np.float32),
        "positions": np.arange(128, dtype=np.int64),
        "mask": rng.integers(0, 2, (16,)).astype(bool),
        "codes": rng.integers(-128, 127, (40,)).astype(np.int8),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


def write_model(d: Path, seed: int = 0) -> Path:
    """A small model as the safetensors package writes one, with a config and a tokenizer."""
    d.mkdir(parents=True, exist_ok=True)
    save_file(tensors(seed), str(d / "model.safetensors"), metadata={"format": "np", "author": "tests"})
    (d / "config.json").write_text('{"hidden_size": 32, "layers": 2}\n')
    (d / "tokenizer.json").write_text('{"vocab": ["a", "b", "c"]}\n')
    return d


@pytest.fixture
def model(tmp_path) -> Path:
    return write_model(tmp_path / "model")


def openssl_key(d: Path, name: str, alg: str = "ed25519") -> tuple:
    """(private, public) PEM files made by openssl."""
    priv, pub = d / f"{name}.key", d / f"{name}.pub"
    if alg == "ed25519":
        run("openssl", "genpkey", "-algorithm", "ed25519", "-out", str(priv))
    else:
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{alg}", "-out", str(priv))
    run("openssl", "pkey", "-in", str(priv), "-pubout", "-out", str(pub))
    return priv, pub


@pytest.fixture
def keys(tmp_path) -> dict:
    d = tmp_path / "keys"
    d.mkdir()
    acme = openssl_key(d, "acme")
    other = openssl_key(d, "other")
    p256 = openssl_key(d, "acme-p256", "P-256")
    return {"acme": acme, "other": other, "p256": p256}


@pytest.fixture
def signed(model, keys) -> Path:
    """The model, hashed and signed by acme (version 1) under the name org/model."""
    import weightseal

    weightseal.hash(model, name="org/model")
    weightseal.sign(model, keys["acme"][0], version=1)
    return model


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def cache_model(cache: Path, repo_id: str, src: Path) -> Path:
    """Stores every file of `src` as huggingface_hub stores a download: a blob named by its
    SHA-256 (LFS) or git SHA-1, linked from snapshots/COMMIT/PATH by huggingface_hub's
    _create_symlink, with refs/main written by its own helper. Returns the snapshot."""
    storage = cache / repo_folder_name(repo_id=repo_id, repo_type=REPO_TYPE_MODEL)
    (storage / "blobs").mkdir(parents=True, exist_ok=True)
    for f in sorted(src.rglob("*")):
        if not f.is_file():
            continue
        data = f.read_bytes()
        if len(data) >= 1000:
            name = hashlib.sha256(data).hexdigest()
        else:
            name = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        blob = storage / "blobs" / name
        blob.write_bytes(data)
        dst = storage / "snapshots" / COMMIT / f.relative_to(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd._create_symlink(str(blob), str(dst), new_blob=True)
    fd._cache_commit_hash_for_specific_revision(str(storage), "main", COMMIT)
    return storage / "snapshots" / COMMIT
