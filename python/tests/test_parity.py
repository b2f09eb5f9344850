"""One question, every front end (issue "One question"): the same trust question, put to the
CLI (a directory, a mirror URL, the Hugging Face cache, a fetch, a derivation's base) and to the
Python API (verify, the verified safetensors loader, fetch, the hub helpers, derive.check), gets
the same answer.

Rows are scenarios, each with the one answer every column must give; columns are adapters
``(release, trust) -> "ok" | "refused"``. A refusal is a verdict: exit 1 from the CLI, or
VerificationError (SignatureError, TensorVerificationError) or TrustError from Python. Anything
else (exit 2, a TypeError for a keyword a front end does not take, a PolicyError, ...) is not an
answer to the question and fails the cell loudly, with what happened.

The releases (a real model written by the safetensors package, hashed and signed by the
binary of this checkout) are served by Python's http.server on 127.0.0.1 and cached in the
layout huggingface_hub writes, once for the module.
"""

from __future__ import annotations

import functools
import http.server
import inspect
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest
from safetensors.numpy import save_file

import weightseal
import weightseal.derive
import weightseal.hub
import weightseal.safetensors
from conftest import cache_model, copy_tree, flip_byte, openssl_key, run, tensors, write_model

REPO_ID = "org/name"

#: The trust a caller can give: the Python keyword names, which are the CLI's flag names.
TRUST_KEYWORDS = ("key", "policy", "trust_store", "model", "digest", "log_key", "witnesses", "quorum", "allow_unsigned")


# --- The mapping of one trust dict to each kind of front end ------------------------------


def cli_trust(trust: Dict[str, Any], command: str, scratch: Callable[[], Path]) -> Tuple[List[str], Dict[str, str]]:
    """A scenario's trust as flags of `weightseal verify` or `weightseal fetch`, and the
    environment they need (the CLI takes its trust store from WEIGHTSEAL_TRUST, not a flag)."""
    unknown = set(trust) - set(TRUST_KEYWORDS)
    assert not unknown, f"not trust keywords: {sorted(unknown)}"
    flags: List[str] = []
    env: Dict[str, str] = {}
    for k, v in trust.items():
        if k == "key":
            for p in v if isinstance(v, (list, tuple)) else [v]:
                flags += ["--key", str(p)]
        elif k == "policy":
            flags += ["--policy", str(v)]
        elif k == "trust_store":
            if not v:  # no trust store: one that does not exist
                env["WEIGHTSEAL_TRUST"] = str(scratch().parent / "no-trust-store.toml")
        elif k == "model":
            flags += ["--model", v]
        elif k == "digest":
            flags += ["--digest", v]
        elif k == "log_key":
            flags += ["--log-key", v]
        elif k == "witnesses":
            for w in v:
                flags += ["--witness", w]
        elif k == "quorum":
            flags += ["--quorum", str(v)]
        elif k == "allow_unsigned":
            if v:
                flags.append("--allow-unsigned" if command == "fetch" else "--integrity-only")
    return flags, env


def py_trust(trust: Dict[str, Any]) -> Dict[str, Any]:
    """A scenario's trust as keyword arguments of a Python front end (the same names)."""
    unknown = set(trust) - set(TRUST_KEYWORDS)
    assert not unknown, f"not trust keywords: {sorted(unknown)}"
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in trust.items()}


class Verdict(str):
    """The answer ("ok" or "refused"), with how the front end gave it."""

    detail: str

    def __new__(cls, value: str, detail: str) -> "Verdict":
        v = super().__new__(cls, value)
        v.detail = detail
        return v


def cli_verdict(cli: Path, args: List[str], env: Dict[str, str]) -> Verdict:
    p = subprocess.run([str(cli), *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    lines = p.stderr.strip().splitlines() or [""]
    why = next((line for line in lines if "NOT" in line or "error" in line), lines[-1])
    if p.returncode == 0:
        return Verdict("ok", "exit 0")
    if p.returncode == 1:
        return Verdict("refused", f"exit 1: {why}")
    pytest.fail(f"weightseal {' '.join(args)}: exit {p.returncode} is not a verdict:\n{p.stderr}{p.stdout}")


#: The exceptions that are a verdict (SignatureError and TensorVerificationError are
#: VerificationErrors).
VERDICT_ERRORS = (weightseal.VerificationError, weightseal.TrustError)


def py_verdict(call: Callable[[], Any]) -> Verdict:
    try:
        call()
    except VERDICT_ERRORS as e:
        return Verdict("refused", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    except Exception as e:  # a usage error, or an error of the wrong kind: not an answer
        pytest.fail(f"{type(e).__name__} is not a verdict: {e}")
    return Verdict("ok", "returned")


# --- The releases -------------------------------------------------------------------------


@dataclass
class Release:
    name: str
    dir: Path
    url: str
    cache: Path
    cli: Path
    scratch: Callable[[], Path]

    @property
    def weights(self) -> Path:
        return self.dir / "model.safetensors"


def tensor_start(release: Path, name: str) -> int:
    m = weightseal.Manifest.load(release / "weightseal.manifest")
    return next(t for t in m.file("model.safetensors").tensors if t.name == name).start


@dataclass
class World:
    releases: Dict[str, Release]
    publisher: Path
    attacker: Path
    policy: Path
    policy_log: Path
    log_key: str


@pytest.fixture(scope="module")
def world(tmp_path_factory, cli) -> Any:
    d = tmp_path_factory.mktemp("parity")
    # Built before the per-test trust store exists: the CLI is given an empty one of its own.
    env = {**os.environ, "WEIGHTSEAL_TRUST": str(d / "empty-trust.toml")}
    ws = functools.partial(run, str(cli), env=env)
    (d / "keys").mkdir()
    pub_priv, pub = openssl_key(d / "keys", "publisher")
    evil_priv, evil = openssl_key(d / "keys", "attacker")
    srv = d / "srv"

    # The genuine release, signed by the publisher.
    signed = write_model(srv / "signed")
    ws("hash", str(signed), "--name", REPO_ID)
    ws("sign", str(signed), "--key", str(pub_priv), "--version", "1")

    # A release derived from the genuine one (the same tensors and files, hashed under its own
    # name, not signed): the derive columns check it against each release as its base.
    derived = srv / "derived"
    derived.mkdir()
    for f in ("model.safetensors", "config.json", "tokenizer.json"):
        shutil.copyfile(signed / f, derived / f)
    ws("hash", str(derived), "--name", REPO_ID + "-derived")

    # The same release, logged: weightseal.tlog-proof beside it.
    logged = copy_tree(signed, srv / "logged")
    ws("keygen", "--out", str(d / "keys" / "log.key"))
    vkey = ws("log", "init", str(d / "log"), "--origin", "example.test/parity", "--key", str(d / "keys" / "log.key")).stdout.splitlines()[0]
    ws("log", "add", str(d / "log"), "--key", str(d / "keys" / "log.key"), str(logged))
    assert (logged / "weightseal.tlog-proof").is_file()
    assert not (signed / "weightseal.tlog-proof").exists()

    # One byte of a tensor's data flipped after signing.
    tampered = copy_tree(signed, srv / "tampered")
    flip_byte(tampered / "model.safetensors", tensor_start(signed, "layer.0.bias"))

    # The attacker's copy: a tensor changed, hashed under the same name and re-signed (a new
    # manifest and attestation) by the attacker's key.
    attacker = copy_tree(signed, srv / "attacker")
    flip_byte(attacker / "model.safetensors", tensor_start(signed, "layer.1.weight"))
    (attacker / "weightseal.manifest").unlink()
    (attacker / "weightseal.intoto.jsonl").unlink()
    ws("hash", str(attacker), "--name", REPO_ID)
    ws("sign", str(attacker), "--key", str(evil_priv), "--version", "2")

    trusts_publisher = f'[keys.publisher]\npublic_key = "{pub}"\nroles = ["publisher"]\n[roles.publisher]\nthreshold = 1\n'
    policy = d / "policy.toml"
    policy.write_text(trusts_publisher)
    policy_log = d / "policy-log.toml"
    policy_log.write_text(trusts_publisher + f'[log]\nkey = "{vkey}"\n')

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(srv))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"

    releases = {}
    for r in (signed, logged, tampered, attacker):
        cache = d / "hub" / r.name
        cache_model(cache, REPO_ID, r)
        releases[r.name] = Release(
            r.name, r, f"{base}/{r.name}", cache, cli, lambda: tmp_path_factory.mktemp("dest") / "model"
        )
    yield World(releases, pub, evil, policy, policy_log, vkey)
    httpd.shutdown()
    httpd.server_close()


# --- The columns ---------------------------------------------------------------------------


def check_loaded(release: Release, got: Dict[str, Any]) -> None:
    """What a loader hands out as verified is the genuine release's tensors."""
    ref = tensors()
    assert sorted(got) == sorted(ref), release.name
    bad = [k for k in ref if not np.array_equal(got[k], ref[k])]
    assert not bad, f"{release.name}: loaded as verified, but {bad} are not the publisher's tensors"


def check_fetched(release: Release, dest: Path) -> None:
    for f in ("model.safetensors", "config.json", "tokenizer.json", "weightseal.manifest"):
        assert (dest / f).read_bytes() == (release.dir / f).read_bytes(), f


def verify_cli(release: Release, trust: Dict[str, Any]) -> Verdict:
    flags, env = cli_trust(trust, "verify", release.scratch)
    return cli_verdict(release.cli, ["verify", str(release.dir), *flags], env)


def verify_url_cli(release: Release, trust: Dict[str, Any]) -> Verdict:
    flags, env = cli_trust(trust, "verify", release.scratch)
    return cli_verdict(release.cli, ["verify", "--url", release.url, *flags], env)


def verify_hf_cli(release: Release, trust: Dict[str, Any]) -> Verdict:
    flags, env = cli_trust(trust, "verify", release.scratch)
    return cli_verdict(release.cli, ["verify", "--hf", REPO_ID, *flags], {**env, "HF_HUB_CACHE": str(release.cache)})


def fetch_cli(release: Release, trust: Dict[str, Any]) -> Verdict:
    dest = release.scratch()
    flags, env = cli_trust(trust, "fetch", release.scratch)
    v = cli_verdict(release.cli, ["fetch", release.url, str(dest), *flags], env)
    if v == "ok":
        check_fetched(release, dest)
    else:
        assert not (dest / "model.safetensors").exists(), "a refused fetch delivered the weights"
    return v


def derived_release(release: Release) -> Path:
    """The release the derive columns check with `release` as its base (see `world`)."""
    return release.dir.parent / "derived"


def derive_cli(release: Release, trust: Dict[str, Any]) -> Verdict:
    flags, env = cli_trust(trust, "derive", release.scratch)
    return cli_verdict(release.cli, ["derive", "check", str(derived_release(release)), "--from", str(release.dir), *flags], env)


def derive_py(release: Release, trust: Dict[str, Any]) -> Verdict:
    # A refused base raises as verify does; a derivation that is not reproduced (a base whose
    # bytes are not the signed ones) is a report whose ok is False.
    reports: List[Any] = []
    v = py_verdict(lambda: reports.append(weightseal.derive.check(derived_release(release), release.dir, **py_trust(trust))))
    if v == "ok" and not reports[0].ok:
        return Verdict("refused", f"report.ok is False: {reports[0].summary()}")
    return v


def verify_py(release: Release, trust: Dict[str, Any]) -> Verdict:
    return py_verdict(lambda: weightseal.verify(release.dir, **py_trust(trust)))


def load_file_py(release: Release, trust: Dict[str, Any]) -> Verdict:
    return py_verdict(lambda: check_loaded(release, weightseal.safetensors.load_file(release.weights, **py_trust(trust))))


def safe_open_py(release: Release, trust: Dict[str, Any]) -> Verdict:
    def read_all() -> None:
        with weightseal.safetensors.safe_open(release.weights, **py_trust(trust)) as f:
            check_loaded(release, {name: f.get_tensor(name) for name in f.keys()})

    return py_verdict(read_all)


def fetch_py(release: Release, trust: Dict[str, Any]) -> Verdict:
    dest = release.scratch()
    v = py_verdict(lambda: weightseal.fetch(release.url, dest, **py_trust(trust)))
    if v == "ok":
        check_fetched(release, dest)
    else:
        assert not (dest / "model.safetensors").exists(), "a refused fetch delivered the weights"
    return v


def verify_snapshot_py(release: Release, trust: Dict[str, Any]) -> Verdict:
    return py_verdict(lambda: weightseal.hub.verify_snapshot(REPO_ID, cache_dir=release.cache, **py_trust(trust)))


def load_safetensors_py(release: Release, trust: Dict[str, Any]) -> Verdict:
    return py_verdict(
        lambda: check_loaded(release, weightseal.hub.load_safetensors(REPO_ID, cache_dir=release.cache, **py_trust(trust)))
    )


#: Column id -> (adapter, the Python callables it is the column of).
COLUMNS: Dict[str, Tuple[Callable[[Release, Dict[str, Any]], Verdict], Tuple[Any, ...]]] = {
    "verify-cli": (verify_cli, ()),
    "verify-url-cli": (verify_url_cli, ()),
    "verify-hf-cli": (verify_hf_cli, ()),
    "fetch-cli": (fetch_cli, ()),
    "derive-check-cli": (derive_cli, ()),
    "verify-py": (verify_py, (weightseal.verify,)),
    "load-file-py": (load_file_py, (weightseal.safetensors.load_file,)),
    "safe-open-py": (safe_open_py, (weightseal.safetensors.safe_open, weightseal.safetensors.SafeOpen)),
    "fetch-py": (fetch_py, (weightseal.fetch,)),
    "verify-snapshot-py": (verify_snapshot_py, (weightseal.hub.verify_snapshot,)),
    "load-safetensors-py": (load_safetensors_py, (weightseal.hub.load_safetensors,)),
    "derive-check-py": (derive_py, (weightseal.derive.check,)),
}


# --- The rows ------------------------------------------------------------------------------

def store_with_log(w: World) -> Dict[str, Any]:
    """Writes this test's own trust store (WEIGHTSEAL_TRUST, set per test): the publisher's key
    for the release's name, with the log's key; the question then has no keyword at all."""
    cli = next(iter(w.releases.values())).cli
    run(str(cli), "trust", "add", str(w.publisher), "--model", REPO_ID, "--log-key", w.log_key)
    return {}


#: (id, release, trust, the one answer).
SCENARIOS: List[Tuple[str, str, Callable[[World], Dict[str, Any]], str]] = [
    ("publisher-key", "signed", lambda w: {"key": w.publisher}, "ok"),
    ("foreign-signer", "attacker", lambda w: {"key": w.publisher}, "refused"),
    ("tampered-tensor", "tampered", lambda w: {"key": w.publisher}, "refused"),
    ("model-pin-wrong", "signed", lambda w: {"key": w.publisher, "model": "org/other"}, "refused"),
    ("digest-pin-wrong", "signed", lambda w: {"key": w.publisher, "digest": "00" * 32}, "refused"),
    ("policy", "signed", lambda w: {"policy": w.policy}, "ok"),
    ("policy-log-logged", "logged", lambda w: {"policy": w.policy_log}, "ok"),
    ("policy-log-unlogged", "signed", lambda w: {"policy": w.policy_log}, "refused"),
    ("log-key-logged", "logged", lambda w: {"key": w.publisher, "log_key": w.log_key}, "ok"),
    ("log-key-unlogged", "signed", lambda w: {"key": w.publisher, "log_key": w.log_key}, "refused"),
    # The trust store holds the publisher's key with the log requirement (`trust add
    # --log-key`): no flag or keyword asks for the log, and every front end requires it.
    ("store-log-logged", "logged", lambda w: store_with_log(w), "ok"),
    ("store-log-unlogged", "signed", lambda w: store_with_log(w), "refused"),
    # The one rule: with no trust configured (no key, no policy, an empty trust store), every
    # front end refuses, unless told integrity is enough.
    ("no-trust", "attacker", lambda w: {}, "refused"),
    ("no-trust-allow-unsigned", "signed", lambda w: {"allow_unsigned": True}, "ok"),
]


@pytest.mark.parametrize(
    "scenario,column",
    [pytest.param(s, c, id=f"{s[0]}-{c}") for s in SCENARIOS for c in COLUMNS],
)
def test_one_question_one_answer(world, scenario, column):
    name, release, trust, expected = scenario
    adapter, _ = COLUMNS[column]
    got = adapter(world.releases[release], trust(world))
    assert got in ("ok", "refused")
    assert got == expected, f"{column} on {name}: {got} ({got.detail}), expected {expected}"


def test_the_releases_are_what_the_rows_say(world):
    """The fixtures themselves: the attacker's copy is well-formed and signed by the attacker,
    the tampered copy differs from the signed one in one byte, only `logged` has a proof."""
    r = world.releases
    assert weightseal.verify(r["attacker"].dir, key=world.attacker).ok
    assert weightseal.verify(r["signed"].dir, key=world.publisher).ok
    a = r["signed"].weights.read_bytes()
    b = r["tampered"].weights.read_bytes()
    assert len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1
    assert [n for n, x in r.items() if (x.dir / "weightseal.tlog-proof").exists()] == ["logged"]


# --- Adding a front end without its column fails -------------------------------------------

#: Public functions with a `key` parameter that are not front ends of the judge.
NOT_FRONT_ENDS = {"weightseal.sign": "its key is the private key it signs with; it judges nothing"}


def front_ends() -> Dict[str, Any]:
    """Every public function (and class) of weightseal, weightseal.safetensors, weightseal.hub
    and weightseal.derive whose signature has a `key` parameter, plus SafeOpen/safe_open."""
    found: Dict[str, Any] = {}
    for mod in (weightseal, weightseal.safetensors, weightseal.hub, weightseal.derive):
        for name, obj in inspect.getmembers(mod):
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            try:
                params = inspect.signature(obj).parameters
            except (TypeError, ValueError):
                continue
            if "key" in params or name in ("SafeOpen", "safe_open"):
                found[f"{mod.__name__}.{name}"] = obj
    return found


def test_every_front_end_is_a_column_of_the_matrix():
    found = front_ends()
    assert set(NOT_FRONT_ENDS) <= set(found), "update NOT_FRONT_ENDS"
    covered = {id(f) for _, fs in COLUMNS.values() for f in fs}
    missing = sorted(n for n, f in found.items() if n not in NOT_FRONT_ENDS and id(f) not in covered)
    assert not missing, f"front ends without a column in test_parity.COLUMNS: {missing}"
    # And every column's callable is still a front end (a renamed one is not silently kept).
    assert covered <= {id(f) for f in found.values()}


@pytest.mark.parametrize(
    "name",
    sorted(n for n, f in front_ends().items() if n not in NOT_FRONT_ENDS and inspect.isfunction(f)),
)
def test_every_front_end_takes_every_trust_keyword(name):
    params = inspect.signature(front_ends()[name]).parameters
    missing = [k for k in TRUST_KEYWORDS if k not in params]
    assert not missing, f"{name} does not take {missing}"


# --- The hub loader's mixed-release attack -------------------------------------------------


def write_two_shards(d: Path, seed: int) -> Dict[str, np.ndarray]:
    """A model in two shards with their index, as transformers saves one."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    all_tensors = {f"model.layers.{i}.weight": rng.standard_normal((16, 16)).astype(np.float32) for i in range(4)}
    names = sorted(all_tensors)
    weight_map = {}
    for s in range(2):
        shard = f"model-{s + 1:05d}-of-00002.safetensors"
        part = {n: all_tensors[n] for n in names[2 * s : 2 * s + 2]}
        save_file(part, str(d / shard), metadata={"format": "pt"})
        weight_map.update({n: shard for n in part})
    index = {"metadata": {"total_size": sum(t.nbytes for t in all_tensors.values())}, "weight_map": weight_map}
    (d / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    (d / "config.json").write_text('{"num_hidden_layers": 4}\n')
    return all_tensors


def test_the_hub_loader_judges_the_snapshots_one_manifest_not_a_shards_own(tmp_path, cli):
    shard = "model-00001-of-00002.safetensors"
    priv, pub = openssl_key(tmp_path, "publisher")
    # Release 1 of org/name; its first shard also published on its own, with a manifest and
    # attestation of its own (FILE.weightseal.manifest), signed by the same key.
    v1 = tmp_path / "v1"
    write_two_shards(v1, seed=1)
    run(str(cli), "hash", str(v1 / shard), "--name", REPO_ID)
    run(str(cli), "sign", str(v1 / shard), "--key", str(priv), "--version", "1")
    own = sorted(p.name for p in v1.iterdir() if p.name.startswith(shard + ".weightseal."))
    assert f"{shard}.weightseal.manifest" in own and len(own) == 2, own
    # Release 2: both shards, one manifest at the top, signed by the same key.
    v2 = tmp_path / "v2"
    ref2 = write_two_shards(v2, seed=2)
    run(str(cli), "hash", str(v2), "--name", REPO_ID)
    run(str(cli), "sign", str(v2), "--key", str(priv), "--version", "2")

    # The genuine snapshot of release 2 loads, as release 2.
    cache_model(tmp_path / "hub-v2", REPO_ID, v2)
    got = weightseal.hub.load_safetensors(REPO_ID, key=pub, cache_dir=tmp_path / "hub-v2")
    assert sorted(got) == sorted(ref2) and all(np.array_equal(got[k], ref2[k]) for k in ref2)

    # The mixed snapshot: release 2's manifest, index and second shard; release 1's first shard
    # with release 1's own manifest and attestation beside it.
    mixed = copy_tree(v2, tmp_path / "mixed")
    shutil.copyfile(v1 / shard, mixed / shard)
    for name in own:
        shutil.copyfile(v1 / name, mixed / name)
    cache = tmp_path / "hub-mixed"
    cache_model(cache, REPO_ID, mixed)
    # The snapshot does not verify under its one manifest ...
    with pytest.raises(weightseal.VerificationError):
        weightseal.hub.verify_snapshot(REPO_ID, key=pub, cache_dir=cache)
    # ... so the loader must not load it: the first shard's bytes are not the ones the
    # snapshot's manifest records, whatever manifest sits beside that shard.
    with pytest.raises(weightseal.VerificationError):
        weightseal.hub.load_safetensors(REPO_ID, key=pub, cache_dir=cache)
