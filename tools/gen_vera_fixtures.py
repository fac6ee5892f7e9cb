#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for dora4j's VeRA and DVoRA layers.

Run from the repository root with Debian's torch:  /usr/bin/python3 tools/gen_vera_fixtures.py

PEFT itself is not a dependency. VeRA is re-implemented below in torch, float64, statement by statement from
PEFT's sources (huggingface/peft at 5d602fd, August 2026):
  - src/peft/tuners/vera/layer.py  VeraLayer.update_layer / reset_vera_parameters (λ_b zeros, λ_d = d_initial),
                                   Linear.forward (result + λ_b * F.linear(λ_d * F.linear(dropout(x), sliced_A), sliced_B)),
                                   Linear.get_delta_weight ((λ_b ⊙ B[:out]) @ (λ_d ⊙ A[:, :in])) for merge;
  - src/peft/tuners/vera/model.py  _find_dim (projections sized by the largest targeted layer), _kaiming_init;
  - src/peft/tuners/vera/config.py VeraConfig's fields and defaults (written into the adapter fixture's config);
  - src/peft/utils/save_and_load.py the VERA branch of get_peft_model_state_dict (keys base_model.vera_A /
                                   base_model.vera_B and base_model.model.<path>.vera_lambda_b / .vera_lambda_d).
DVoRA (dora4j's extension, README "DVoRA") is DoRA's layer (gen_peft_fixtures.peft_linear_forward, itself from
PEFT's lora/dora.py) over VeRA's update: lora_A = λ_d ⊙ A[:, :in], lora_B = λ_b ⊙ B[:out], scaling 1, the norm
detached, a zero-norm row guarded to scale 0. Every case is cross-checked against the formulas written out by hand
in numpy. Everything is seeded; a rerun rewrites identical bytes. See tools/README.md.
"""
import json
import math
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gen_peft_fixtures import FIXTURES, dropout_mask, f32, peft_linear_forward, read_safetensors, write_atomic, write_safetensors

VERA_DIR = FIXTURES / "vera"
F64 = torch.float64


def vera_forward(x, weight, bias, vera_A, vera_B, lambda_b, lambda_d, mask=None):
    """vera/layer.py Linear.forward, one active adapter. `mask` plays nn.Dropout; None = nn.Identity."""
    result = F.linear(x, weight, bias)
    in_features, out_features = weight.shape[1], weight.shape[0]
    sliced_A = vera_A[:, :in_features]
    sliced_B = vera_B[:out_features, :]
    dropout = (lambda t: t * mask) if mask is not None else (lambda t: t)
    return result + lambda_b * F.linear(lambda_d * F.linear(dropout(x), sliced_A), sliced_B)


def vera_delta_weight(weight, vera_A, vera_B, lambda_b, lambda_d):
    """vera/layer.py Linear.get_delta_weight (fan_in_fan_out=False)."""
    sliced_A = vera_A[:, :weight.shape[1]]
    sliced_B = vera_B[:weight.shape[0], :]
    return (lambda_b.unsqueeze(-1) * sliced_B) @ (lambda_d.unsqueeze(-1) * sliced_A)


def dvora_forward(x, weight, bias, vera_A, vera_B, lambda_b, lambda_d, magnitude, mask=None):
    """DoRA's forward (norm detached, zero-norm rows guarded) with VeRA's update as the low-rank product."""
    lora_A = lambda_d.unsqueeze(-1) * vera_A[:, :weight.shape[1]]
    lora_B = lambda_b.unsqueeze(-1) * vera_B[:weight.shape[0], :]
    return peft_linear_forward(x, weight, bias, lora_A, lora_B, 1.0, magnitude, mask, "detached", guard_zero_norm=True)


def merged_weight(weight, delta, magnitude):
    """VeRA: W + ΔW (get_delta_weight); DVoRA: (m / ‖W + ΔW‖) ⊙ (W + ΔW) row-wise, a zero row scaled by 0."""
    merged = weight + delta
    if magnitude is None:
        return merged
    n = torch.linalg.norm(merged, dim=1)
    factor = torch.where(n == 0, torch.zeros_like(n), magnitude / torch.where(n == 0, torch.ones_like(n), n))
    return factor.view(-1, 1) * merged


def hand_reference(x, W, b, A, B, lb, ld, m, mask, g):
    """The layer and its detached-norm gradients written out in numpy, without autograd."""
    n_out, n_in = W.shape
    As, Bs = A[:, :n_in], B[:n_out, :]
    xd = x * mask if mask is not None else x
    bias = b if b is not None else 0.0
    u = xd @ As.T                   # [t, r]  A drop(x)
    v = (ld * u) @ Bs.T             # [t, out] B(λ_d ⊙ A drop(x))
    if m is None:
        y = x @ W.T + bias + lb * v
        gv = g * lb                 # dL/dv
        gu = (gv @ Bs) * ld         # dL/du
        grads = {"grad_x": g @ W + (gu @ As) * (mask if mask is not None else 1.0),
                 "grad_lambda_b": (g * v).sum(axis=0), "grad_lambda_d": ((gv @ Bs) * u).sum(axis=0)}
        return y, grads
    delta = (lb[:, None] * Bs) @ (ld[:, None] * As)
    n = np.linalg.norm(W + delta, axis=1)
    scale = np.where(n == 0, 0.0, m / np.where(n == 0, 1.0, n))
    y = x @ W.T + bias + (scale - 1) * (xd @ W.T) + scale * lb * v
    gs = g * scale
    gv = gs * lb
    gu = (gv @ Bs) * ld
    direction = (xd @ W.T + lb * v) / np.where(n == 0, 1.0, n)
    grads = {"grad_x": g @ W + ((g * (scale - 1)) @ W + gu @ As) * (mask if mask is not None else 1.0),
             "grad_lambda_b": (gs * v).sum(axis=0), "grad_lambda_d": ((gv @ Bs) * u).sum(axis=0),
             "grad_magnitude": np.where(n == 0, 0.0, (g * direction).sum(axis=0))}
    return y, grads


# ------------------------------------------------------------------------------------------------ layer cases

def case(method, r, n_in, n_out, tokens, bias=False, p=0.0, zero_row=None):
    name = f"{method}_r{r}_{n_in}x{n_out}_t{tokens}" + ("_bias" if bias else "") + (f"_drop{p}" if p else "") \
        + ("_zeronorm" if zero_row is not None else "")
    return dict(name=name, method=method, r=r, n_in=n_in, n_out=n_out, tokens=tokens, bias=bias, p=p, zero_row=zero_row)


CASES = [
    case("vera", 1, 16, 12, 3),
    case("vera", 4, 37, 23, 5, bias=True),
    case("vera", 8, 64, 96, 7, bias=True, p=0.1),
    case("vera", 16, 20, 28, 8, bias=True, p=0.5),
    case("vera", 32, 24, 130, 2, p=0.5),
    case("vera", 256, 40, 56, 4, bias=True),
    case("dvora", 1, 16, 12, 3),
    case("dvora", 4, 37, 23, 5, bias=True),
    case("dvora", 8, 64, 96, 7, p=0.1),
    case("dvora", 16, 20, 28, 8, bias=True, p=0.5),
    case("dvora", 64, 48, 40, 9, bias=True),
    case("dvora", 256, 40, 56, 4, bias=True),
    case("dvora", 4, 12, 10, 4, bias=True, zero_row=2),
]


def make_inputs(c):
    """Projections wider and taller than the layer (as when a larger layer is also targeted), so slicing matters."""
    rng = np.random.default_rng(zlib.crc32(c["name"].encode()))
    r, n_in, n_out, t = c["r"], c["n_in"], c["n_out"], c["tokens"]
    max_in, max_out = n_in + 5, n_out + 3
    k = 1.0 / math.sqrt(n_in)
    W = f32(rng.uniform(-k, k, (n_out, n_in)))
    b = f32(rng.uniform(-k, k, n_out)) if c["bias"] else None
    A = f32(rng.uniform(-math.sqrt(6.0 / max_in), math.sqrt(6.0 / max_in), (r, max_in)))   # _kaiming_init
    B = f32(rng.uniform(-math.sqrt(6.0 / r), math.sqrt(6.0 / r), (max_out, r)))
    ld = f32(rng.uniform(0.1, 0.5, r) * rng.choice([-1.0, 1.0], r))
    lb = f32(rng.normal(0.0, 0.5, n_out))     # trained: λ_b moved away from its zero start
    if c["zero_row"] is not None:
        W[c["zero_row"]] = 0.0
        lb[c["zero_row"]] = 0.0
    x = f32(rng.normal(0.0, 1.0, (t, n_in)))
    mask = dropout_mask(rng, c["p"], (t, n_in))
    m = None
    if c["method"] == "dvora":
        delta = (lb[:, None] * B[:n_out]) @ (ld[:, None] * A[:, :n_in])
        m = f32(np.linalg.norm(W + delta, axis=1) * rng.uniform(0.5, 1.5, n_out))
    g = f32(rng.normal(0.0, 1.0, (t, n_out)))
    return x, W, b, A, B, lb, ld, m, mask, g


def run_case(c):
    x, W, b, A, B, lb, ld, m, mask, g = make_inputs(c)
    T = lambda a: None if a is None else torch.from_numpy(a).to(F64)
    tx, tlb, tld = T(x).requires_grad_(), T(lb).requires_grad_(), T(ld).requires_grad_()
    tm = T(m).requires_grad_() if m is not None else None
    tW, tb, tA, tB, tmask, tg = T(W), T(b), T(A), T(B), T(mask), T(g)
    if tm is None:
        y = vera_forward(tx, tW, tb, tA, tB, tlb, tld, tmask)
    else:
        y = dvora_forward(tx, tW, tb, tA, tB, tlb, tld, tm, tmask)
    (y * tg).sum().backward()
    grads = {"grad_x": tx.grad, "grad_lambda_b": tlb.grad, "grad_lambda_d": tld.grad}
    if tm is not None:
        grads["grad_magnitude"] = tm.grad

    y_ref, g_ref = hand_reference(x, W, b, A, B, lb, ld, m, mask, g)
    assert np.allclose(y.detach().numpy(), y_ref, rtol=1e-12, atol=1e-12), c["name"]
    for key, val in grads.items():
        assert np.allclose(val.numpy(), g_ref[key], rtol=1e-11, atol=1e-11), (c["name"], key)
    with torch.no_grad():
        merged = merged_weight(tW, vera_delta_weight(tW, tA, tB, tlb, tld), tm)
        if mask is None:  # the merged weight computes the eval forward
            assert torch.allclose(F.linear(tx, merged, tb), y, rtol=1e-12, atol=1e-12), c["name"]
        if tm is not None and c["zero_row"] is None:  # DVoRA with m = ‖W + ΔW‖ is VeRA
            n = torch.linalg.norm(tW + vera_delta_weight(tW, tA, tB, tlb, tld), dim=1)
            assert torch.allclose(dvora_forward(tx, tW, tb, tA, tB, tlb, tld, n, tmask),
                                  vera_forward(tx, tW, tb, tA, tB, tlb, tld, tmask), rtol=1e-12, atol=1e-12)
        if c["zero_row"] is not None:
            assert torch.equal(y[:, c["zero_row"]].detach(), tb[c["zero_row"]].expand(c["tokens"]))

    out = lambda a: torch.as_tensor(a).detach().to(torch.float32)
    tensors = [("x", out(x)), ("weight", out(W))]
    tensors += [("bias", out(b))] if b is not None else []
    tensors += [("vera_A", out(A)), ("vera_B", out(B)), ("lambda_b", out(lb)), ("lambda_d", out(ld))]
    tensors += [("magnitude", out(m))] if m is not None else []
    tensors += [("dropout_mask", out(mask))] if mask is not None else []
    tensors += [("grad_y", out(g)), ("y", out(y)), ("merged", out(merged))]
    tensors += [(k, out(v)) for k, v in grads.items()]
    desc = (f"{'DVoRA' if m is not None else 'VeRA'} r={c['r']} in={c['n_in']} out={c['n_out']} tokens={c['tokens']} "
            f"projections [{c['r']}, {c['n_in'] + 5}] / [{c['n_out'] + 3}, {c['r']}] bias={'yes' if b is not None else 'no'} "
            f"dropout={c['p']}")
    if c["zero_row"] is not None:
        desc += f"; row {c['zero_row']} of W and λ_b[{c['zero_row']}] are zero: its norm is 0 and its scale m/n := 0"
    meta = {"method": c["method"], "r": c["r"], "dropout": repr(float(c["p"])), "description": desc}
    path = VERA_DIR / f"{c['name']}.safetensors"
    write_safetensors(path, tensors, meta)
    back, back_meta = read_safetensors(path)
    assert back_meta == {k: str(v) for k, v in meta.items()}
    assert all(torch.equal(back[k], v) for k, v in tensors)
    return path


# --------------------------------------------------------------------------------------------- adapter fixture

ADAPTER_LAYERS = {"model.layers.0.self_attn.q_proj": (12, 16), "model.layers.0.mlp.down_proj": (16, 20)}


def write_adapter_fixture():
    """A VeRA adapter directory as PEFT's save_pretrained writes it, with base weights and reference outputs."""
    rng = np.random.default_rng(1234)
    r, key = 8, 0
    max_out = max(o for o, _ in ADAPTER_LAYERS.values())
    max_in = max(i for _, i in ADAPTER_LAYERS.values())
    A = f32(rng.uniform(-math.sqrt(6.0 / max_in), math.sqrt(6.0 / max_in), (r, max_in)))
    B = f32(rng.uniform(-math.sqrt(6.0 / r), math.sqrt(6.0 / r), (max_out, r)))
    adapter = [("base_model.vera_A", torch.from_numpy(A).float()), ("base_model.vera_B", torch.from_numpy(B).float())]
    base, reference = [], []
    for path, (n_out, n_in) in ADAPTER_LAYERS.items():
        k = 1.0 / math.sqrt(n_in)
        W = f32(rng.uniform(-k, k, (n_out, n_in)))
        lb = f32(rng.normal(0.0, 0.5, n_out))
        ld = f32(rng.uniform(0.05, 0.4, r))
        x = f32(rng.normal(0.0, 1.0, (3, n_in)))
        T = lambda a: torch.from_numpy(a).to(F64)
        with torch.no_grad():
            y = vera_forward(T(x), T(W), None, T(A), T(B), T(lb), T(ld))
            merged = merged_weight(T(W), vera_delta_weight(T(W), T(A), T(B), T(lb), T(ld)), None)
        adapter += [(f"base_model.model.{path}.vera_lambda_b", torch.from_numpy(lb).float()),
                    (f"base_model.model.{path}.vera_lambda_d", torch.from_numpy(ld).float())]
        base.append((f"{path}.weight", torch.from_numpy(W).float()))
        reference += [(f"{path}.x", torch.from_numpy(x).float()), (f"{path}.y", y.float()),
                      (f"{path}.merged", merged.float())]
    config = {"auto_mapping": None, "base_model_name_or_path": "tiny", "bias": "none", "d_initial": 0.1,
              "fan_in_fan_out": False, "inference_mode": True, "init_weights": True, "layers_pattern": None,
              "layers_to_transform": None, "modules_to_save": None, "peft_type": "VERA", "peft_version": "0.18.1",
              "projection_prng_key": key, "r": r, "revision": None, "save_projection": True,
              "target_modules": ["q_proj", "down_proj"], "task_type": "CAUSAL_LM", "vera_dropout": 0.0}
    d = VERA_DIR / "adapter"
    write_atomic(d / "adapter_config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
    write_safetensors(d / "adapter_model.safetensors", adapter, {"format": "pt"})
    write_safetensors(VERA_DIR / "adapter_base.safetensors", base)
    write_safetensors(VERA_DIR / "adapter_reference.safetensors", reference)


def main():
    torch.set_num_threads(1)
    VERA_DIR.mkdir(parents=True, exist_ok=True)
    for stale in VERA_DIR.glob("*.safetensors"):
        stale.unlink()
    names = []
    for c in CASES:
        path = run_case(c)
        names.append(path.name)
        print(f"{path.name}: {path.stat().st_size} bytes")
    write_atomic(VERA_DIR / "cases.txt", "".join(n + "\n" for n in names if not n.startswith("adapter")))
    write_adapter_fixture()
    total = sum(f.stat().st_size for f in VERA_DIR.rglob("*") if f.is_file())
    print(f"{len(names)} layer cases and a PEFT VeRA adapter; fixtures total {total} bytes")


if __name__ == "__main__":
    main()
