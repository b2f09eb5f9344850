#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from testvectors/: every manifest, tensor file and envelope the
vectors hold, plus a few hand-made policies and HTTP responses. Run from the repository root:
python3 fuzz/make-seeds.py"""
import glob, hashlib, os, struct

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
seeds = os.path.join(root, "fuzz", "seeds")

def put(target, data):
    d = os.path.join(seeds, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha256(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def lines(path):
    with open(path, encoding="utf-8") as f:
        for l in f:
            if ": " in l and not l.startswith("#"):
                k, v = l.rstrip("\n").split(": ", 1)
                yield k, v

for p in sorted(glob.glob(os.path.join(root, "testvectors/manifest/*.txt"))):
    for k, v in lines(p):
        if k == "manifest":
            put("manifest", bytes.fromhex(v))
for p in sorted(glob.glob(os.path.join(root, "testvectors/formats/*.txt"))):
    fmt = dict(lines(p)).get("format")
    for k, v in lines(p):
        if k == "file" and fmt in ("safetensors", "gguf"):
            put(fmt, bytes.fromhex(v))
for p in sorted(glob.glob(os.path.join(root, "testvectors/attestation/*.txt"))):
    envs = [v for k, v in lines(p) if k == "envelope"]
    if envs:
        put("envelope", ("\n".join(envs) + "\n").encode())

pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----"
for text in [
    '[keys.a]\npublic_key_pem = """%s"""\nroles = ["publisher"]\n[roles.publisher]\nthreshold = 1\n' % pem,
    'model = "org/m"\nmax_age = "90d"\nrevoked = ["%s"]\nversion_roles = ["publisher"]\nseparation_of_duties = false\n[keys.a]\npublic_key_pem = ["""%s"""]\nroles = ["publisher", "auditor"]\nnot_before = "2026-01-01T00:00:00Z"\n[roles.publisher]\nthreshold = 1\n' % ("0" * 64, pem),
    'state_file = "s.json"\n[keys.a]\npublic_key = "a.pub"\nroles = ["publisher"]\n[roles.publisher]\nthreshold = 1\n',
]:
    put("policy", text.encode())

# response: first u32, span u16, size u32, chunk-size selector, header length, header, body.
def response(first, span, size, sel, header, body):
    return struct.pack("<IHIBB", first, span, size, sel, len(header)) + header + body
body = bytes(range(256)) * 8
put("response", response(0, 2047, 2048, 0, b"bytes 0-2047/2048", body))
put("response", response(1024, 1023, 2048, 1, b"bytes 1024-2047/*", body[1024:]))
put("response", response(0, 10, 100, 0, b"bytes 0-10/99", body[:100]))
