"""Load a Hugging Face model only after weightseal has verified it.

    python verified_from_pretrained.py ORG/NAME PUBLISHER.pub

1. `weightseal.hub.verify_snapshot` finds the cached snapshot (HF_HUB_CACHE, HF_HOME or
   ~/.cache/huggingface/hub), refuses links that leave the repository, and verifies every file
   against the publisher's signed manifest (the snapshot's weightseal.manifest).
2. `from_pretrained` is pointed at that exact snapshot directory, offline.
3. Because from_pretrained reads the files again, the weights are then replaced by tensors from
   weightseal's verified loader, which hashes the bytes it reads: a file swapped between the
   check and the load is refused, not loaded.

transformers and torch are needed by this example only, not by weightseal.
"""

import sys

import weightseal
import weightseal.hub


def load(repo_id: str, publisher_key: str):
    from transformers import AutoModel  # imported here: not a weightseal requirement

    report = weightseal.hub.verify_snapshot(repo_id, key=publisher_key)  # raises if not verified
    print(report.summary(), file=sys.stderr)
    model = AutoModel.from_pretrained(report.path, local_files_only=True)

    # The loader that refuses weights that fail: every tensor checked as it is read.
    state = weightseal.hub.load_safetensors(repo_id, key=publisher_key, framework="pt")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise weightseal.VerificationError(f"tensors the model does not have: {unexpected}")
    return model


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        load(sys.argv[1], sys.argv[2])
    except weightseal.WeightsealError as e:
        sys.exit(f"refusing to load {sys.argv[1]}: {e}")
