"""weightseal.fetch from a real HTTP server on 127.0.0.1 (Python's http.server, which ignores
Range requests: the fetch streams each file and still verifies every chunk)."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

import weightseal
from conftest import flip_byte


@pytest.fixture
def server(signed):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(signed))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", signed
    httpd.shutdown()
    httpd.server_close()


def test_fetch_downloads_verifies_and_writes_the_manifest_beside(server, keys, tmp_path):
    url, src = server
    dest = tmp_path / "dest"
    seen = []
    r = weightseal.fetch(url, dest, key=keys["acme"][1], model="org/model", progress=lambda d, t: seen.append((d, t)))
    assert isinstance(r, weightseal.FetchResult)
    assert r.ok and r.name == "org/model" and r.signatures.ok and r.downloaded_any
    assert {f.path for f in r.files} == {"config.json", "model.safetensors", "tokenizer.json"}
    for f in r.files:
        assert (dest / f.path).read_bytes() == (src / f.path).read_bytes()
        assert f.status == "ok" and f.ok
    assert (dest / "weightseal.manifest").read_bytes() == (src / "weightseal.manifest").read_bytes()
    assert seen and seen[-1][0] == seen[-1][1]
    # What was fetched verifies on its own, and a second fetch finds everything present.
    assert weightseal.verify(dest, key=keys["acme"][1]).ok
    again = weightseal.fetch(url, dest, key=keys["acme"][1])
    assert {f.status for f in again.files} == {"present"} and again.downloaded == 0


def test_a_tampered_file_never_reaches_its_final_path(server, keys, tmp_path):
    url, src = server
    flip_byte(src / "model.safetensors", 400)
    dest = tmp_path / "dest"
    with pytest.raises(weightseal.VerificationError) as e:
        weightseal.fetch(url, dest, key=keys["acme"][1])
    r = e.value.report
    bad = [f for f in r.files if not f.ok]
    assert [f.path for f in bad] == ["model.safetensors"] and "do not match the manifest" in bad[0].error
    assert not (dest / "model.safetensors").exists()
    assert not (dest / "weightseal.manifest").exists()


def test_nobody_vouching_refuses_and_a_wrong_key_downloads_nothing(server, keys, tmp_path):
    url, _ = server
    with pytest.raises(weightseal.TrustError, match="allow_unsigned"):
        weightseal.fetch(url, tmp_path / "a")
    assert not (tmp_path / "a").exists()
    with pytest.raises(weightseal.SignatureError) as e:
        weightseal.fetch(url, tmp_path / "b", key=keys["other"][1])
    assert not e.value.report.downloaded_any
    assert not (tmp_path / "b" / "model.safetensors").exists()
    r = weightseal.fetch(url, tmp_path / "c", allow_unsigned=True)
    assert r.ok and r.signatures is None


def test_network_and_manifest_errors(tmp_path, keys):
    with pytest.raises(weightseal.FetchError, match="not an http or https URL"):
        weightseal.fetch("ftp://example/x", tmp_path / "d", key=keys["acme"][1])
    # A port nobody listens on.
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(weightseal.FetchError, match="connection refused"):
        weightseal.fetch(f"http://127.0.0.1:{port}/m", tmp_path / "d", key=keys["acme"][1], timeout=2)


def test_a_url_naming_one_file_fetches_that_single_file_model_with_its_evidence(keys, tmp_path):
    """fetch("URL/FILE.safetensors", DEST): the file's evidence is found beside it on the server
    by the naming rule of hash and verify, and lands beside DEST/FILE, so verify(DEST/FILE) passes;
    nothing else in DEST is judged (the same library call as the CLI's fetch)."""
    from conftest import write_model

    served = write_model(tmp_path / "served")
    single = served / "model.safetensors"
    weightseal.hash(single)
    weightseal.sign(single, keys["acme"][0])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        dest = tmp_path / "models"
        dest.mkdir()
        (dest / "notes.txt").write_text("mine")
        url = f"http://127.0.0.1:{httpd.server_address[1]}/model.safetensors"
        r = weightseal.fetch(url, dest, key=keys["acme"][1])
        assert r.ok and [f.path for f in r.files] == ["model.safetensors"]
        for name in ["model.safetensors", "model.safetensors.weightseal.manifest", "model.safetensors.weightseal.intoto.jsonl"]:
            assert (dest / name).read_bytes() == (served / name).read_bytes(), name
        assert not (dest / "weightseal.manifest").exists() and not (dest / "config.json").exists()
        assert (dest / "notes.txt").read_text() == "mine"
        assert weightseal.verify(dest / "model.safetensors", key=keys["acme"][1]).ok
    finally:
        httpd.shutdown()
        httpd.server_close()
