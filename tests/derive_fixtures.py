"""Releases for tests/derive.rs, made by the official writers and the independent oracle.

    python tests/derive_fixtures.py OUT_DIR

Writes, with fixed seeds (nothing here comes from weightseal's own code):
  base/            an F32 llama-like model in two safetensors shards (safetensors.numpy),
                   config.json, tokenizer.json
  other-base/      the same names and shapes, other values
  bf16-base/       a BF16 model in one shard (BF16 bytes from gguf.quants BF16, ggml's rounding)
  f16/             base cast to F16 (numpy astype), one shard: re-sharded, config copied
  bf16/            base cast to BF16 (gguf.quants BF16), one shard
  bf16-truncated/  as bf16/, but one tensor truncated (top 16 bits) instead of rounded
  gguf-<TYPE>.gguf base converted to GGUF as llama.cpp does: renamed, Q/K rows permuted,
                   2-D weights quantized with gguf.quants.quantize, norms F32
                   (TYPE: Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 MXFP4)
  bf16-q8_0.gguf   bf16-base quantized to Q8_0 through F32, as llama.cpp does
  q4_k.gguf        one 2-D weight stored as Q4_K (bytes that gguf-py cannot make: k-quants)
  recipe.toml      the HF -> GGUF recipe (names, permutations)
  recipe-bf16.toml the recipe for bf16-q8_0.gguf
"""

import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from safetensors import TensorSpec, serialize_file
from safetensors.numpy import save_file

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

N_HEAD, N_KV, DIM, FF, VOCAB, LAYERS = 4, 2, 64, 128, 96, 2
HEAD = DIM // N_HEAD


def shapes():
    s = {"model.embed_tokens.weight": (VOCAB, DIM), "model.norm.weight": (DIM,), "lm_head.weight": (VOCAB, DIM)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        s[p + "self_attn.q_proj.weight"] = (DIM, DIM)
        s[p + "self_attn.k_proj.weight"] = (N_KV * HEAD, DIM)
        s[p + "self_attn.v_proj.weight"] = (N_KV * HEAD, DIM)
        s[p + "self_attn.o_proj.weight"] = (DIM, DIM)
        s[p + "mlp.gate_proj.weight"] = (FF, DIM)
        s[p + "mlp.up_proj.weight"] = (FF, DIM)
        s[p + "mlp.down_proj.weight"] = (DIM, FF)
        s[p + "input_layernorm.weight"] = (DIM,)
        s[p + "post_attention_layernorm.weight"] = (DIM,)
    # A tensor with rows of 256, so that a k-quant (block 256) can hold it.
    s["model.extra.weight"] = (4, 256)
    return s


def values(seed):
    rng = np.random.default_rng(seed)
    t = {}
    for name, shape in shapes().items():
        x = rng.normal(0, 0.05, size=shape).astype(np.float32)
        if len(shape) == 2:
            x[0, :32] = 0.0  # an all-zero block
            x[1, :32] = np.float32(0.5) * np.arange(32, dtype=np.float32) / 16  # exact ties
            x[2, 0], x[2, 1] = np.float32(0.1), np.float32(-0.1)  # the max with both signs
            x[3, :32] *= np.float32(1e-38)  # subnormal scales
        t[name] = x
    return t


def save_sharded(d, tensors, n_shards):
    os.makedirs(d, exist_ok=True)
    names = sorted(tensors)
    per = (len(names) + n_shards - 1) // n_shards
    weight_map = {}
    for i in range(n_shards):
        part = names[i * per:(i + 1) * per]
        fname = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors" if n_shards > 1 else "model.safetensors"
        save_file({k: tensors[k] for k in part}, os.path.join(d, fname))
        for k in part:
            weight_map[k] = fname
    if n_shards > 1:
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2, sort_keys=True)


def save_raw(d, tensors, dtype):
    """Tensors given as raw little-endian bytes of `dtype` (safetensors' own serializer)."""
    os.makedirs(d, exist_ok=True)
    keep = {k: np.frombuffer(data, dtype=np.uint8).copy() for k, (_, data) in tensors.items()}
    serialize_file(
        {k: TensorSpec(dtype=dtype, shape=tuple(shape), data_ptr=keep[k].ctypes.data, data_len=keep[k].nbytes)
         for k, (shape, _) in tensors.items()},
        os.path.join(d, "model.safetensors"),
    )


def common_files(d):
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"architectures": ["LlamaForCausalLM"], "hidden_size": DIM, "num_attention_heads": N_HEAD,
                   "num_key_value_heads": N_KV, "num_hidden_layers": LAYERS}, f, indent=2)
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump({"model": {"type": "BPE", "vocab": {"a": 0}}}, f)


def bf16_bytes(x):
    return gguf.quants.quantize(x.astype(np.float32), T.BF16).tobytes()


def bf16_to_f32(b, shape):
    return (np.frombuffer(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)


def permute(w, n_head, n_head_kv):
    # llama.cpp convert_hf_to_gguf.py, LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    if hf == "model.extra.weight":
        return "extra.weight"
    parts = hf.split(".")
    i, rest = parts[2], ".".join(parts[3:])
    m = {"self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
         "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
         "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
         "mlp.down_proj.weight": "ffn_down.weight", "input_layernorm.weight": "attn_norm.weight",
         "post_attention_layernorm.weight": "ffn_norm.weight"}
    return f"blk.{i}.{m[rest]}"


def heads_for(hf):
    if hf.endswith("q_proj.weight"):
        return N_HEAD  # permute(q, n_head, n_head)
    if hf.endswith("k_proj.weight"):
        return N_KV  # permute(k, n_head, n_head_kv): n_head_kv heads
    return None


def write_recipe(path):
    with open(path, "w") as f:
        f.write("version = 1\n")
        for hf in sorted(shapes()):
            f.write(f"\n[[tensor]]\nname = \"{gguf_name(hf)}\"\nfrom = \"{hf}\"\n")
            h = heads_for(hf)
            if h:
                f.write(f"permute = {h}\n")


def write_gguf(path, tensors, qtype, k_quant=None):
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(LAYERS)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_KV)
    w.add_embedding_length(DIM)
    for hf in sorted(tensors):
        x = tensors[hf]
        if hf.endswith("q_proj.weight"):
            x = permute(x, N_HEAD, N_HEAD)
        elif hf.endswith("k_proj.weight"):
            x = permute(x, N_HEAD, N_KV)
        name = gguf_name(hf)
        if k_quant is not None and hf == "model.extra.weight":
            rng = np.random.default_rng(7)
            block, size = gguf.GGML_QUANT_SIZES[k_quant]
            raw = rng.integers(0, 256, size=(x.shape[0], x.shape[1] // block * size), dtype=np.uint8)
            w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=k_quant)
        elif x.ndim == 2:
            q = gguf.quants.quantize(x.astype(np.float32), qtype)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)
        else:
            w.add_tensor(name, x.astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


base = values(1)
save_sharded(os.path.join(out, "base"), base, 2)
common_files(os.path.join(out, "base"))
save_sharded(os.path.join(out, "other-base"), values(2), 2)
common_files(os.path.join(out, "other-base"))

save_sharded(os.path.join(out, "f16"), {k: v.astype(np.float16) for k, v in base.items()}, 1)
common_files(os.path.join(out, "f16"))
save_raw(os.path.join(out, "bf16"), {k: (v.shape, bf16_bytes(v)) for k, v in base.items()}, "bfloat16")
common_files(os.path.join(out, "bf16"))
trunc = {k: (v.shape, bf16_bytes(v)) for k, v in base.items()}
victim = "model.layers.1.mlp.up_proj.weight"
trunc[victim] = (base[victim].shape, (base[victim].view(np.uint32) >> 16).astype(np.uint16).tobytes())
save_raw(os.path.join(out, "bf16-truncated"), trunc, "bfloat16")
common_files(os.path.join(out, "bf16-truncated"))

for qt in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.MXFP4):
    write_gguf(os.path.join(out, f"gguf-{qt.name}.gguf"), base, qt)
write_gguf(os.path.join(out, "q4_k.gguf"), base, T.Q8_0, k_quant=T.Q4_K)
write_recipe(os.path.join(out, "recipe.toml"))

# A BF16 base, and its Q8_0 conversion through F32 (convert_hf_to_gguf: bf16 -> float32).
bf = {k: bf16_bytes(v) for k, v in values(3).items()}
save_raw(os.path.join(out, "bf16-base"), {k: (shapes()[k], b) for k, b in bf.items()}, "bfloat16")
common_files(os.path.join(out, "bf16-base"))
write_gguf(os.path.join(out, "bf16-q8_0.gguf"), {k: bf16_to_f32(b, shapes()[k]) for k, b in bf.items()}, T.Q8_0)
write_recipe(os.path.join(out, "recipe-bf16.toml"))
print("ok")
