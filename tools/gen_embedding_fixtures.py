#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for dora4j's LoRA / DoRA layers on embedding tables.

Run from the repository root with Debian's torch:  /usr/bin/python3 tools/gen_embedding_fixtures.py

PEFT itself is not a dependency. Its embedding layers are re-implemented below in torch, float64, statement by
statement from huggingface/peft at 5d602fd (August 2026):
  - src/peft/tuners/lora/layer.py     Embedding.forward (vanilla LoRA: after_A = F.embedding(x, lora_embedding_A.T),
                                      result + (after_A @ lora_embedding_B.T) * scaling; no dropout on embeddings),
                                      Embedding.get_delta_weight (transpose(B @ A, True) * scaling) for merge;
  - src/peft/tuners/lora/variants.py  DoraEmbeddingVariant.forward (result = mag_norm_scale * result + dora_result),
                                      merge (dora_factor = m / get_weight_norm(W, ΔW.T, 1), W' = dora_factor.view(1, -1) * (W + ΔW));
  - src/peft/tuners/lora/dora.py      DoraEmbeddingLayer.forward / get_lora_weight ((lora_A @ lora_B).T), and
                                      DoraLinearLayer.get_weight_norm with fan_in_fan_out=True (the norm over the vocabulary).
A zero-norm column is guarded to scale 0 (PEFT divides unguarded). Every case is cross-checked against the formulas
written out by hand in numpy. Everything is seeded; a rerun rewrites identical bytes. See tools/README.md.
"""
import math
import zlib

import numpy as np
import torch
import torch.nn.functional as F

import json

from gen_peft_fixtures import FIXTURES, MERGE_DIR, adapter_config, f32, read_safetensors, write_atomic, write_safetensors

EMBEDDING_DIR = FIXTURES / "embedding"
F64 = torch.float64


def guarded_scale(magnitude, norm):
    zero = norm == 0
    return torch.where(zero, torch.zeros_like(magnitude), magnitude / torch.where(zero, torch.ones_like(norm), norm))


def peft_embedding_forward(ids, weight, lora_embedding_A, lora_embedding_B, scaling, magnitude=None):
    """layer.py Embedding.forward with DoraEmbeddingVariant.forward, one active adapter."""
    result = F.embedding(ids, weight)
    embedding_A = lora_embedding_A.T                              # [vocab, r]
    embedding_B = lora_embedding_B.T                              # [r, hidden]
    if magnitude is None:
        after_A = F.embedding(ids, embedding_A)
        return result + (after_A @ embedding_B) * scaling
    lora_weight = (embedding_A @ embedding_B).T                   # DoraEmbeddingLayer.get_lora_weight: [hidden, vocab]
    weight_norm = torch.linalg.norm(weight.T + scaling * lora_weight.detach(), dim=1).detach()   # fan_in_fan_out=True
    mag_norm_scale = guarded_scale(magnitude, weight_norm)
    result_dora = mag_norm_scale * (F.embedding(ids, embedding_A) @ embedding_B) * scaling
    return mag_norm_scale * result + result_dora


def merged_table(weight, lora_embedding_A, lora_embedding_B, scaling, magnitude=None):
    """Embedding.get_delta_weight and DoraEmbeddingVariant.merge_safe."""
    delta = (lora_embedding_B @ lora_embedding_A).T * scaling     # transpose(B @ A, True) * scaling: [vocab, hidden]
    if magnitude is None:
        return weight + delta
    weight_norm = torch.linalg.norm(weight.T + delta.T, dim=1)    # get_weight_norm(orig_weight, delta_weight.T, scaling=1)
    return guarded_scale(magnitude, weight_norm).view(1, -1) * (weight + delta)


def hand_reference(ids, W, A, B, s, m, g):
    """Forward and detached-norm gradients in numpy, without autograd."""
    u = A[:, ids].T                                               # [t, r]
    v = W[ids] + s * u @ B.T                                      # [t, hidden]
    if m is None:
        scale = np.ones(W.shape[1])
        y = v
    else:
        n = np.linalg.norm(W + s * (B @ A).T, axis=0)
        scale = np.where(n == 0, 0.0, m / np.where(n == 0, 1.0, n))
        y = scale * v
    gv = g * scale
    gA = np.zeros_like(A)
    np.add.at(gA.T, ids, s * gv @ B)
    grads = {"grad_lora_embedding_A": gA, "grad_lora_embedding_B": s * gv.T @ u}
    if m is not None:
        grads["grad_magnitude"] = np.where(n == 0, 0.0, (g * v).sum(axis=0) / np.where(n == 0, 1.0, n))
    return y, grads


def case(method, r, vocab, hidden, tokens, alpha, rslora=False, zero_col=None):
    name = f"{method}_embedding_r{r}_{vocab}x{hidden}_t{tokens}" + ("_rslora" if rslora else "") \
        + ("_zeronorm" if zero_col is not None else "")
    return dict(name=name, method=method, r=r, vocab=vocab, hidden=hidden, tokens=tokens, alpha=alpha, rslora=rslora,
                zero_col=zero_col)


CASES = [
    case("lora", 1, 12, 8, 5, 2),
    case("lora", 8, 50, 24, 9, 16, rslora=True),
    case("lora", 64, 96, 40, 7, 16),
    case("dora", 1, 12, 8, 5, 2),
    case("dora", 4, 37, 23, 6, 8),
    case("dora", 16, 50, 24, 9, 32, rslora=True),
    case("dora", 128, 140, 20, 8, 16),
    case("dora", 4, 20, 10, 6, 8, zero_col=3),
]


def run_case(c):
    rng = np.random.default_rng(zlib.crc32(c["name"].encode()))
    r, vocab, hidden, t = c["r"], c["vocab"], c["hidden"], c["tokens"]
    s = c["alpha"] / math.sqrt(r) if c["rslora"] else c["alpha"] / r
    W = f32(rng.normal(0.0, 1.0, (vocab, hidden)))               # nn.Embedding init
    A = f32(rng.normal(0.0, 1.0, (r, vocab)))                    # trained: A moved from its zero start
    B = f32(rng.normal(0.0, 0.5 / (s * math.sqrt(r)), (hidden, r)))
    if c["zero_col"] is not None:
        W[:, c["zero_col"]] = 0.0
        B[c["zero_col"]] = 0.0
    ids = rng.integers(0, vocab, t)
    ids[0] = ids[-1]                                              # a repeated token: its gradients add up
    m = None
    if c["method"] == "dora":
        m = f32(np.linalg.norm(W + s * (B @ A).T, axis=0) * rng.uniform(0.5, 1.5, hidden))
    g = f32(rng.normal(0.0, 1.0, (t, hidden)))

    T = lambda a: None if a is None else torch.from_numpy(a).to(F64)
    tA, tB = T(A).requires_grad_(), T(B).requires_grad_()
    tm = T(m).requires_grad_() if m is not None else None
    tW, tids = T(W), torch.from_numpy(ids)
    y = peft_embedding_forward(tids, tW, tA, tB, s, tm)
    (y * T(g)).sum().backward()
    grads = {"grad_lora_embedding_A": tA.grad, "grad_lora_embedding_B": tB.grad}
    if tm is not None:
        grads["grad_magnitude"] = tm.grad
    y_ref, g_ref = hand_reference(ids, W, A, B, s, m, g)
    assert np.allclose(y.detach().numpy(), y_ref, rtol=1e-12, atol=1e-12), c["name"]
    for key, val in grads.items():
        assert np.allclose(val.numpy(), g_ref[key], rtol=1e-11, atol=1e-11), (c["name"], key)
    with torch.no_grad():
        merged = merged_table(tW, tA, tB, s, tm)
        assert torch.allclose(F.embedding(tids, merged), y, rtol=1e-12, atol=1e-12), c["name"]

    out = lambda a: torch.as_tensor(a).detach().to(torch.float32)
    tensors = [("ids", out(ids.astype(np.float64))), ("weight", out(W)), ("lora_embedding_A", out(A)),
               ("lora_embedding_B", out(B))]
    tensors += [("magnitude", out(m))] if m is not None else []
    tensors += [("grad_y", out(g)), ("y", out(y)), ("merged", out(merged))]
    tensors += [(k, out(v)) for k, v in grads.items()]
    desc = (f"{'DoRA' if m is not None else 'LoRA'} on an embedding [{vocab}, {hidden}], r={r}, tokens={t}, "
            f"{'rsLoRA ' if c['rslora'] else ''}scaling={s!r}")
    if c["zero_col"] is not None:
        desc += f"; column {c['zero_col']} of W and row {c['zero_col']} of B are zero: its norm is 0 and its scale 0"
    meta = {"method": c["method"], "r": c["r"], "scaling": repr(s), "description": desc}
    path = EMBEDDING_DIR / f"{c['name']}.safetensors"
    write_safetensors(path, tensors, meta)
    back, back_meta = read_safetensors(path)
    assert back_meta == {k: str(v) for k, v in meta.items()}
    assert all(torch.equal(back[k], v) for k, v in tensors)
    return path


def write_adapter_fixtures():
    """Adapters on the merge fixture's tiny Llama targeting embed_tokens (and q_proj), as PEFT's save_pretrained writes
    them with save_embedding_layers: lora_embedding_A/B (no .weight), the DoRA magnitude, and the base table's copy
    `...embed_tokens.base_layer.weight`; and the merged tables merge_and_unload() computes."""
    base, _ = read_safetensors(MERGE_DIR / "model" / "model.safetensors")
    W = base["model.embed_tokens.weight"].to(F64)
    vocab, hidden = W.shape
    expected = []
    for dora in (False, True):
        rng = np.random.default_rng(77 if dora else 78)
        r, alpha = 4, 8
        s = alpha / r
        A = torch.from_numpy(f32(rng.normal(0.0, 1.0, (r, vocab))))
        B = torch.from_numpy(f32(rng.normal(0.0, 0.3, (hidden, r))))
        m = None
        if dora:
            m = torch.from_numpy(f32(torch.linalg.norm(W.T + s * (B @ A), dim=1).numpy() * rng.uniform(0.7, 1.3, hidden)))
        name = "adapter_dora" if dora else "adapter_lora"
        p = "base_model.model.model.embed_tokens"
        tensors = [(f"{p}.base_layer.weight", base["model.embed_tokens.weight"]),
                   (f"{p}.lora_embedding_A", A.float()), (f"{p}.lora_embedding_B", B.float())]
        tensors += [(f"{p}.lora_magnitude_vector", m.float())] if m is not None else []
        cfg = adapter_config(r=r, lora_alpha=alpha, use_dora=dora, target_modules=["embed_tokens"])
        write_atomic(EMBEDDING_DIR / name / "adapter_config.json", json.dumps(cfg, indent=2, sort_keys=True))
        write_safetensors(EMBEDDING_DIR / name / "adapter_model.safetensors", tensors, {"format": "pt"})
        with torch.no_grad():
            merged = merged_table(W, A.to(F64), B.to(F64), s, None if m is None else m.to(F64))
        expected.append((f"{'dora' if dora else 'lora'}.model.embed_tokens.weight", merged.float()))
    write_safetensors(EMBEDDING_DIR / "adapter_expected.safetensors", expected)


def main():
    torch.set_num_threads(1)
    EMBEDDING_DIR.mkdir(parents=True, exist_ok=True)
    for stale in EMBEDDING_DIR.glob("*.safetensors"):
        stale.unlink()
    names = [run_case(c).name for c in CASES]
    write_atomic(EMBEDDING_DIR / "cases.txt", "".join(n + "\n" for n in names))
    write_adapter_fixtures()
    total = sum(f.stat().st_size for f in EMBEDDING_DIR.rglob("*") if f.is_file())
    print(f"{len(names)} embedding cases; fixtures total {total} bytes")


if __name__ == "__main__":
    main()
