"""Derivations proven by recomputation: a cast or quantized release (an F16 copy, a GGUF made
by llama.cpp's converter) re-derived, tensor by tensor, from the verified bytes of its signed
base, and compared with what the derived release records.

::

    import weightseal.derive

    recipe = weightseal.derive.recipe_for_gguf("llama-base/", "model-q8_0.gguf")
    report = weightseal.derive.check("model-q8_0.gguf", "llama-base/", key="meta.pub", recipe_text=recipe)
    print(report.summary())          # REPRODUCED, or which tensors differ and why
    assert report.ok

The base is judged first, with the same trust keywords and the same one judge as
:func:`weightseal.verify`; nothing is derived from a base that is not verified. The answer,
``report.ok``, is the library's (``weightseal::derive``); this module only passes arguments
and builds the typed report. ``weightseal derive check DERIVED --from BASE`` is the same check
from the command line.
"""

from __future__ import annotations

import json
import os
import re
import struct
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import _native
from ._types import DeriveReport
from ._util import PathLike, opt_path, trust_keywords

__all__ = ["check", "recipe_for_gguf", "DeriveReport"]


def check(
    derived: Union[str, PathLike],
    base: PathLike,
    *,
    key: Union[None, PathLike, Iterable[PathLike]] = None,
    policy: Optional[PathLike] = None,
    trust_store: bool = True,
    model: Optional[str] = None,
    digest: Optional[str] = None,
    allow_unsigned: bool = False,
    log_key: Optional[str] = None,
    witnesses: Optional[Iterable[str]] = None,
    quorum: Optional[int] = None,
    recipe: Optional[PathLike] = None,
    recipe_text: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
    timeout: Optional[float] = None,
    check: bool = True,
    progress: Optional[Any] = None,
) -> DeriveReport:
    """Checks that ``derived`` is reproduced from the signed release ``base``.

    ``derived`` is a model directory, a single model file (with its
    ``FILE.weightseal.manifest``), or the ``http(s)://`` URL of a mirror serving it (its
    manifest is read, its bytes are not; ``headers`` and ``timeout`` as in
    :func:`weightseal.fetch`). It needs a manifest (``weightseal.hash``), not a signature: what
    vouches for it is the recomputation. ``base`` is a directory or model file on disk, with
    its manifest and attestations.

    The base is judged exactly as :func:`weightseal.verify` judges it, with the same trust
    keywords (``key``, ``policy``, ``trust_store``, ``model``, ``digest``, ``allow_unsigned``,
    ``log_key``, ``witnesses``, ``quorum``). When the judge refuses it, this raises what
    :func:`weightseal.verify` raises (:class:`~weightseal.errors.TrustError` when nobody
    vouches, :class:`~weightseal.errors.SignatureError`, or
    :class:`~weightseal.errors.VerificationError` for a pin), with the base's
    :class:`~weightseal.Report` as ``report``; with ``check=False`` the report is returned
    instead, its ``ok`` False.

    Then every derived tensor is recomputed from the base tensor the recipe names (``recipe``:
    a TOML file; ``recipe_text``: the same text; default: the base tensor of the same name,
    the operation inferred from the two dtypes) and compared. That outcome is
    ``report.ok`` (also ``bool(report)``): a tensor that differs, is not derivable, or whose
    base bytes are not the signed ones makes it False, with ``reasons``; it is returned, not
    raised. A refused recipe raises :class:`~weightseal.errors.RecipeError` (a ValueError)
    naming the field.
    """
    from . import _raise_unless_ok  # type: ignore[attr-defined]

    text = _native.derive_check(
        derived if isinstance(derived, str) else os.fsdecode(derived),
        os.fsdecode(base),
        trust_keywords(key, policy, trust_store, model, digest, log_key, witnesses, quorum, allow_unsigned),
        recipe=opt_path(recipe),
        recipe_text=recipe_text,
        headers=dict(headers or {}),
        timeout=timeout,
        progress=progress,
    )
    report = DeriveReport._from_json(text)
    if check:
        # The base's verdict is the one judge's: refused, it raises as verify raises.
        _raise_unless_ok(report.base)
    return report


# --- Recipes for llama.cpp's HF -> GGUF converter ------------------------------------------

#: The GGUF architectures whose HF converter class permutes the rows of the Q and K
#: projections (llama.cpp's ``convert_hf_to_gguf.py``): ``LlamaModel.modify_tensors`` (kept by
#: the subclasses that leave ``undo_permute = True``) does it for base tensors whose names end
#: in ``q_proj.weight``/``q_proj.bias`` (with ``num_attention_heads``) and
#: ``k_proj.weight``/``k_proj.bias`` (with ``num_key_value_heads``);
#: ``MiniCPMModel.modify_tensors`` for ``q_proj.weight``/``k_proj.weight`` only. Not here
#: (not permuted): ``llama4`` and ``apertus`` (``undo_permute = False``), and every other
#: architecture. Mistral's own consolidated format (``MistralModel``, ``undo_permute = False``)
#: is written as ``llama`` but names its tensors ``attention.wq``/``wk``: the name test keeps it
#: unpermuted.
_PERMUTED: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    arch: (("q_proj.weight", "q_proj.bias"), ("k_proj.weight", "k_proj.bias"))
    for arch in ("llama", "arcee", "llama-embed", "smollm3", "granite", "granitemoe", "granitehybrid")
}
_PERMUTED["minicpm"] = (("q_proj.weight",), ("k_proj.weight",))

_BLOCK = re.compile(r"^blk\.(\d+)\.")


def _field(reader: Any, key: str) -> Any:
    """A GGUF metadata value (a str, a number or a list), or None."""
    f = reader.fields.get(key)
    if f is None:
        return None
    if hasattr(f, "contents"):
        return f.contents()
    import gguf

    # Older gguf packages: the value parts by hand.
    if f.types and f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    if f.types and f.types[0] == gguf.GGUFValueType.ARRAY:
        return [f.parts[i].tolist()[0] for i in f.data]
    return f.parts[f.data[0]].tolist()[0]


def _safetensors_names(base: PathLike) -> List[str]:
    """The tensor names of a safetensors file, or of every ``*.safetensors`` file of a
    directory, read from their headers (8-byte little-endian length, then JSON)."""
    root = os.fsdecode(base)
    if os.path.isdir(root):
        files = sorted(os.path.join(root, f) for f in os.listdir(root) if f.endswith(".safetensors"))
    else:
        files = [root]
    if not files:
        raise FileNotFoundError(f"{root}: no .safetensors files")
    names: List[str] = []
    for path in files:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                raise ValueError(f"{path}: not a safetensors file (shorter than its header length)")
            (n,) = struct.unpack("<Q", head)
            if n > 100 << 20:
                raise ValueError(f"{path}: a header of {n} bytes is not a safetensors header")
            header = json.loads(fh.read(n))
        names.extend(k for k in header if k != "__metadata__")
    return names


def _heads(value: Any, block: Optional[int], what: str) -> Optional[int]:
    """A head count: the value, or its entry for ``block`` when the GGUF records one per layer."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if block is None or block >= len(value):
            raise ValueError(f"{what} is recorded per layer; no entry for this tensor's layer")
        value = value[block]
    return int(value)


def recipe_for_gguf(
    base: PathLike,
    gguf_file: PathLike,
    *,
    permute: Union[None, bool, int, Tuple[int, int]] = None,
) -> str:
    """The recipe (TOML, for :func:`check`'s ``recipe``/``recipe_text`` or ``weightseal derive
    check --recipe``) of a GGUF file that llama.cpp's ``convert_hf_to_gguf.py`` made from the
    Hugging Face release ``base`` (a directory of ``*.safetensors`` files, or one file).

    It names, for each GGUF tensor, the base tensor it comes from and the Q/K row permutation
    the converter applied; the dtypes are not named (the check infers the cast or quantization
    from the two dtypes). Needs the ``gguf`` package (llama.cpp's ``gguf-py``).

    Names: the GGUF's ``general.architecture`` and ``{arch}.block_count`` select the gguf
    package's own name map, ``gguf.TensorNameMap(arch, block_count)`` (the table the converter
    itself uses, never a copy of it); each base tensor name (from the safetensors headers) is
    mapped with ``get_name(name, try_suffixes=(".weight", ".bias"))``, and an entry is written
    for every GGUF tensor found this way. Two base tensors mapping to one GGUF tensor raise
    ValueError. GGUF tensors that no base tensor maps to (tensors the converter computes, such
    as ``rope_freqs.weight``, or merged experts) are left out of the recipe: the check then
    takes them from a base tensor of the same name, finds none, and reports them not
    derivable, so such a GGUF is not reported reproduced.

    Permutation (``permute = H`` entries): the converter's ``LlamaModel.modify_tensors``
    reorders the rows of the Q and K projections for llama.cpp's rotary layout
    (``reshape(H, 2, rows // H // 2, ...).swapaxes(1, 2)``) for the architectures ``llama``,
    ``arcee``, ``llama-embed``, ``smollm3``, ``granite``, ``granitemoe`` and
    ``granitehybrid`` (base names ending in ``q_proj.weight``/``.bias`` and
    ``k_proj.weight``/``.bias``), and ``MiniCPMModel`` for ``minicpm`` (``.weight`` only). Q is
    permuted with ``H = n_head`` and K with ``H = n_head_kv`` (the converter's
    ``permute(w, n_head, n_head_kv)`` takes ``n_head_kv`` when it differs from ``n_head``):
    read from the GGUF's ``{arch}.attention.head_count`` and ``{arch}.attention.head_count_kv``
    (per layer when recorded per layer; ``head_count`` when there is no ``head_count_kv``).
    ``llama4``, ``apertus`` and every other architecture are not permuted, nor are Mistral
    consolidated checkpoints (``attention.wq`` names). ``permute`` overrides the rule:
    ``False`` permutes nothing; ``True`` permutes the Q/K tensors (by the name rule above)
    whatever the architecture, with the GGUF's head counts; an int ``H`` permutes them with
    ``H`` heads for both Q and K, and a pair ``(Hq, Hk)`` with ``Hq`` for Q and ``Hk`` for K.
    """
    try:
        import gguf
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("weightseal.derive.recipe_for_gguf needs the gguf package (pip install gguf)") from e

    path = os.fsdecode(gguf_file)
    reader = gguf.GGUFReader(path)
    arch = _field(reader, "general.architecture")
    if not isinstance(arch, str):
        raise ValueError(f"{path}: no general.architecture")
    arch_enum = next((k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch), None)
    if arch_enum is None:
        raise ValueError(f"{path}: architecture {arch!r} is not one the gguf package {gguf.__name__} knows")
    n_blocks = _field(reader, f"{arch}.block_count")
    if n_blocks is None:
        raise ValueError(f"{path}: no {arch}.block_count")
    tensor_map = gguf.TensorNameMap(arch_enum, int(n_blocks))
    in_gguf = {t.name for t in reader.tensors}

    head_count = _field(reader, f"{arch}.attention.head_count")
    head_count_kv = _field(reader, f"{arch}.attention.head_count_kv")
    if permute is False:
        rule: Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]] = None
    elif permute is None:
        rule = _PERMUTED.get(arch)
    else:
        rule = _PERMUTED.get(arch, (("q_proj.weight", "q_proj.bias"), ("k_proj.weight", "k_proj.bias")))

    def heads_for(base_name: str, gguf_name: str) -> Optional[int]:
        if rule is None:
            return None
        q_suffixes, k_suffixes = rule
        is_q, is_k = base_name.endswith(q_suffixes), base_name.endswith(k_suffixes)
        if not (is_q or is_k):
            return None
        if isinstance(permute, tuple):
            return int(permute[0] if is_q else permute[1])
        if isinstance(permute, int) and not isinstance(permute, bool):
            return int(permute)
        m = _BLOCK.match(gguf_name)
        block = int(m.group(1)) if m else None
        n_head = _heads(head_count, block, f"{arch}.attention.head_count")
        if n_head is None:
            raise ValueError(f"{path}: no {arch}.attention.head_count to permute {base_name} with")
        if is_q:
            return n_head
        # LlamaModel.permute(w, n_head, n_head_kv): n_head_kv when it is given and differs.
        n_kv = _heads(head_count_kv, block, f"{arch}.attention.head_count_kv")
        return n_kv if n_kv else n_head

    entries: Dict[str, Tuple[str, Optional[int]]] = {}
    for name in sorted(_safetensors_names(base)):
        g = tensor_map.get_name(name, try_suffixes=(".weight", ".bias"))
        if g is None or g not in in_gguf:
            continue
        if g in entries:
            raise ValueError(f"base tensors {entries[g][0]!r} and {name!r} both map to the GGUF tensor {g!r}")
        entries[g] = (name, heads_for(name, g))

    q = json.dumps  # TOML basic strings accept JSON's escapes for these names
    out = ["version = 1", ""]
    for g in sorted(entries, key=lambda s: s.encode()):
        src, heads = entries[g]
        out.append("[[tensor]]")
        out.append(f"name = {q(g)}")
        out.append(f"from = {q(src)}")
        if heads is not None:
            out.append(f"permute = {heads}")
        out.append("")
    return "\n".join(out)
