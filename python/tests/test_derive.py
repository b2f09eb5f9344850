"""weightseal.derive: a GGUF release recomputed from its signed Hugging Face base.

The releases are real files: an F32 llama-like base written by the safetensors package (with
the names transformers gives a LlamaForCausalLM, and its config.json), and GGUF files written
by the gguf package's GGUFWriter the way llama.cpp's convert_hf_to_gguf.py writes them: the
names of gguf's TensorNameMap, the Q and K rows permuted with numpy exactly as
``LlamaModel.permute`` does (Q with 4 heads, K with the 2 key/value heads), the 2-D weights
quantized by ``gguf.quants.quantize`` to Q8_0 (or kept F32, as ``--outtype f32`` does) and the
norms F32. The base is hashed and signed by the weightseal binary of this checkout.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
from safetensors.numpy import save_file

import weightseal
import weightseal.derive
from conftest import flip_byte, run

gguf = pytest.importorskip("gguf")
tomllib = pytest.importorskip("tomllib")

N_HEAD, N_HEAD_KV, HIDDEN, FFN, VOCAB, LAYERS = 4, 2, 64, 128, 96, 2
HEAD_DIM = HIDDEN // N_HEAD


def base_tensors(seed: int = 7) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    t = {"model.embed_tokens.weight": w(VOCAB, HIDDEN), "model.norm.weight": 1 + w(HIDDEN), "lm_head.weight": w(VOCAB, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = w(N_HEAD * HEAD_DIM, HIDDEN)
        t[p + "self_attn.k_proj.weight"] = w(N_HEAD_KV * HEAD_DIM, HIDDEN)
        t[p + "self_attn.v_proj.weight"] = w(N_HEAD_KV * HEAD_DIM, HIDDEN)
        t[p + "self_attn.o_proj.weight"] = w(HIDDEN, N_HEAD * HEAD_DIM)
        t[p + "mlp.gate_proj.weight"] = w(FFN, HIDDEN)
        t[p + "mlp.up_proj.weight"] = w(FFN, HIDDEN)
        t[p + "mlp.down_proj.weight"] = w(HIDDEN, FFN)
        t[p + "input_layernorm.weight"] = 1 + w(HIDDEN)
        t[p + "post_attention_layernorm.weight"] = 1 + w(HIDDEN)
    # A buffer older checkpoints carry; the converter skips it and so does the recipe.
    t["model.layers.0.self_attn.rotary_emb.inv_freq"] = w(HEAD_DIM // 2)
    return t


#: The GGUF name of each base tensor, as convert_hf_to_gguf.py names them for llama (written
#: out here, independently of the gguf package's map that recipe_for_gguf uses).
def gguf_names() -> Dict[str, str]:
    m = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
    for i in range(LAYERS):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        m.update(
            {
                p + "self_attn.q_proj.weight": b + "attn_q.weight",
                p + "self_attn.k_proj.weight": b + "attn_k.weight",
                p + "self_attn.v_proj.weight": b + "attn_v.weight",
                p + "self_attn.o_proj.weight": b + "attn_output.weight",
                p + "mlp.gate_proj.weight": b + "ffn_gate.weight",
                p + "mlp.up_proj.weight": b + "ffn_up.weight",
                p + "mlp.down_proj.weight": b + "ffn_down.weight",
                p + "input_layernorm.weight": b + "attn_norm.weight",
                p + "post_attention_layernorm.weight": b + "ffn_norm.weight",
            }
        )
    return m


def llama_permute(w: np.ndarray, n_head: int, n_head_kv: int) -> np.ndarray:
    """LlamaModel.permute of convert_hf_to_gguf.py, in numpy."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(path: Path, tensors: Dict[str, np.ndarray], quantize: bool, extra: Dict[str, np.ndarray] = {}) -> Path:
    """The GGUF convert_hf_to_gguf.py writes from `tensors` (F32 norms; 2-D weights Q8_0 when
    `quantize`, else F32)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(LAYERS)
    w.add_context_length(128)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(1e-5)
    names = gguf_names()
    for name, data in tensors.items():
        if name not in names:
            continue  # the converter skips what its map does not name
        if name.endswith("q_proj.weight"):
            data = llama_permute(data, N_HEAD, N_HEAD)
        elif name.endswith("k_proj.weight"):
            data = llama_permute(data, N_HEAD, N_HEAD_KV)
        if quantize and data.ndim == 2:
            q = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(names[name], q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(names[name], np.ascontiguousarray(data, dtype=np.float32))
    for name, data in extra.items():
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory, cli):
    d = tmp_path_factory.mktemp("derive")
    ws = functools.partial(run, str(cli), env={**os.environ, "WEIGHTSEAL_TRUST": str(d / "empty-trust.toml")})
    keys = d / "keys"
    keys.mkdir()
    ws("keygen", "--out", str(keys / "publisher.key"))
    ws("keygen", "--out", str(keys / "other.key"))
    pubs = {k: keys / f"{k}.key.pub" for k in ("publisher", "other")}
    assert all(p.is_file() for p in pubs.values()), sorted(x.name for x in keys.iterdir())

    base = d / "base"
    base.mkdir()
    save_file(base_tensors(), str(base / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_attention_heads": N_HEAD,
        "num_key_value_heads": N_HEAD_KV,
        "num_hidden_layers": LAYERS,
        "vocab_size": VOCAB,
    }
    (base / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    ws("hash", str(base), "--name", "org/llama-base")
    ws("sign", str(base), "--key", str(keys / "publisher.key"), "--version", "1")

    # One byte of q_proj's data flipped after signing.
    tampered = shutil.copytree(base, d / "tampered")
    m = weightseal.Manifest.load(base / "weightseal.manifest")
    start = next(t.start for t in m.file("model.safetensors").tensors if t.name == "model.layers.1.self_attn.q_proj.weight")
    flip_byte(tampered / "model.safetensors", start + 5)

    releases = {}
    for name, quantize, extra in (
        ("f32", False, {}),
        ("q8_0", True, {}),
        # A tensor the converter computes (llama3 rope factors): no base tensor has it.
        ("rope", False, {"rope_freqs.weight": np.ones(HEAD_DIM // 2, dtype=np.float32)}),
    ):
        r = d / f"gguf-{name}"
        write_gguf(r / "model.gguf", base_tensors(), quantize, extra)
        ws("hash", str(r), "--name", f"org/llama-{name}")
        releases[name] = r

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(d))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield {
        "dir": d,
        "base": base,
        "tampered": tampered,
        "gguf": releases,
        "pub": pubs["publisher"],
        "other": pubs["other"],
        "url": f"http://127.0.0.1:{httpd.server_address[1]}",
        "cli": cli,
    }
    httpd.shutdown()
    httpd.server_close()


def expected_recipe() -> List[Dict[str, object]]:
    out = []
    for base_name, g in gguf_names().items():
        e: Dict[str, object] = {"name": g, "from": base_name}
        if base_name.endswith("q_proj.weight"):
            e["permute"] = N_HEAD
        elif base_name.endswith("k_proj.weight"):
            e["permute"] = N_HEAD_KV
        out.append(e)
    return sorted(out, key=lambda e: str(e["name"]).encode())


def write_recipe(world, text: str, name: str = "recipe.toml") -> Path:
    p = world["dir"] / name
    p.write_text(text)
    return p


# --- recipe_for_gguf -------------------------------------------------------------------------


def test_recipe_for_gguf_names_every_tensor_and_the_converters_permutation(world):
    text = weightseal.derive.recipe_for_gguf(world["base"], world["gguf"]["q8_0"] / "model.gguf")
    r = tomllib.loads(text)
    assert r["version"] == 1
    assert r["tensor"] == expected_recipe()
    # The library reads it back.
    assert weightseal.derive.recipe_for_gguf(world["base"] / "model.safetensors", world["gguf"]["q8_0"] / "model.gguf") == text


def test_recipe_for_gguf_permute_keyword(world):
    g = world["gguf"]["f32"] / "model.gguf"

    def permutes(**kw) -> Dict[str, int]:
        r = tomllib.loads(weightseal.derive.recipe_for_gguf(world["base"], g, **kw))
        return {t["name"]: t["permute"] for t in r["tensor"] if "permute" in t}

    assert permutes(permute=False) == {}
    assert permutes(permute=8) == {f"blk.{i}.attn_{x}.weight": 8 for i in range(LAYERS) for x in "qk"}
    assert permutes(permute=(4, 4)) == {f"blk.{i}.attn_{x}.weight": 4 for i in range(LAYERS) for x in "qk"}
    assert permutes(permute=True) == permutes()


def test_recipe_for_gguf_leaves_out_tensors_no_base_tensor_maps_to(world):
    r = tomllib.loads(weightseal.derive.recipe_for_gguf(world["base"], world["gguf"]["rope"] / "model.gguf"))
    assert "rope_freqs.weight" not in {t["name"] for t in r["tensor"]}
    assert r["tensor"] == expected_recipe()


# --- check -----------------------------------------------------------------------------------


def test_an_f32_gguf_is_reproduced_from_its_signed_base(world):
    # F32 -> F32 needs no rounding kernel: the rows are permuted and copied.
    g = world["gguf"]["f32"]
    recipe = write_recipe(world, weightseal.derive.recipe_for_gguf(world["base"], g / "model.gguf"))
    report = weightseal.derive.check(g, world["base"], key=world["pub"], recipe=recipe)
    assert isinstance(report, weightseal.DeriveReport)
    assert report.ok and bool(report), report.summary()
    assert report.reasons == ()
    assert report.base.ok and report.base.name == "org/llama-base"
    assert report.derived_name == "org/llama-f32"
    assert len(report.recipe_digest) == 64 and len(report.derived_digest) == 64
    assert len(report.tensors) == len(gguf_names())
    assert {t.status for t in report.tensors} == {"reproduced"}
    q = next(t for t in report.tensors if t.name == "blk.1.attn_k.weight")
    assert q.from_ == "model.layers.1.self_attn.k_proj.weight" and q.base_file == "model.safetensors"
    assert "permute 2 heads" in q.operation and q.file == "model.gguf" and q.dtype == "F32"
    assert report.unused_base_tensors == 1  # rotary_emb.inv_freq
    assert "REPRODUCED" in report.summary() and str(report) == report.summary()

    # The same recipe given as text has the same digest; the CLI gives the same answer.
    again = weightseal.derive.check(g, world["base"], key=world["pub"], recipe_text=recipe.read_text())
    assert again.ok and again.recipe_digest == report.recipe_digest
    p = subprocess.run(
        [str(world["cli"]), "derive", "check", str(g), "--from", str(world["base"]), "--key", str(world["pub"]), "--recipe", str(recipe), "--json"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    cli = json.loads(p.stdout)
    assert cli["ok"] is True and cli["recipe_digest"] == report.recipe_digest and cli["derived_digest"] == report.derived_digest


def test_a_derived_release_on_a_mirror_is_compared_with_its_manifest_but_not_reproduced(world):
    g = world["gguf"]["f32"]
    recipe = weightseal.derive.recipe_for_gguf(world["base"], g / "model.gguf")
    report = weightseal.derive.check(f"{world['url']}/{g.name}", world["base"], key=world["pub"], recipe_text=recipe)
    # Not on disk: its manifest's digests are compared, but a manifest's tensor digests are its
    # publisher's claims about bytes that were not read, so it is never reproduced.
    assert report.derived_files is None
    assert {t.status for t in report.tensors} == {"reproduced"}
    assert not report.ok and "not read" in report.summary(), report.summary()


def test_a_q8_0_gguf_is_reproduced_from_its_signed_base(world):
    g = world["gguf"]["q8_0"]
    recipe = write_recipe(world, weightseal.derive.recipe_for_gguf(world["base"], g / "model.gguf"), "q8.toml")
    report = weightseal.derive.check(g, world["base"], key=world["pub"], recipe=recipe)
    assert report.ok, report.summary()
    assert {t.status for t in report.tensors} == {"reproduced"}
    ops = {t.name: t.operation for t in report.tensors}
    assert ops["blk.0.attn_q.weight"] == "permute 4 heads, quantize F32 -> Q8_0"
    assert ops["blk.0.attn_norm.weight"] == "copy"


def test_without_the_recipe_the_renamed_tensors_are_not_derivable(world):
    report = weightseal.derive.check(world["gguf"]["f32"], world["base"], key=world["pub"])
    assert not report.ok and not report
    assert {t.status for t in report.tensors} == {"not-derivable"}
    assert "NOT reproduced" in report.summary() and "not derivable" in report.summary()


def test_a_tensor_the_converter_computed_is_not_derivable(world):
    g = world["gguf"]["rope"]
    report = weightseal.derive.check(g, world["base"], key=world["pub"], recipe_text=weightseal.derive.recipe_for_gguf(world["base"], g / "model.gguf"))
    assert not report.ok
    bad = [t for t in report.tensors if t.status != "reproduced"]
    assert [(t.name, t.status) for t in bad] == [("rope_freqs.weight", "not-derivable")]
    assert "rope_freqs.weight" in report.reasons[0]


def test_a_tampered_base_is_refused(world):
    g = world["gguf"]["f32"]
    recipe = weightseal.derive.recipe_for_gguf(world["base"], g / "model.gguf")
    # The signature is the publisher's; the bytes are not what it signed.
    report = weightseal.derive.check(g, world["tampered"], key=world["pub"], recipe_text=recipe)
    assert not report.ok
    bad = [t for t in report.tensors if t.status != "reproduced"]
    assert [(t.name, t.status) for t in bad] == [("blk.1.attn_q.weight", "base-modified")]
    assert any("do not match the base manifest" in r for r in report.reasons)
    # verify agrees that this base is not the signed one.
    with pytest.raises(weightseal.VerificationError):
        weightseal.verify(world["tampered"], key=world["pub"])


def refusal(call) -> type:
    with pytest.raises(weightseal.VerificationError) as e:
        call()
    return type(e.value)


@pytest.mark.parametrize(
    "trust",
    [
        pytest.param({"key": "other"}, id="wrong-key"),
        pytest.param({}, id="no-trust"),
        pytest.param({"key": "pub", "model": "org/other"}, id="model-pin"),
        pytest.param({"key": "pub", "digest": "00" * 32}, id="digest-pin"),
    ],
)
def test_a_refused_base_raises_what_verify_raises(world, trust):
    kw = {k: (str(world[v]) if k == "key" else v) for k, v in trust.items()}
    g = world["gguf"]["f32"]
    recipe = weightseal.derive.recipe_for_gguf(world["base"], g / "model.gguf")
    expected = refusal(lambda: weightseal.verify(world["base"], **kw))
    got = refusal(lambda: weightseal.derive.check(g, world["base"], recipe_text=recipe, **kw))
    assert got is expected
    if not trust:
        assert got is weightseal.TrustError
    # check=False: the report, refused, with nothing derived from the base.
    report = weightseal.derive.check(g, world["base"], recipe_text=recipe, check=False, **kw)
    assert not report.ok and not report.base.ok
    assert report.base_bytes == 0 and report.tensors == ()
    assert report.reasons[0].startswith("the base org/llama-base is not verified")


def test_integrity_only_base(world):
    g = world["gguf"]["f32"]
    recipe = weightseal.derive.recipe_for_gguf(world["base"], g / "model.gguf")
    report = weightseal.derive.check(g, world["base"], allow_unsigned=True, trust_store=False, recipe_text=recipe)
    assert report.ok and report.base.vouched == "integrity-only"


@pytest.mark.parametrize(
    "text,field,code",
    [
        ('version = 1\n[[tensor]]\nname = "blk.0.attn_q.weight"\nfrom = "x"\npermute = 0\n', "permute", "recipe-field"),
        ('version = 1\n[[tensor]]\nname = "blk.0.attn_q.weight"\nvia = ["Q8_0"]\n', "via", "recipe-field"),
        ("version = 2\n", "version", "recipe-version"),
        ('version = 1\n[[tensor]]\nname = "a"\nheads = 4\n', "heads", "recipe-syntax"),
    ],
)
def test_a_bad_recipe_names_the_field(world, text, field, code):
    g = world["gguf"]["f32"]
    with pytest.raises(weightseal.RecipeError) as e:
        weightseal.derive.check(g, world["base"], key=world["pub"], recipe_text=text)
    assert isinstance(e.value, ValueError) and isinstance(e.value, weightseal.WeightsealError)
    assert field in str(e.value) and e.value.code == code
    if code == "recipe-field":
        assert "blk.0.attn_q.weight" in str(e.value)
    # From a file, the message names the file too.
    p = write_recipe(world, text, "bad.toml")
    with pytest.raises(weightseal.RecipeError, match=field) as e:
        weightseal.derive.check(g, world["base"], key=world["pub"], recipe=p)
    assert str(p) in str(e.value)


def test_recipe_and_recipe_text_are_exclusive(world, tmp_path):
    with pytest.raises(weightseal.WeightsealError, match="not both"):
        weightseal.derive.check(world["gguf"]["f32"], world["base"], key=world["pub"], recipe=tmp_path / "r.toml", recipe_text="version = 1\n")
    with pytest.raises(FileNotFoundError):
        weightseal.derive.check(world["gguf"]["f32"], world["base"], key=world["pub"], recipe=tmp_path / "missing.toml")
