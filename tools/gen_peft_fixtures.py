#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures that dora4j's tests compare against.

Run from the repository root with Debian's torch:  /usr/bin/python3 tools/gen_peft_fixtures.py

PEFT itself is not a dependency: its LoRA / DoRA semantics (PEFT 0.18.x, src/peft/tuners/lora/layer.py,
variants.py, dora.py) are re-implemented below in torch, statement by statement, and cross-checked against the
formulas of DESIGN.md. Everything is seeded; a rerun rewrites identical bytes. See tools/README.md.
"""
import json
import math
import os
import re
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "core" / "src" / "test" / "resources" / "fixtures"
PEFT_DIR = FIXTURES / "peft"
MERGE_DIR = FIXTURES / "merge"
F64 = torch.float64

# ----------------------------------------------------------------------------------------------- safetensors

ST_DTYPES = {torch.float32: ("F32", "<f4"), torch.float16: ("F16", "<f2"), torch.bfloat16: ("BF16", None),
             torch.int64: ("I64", "<i8")}
NP_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    name, np_dtype = ST_DTYPES[t.dtype]
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the 16-bit patterns
        return name, t.view(torch.int16).numpy().astype("<i2").tobytes()
    return name, t.numpy().astype(np_dtype).tobytes()


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, tensor), written in that order. Atomic: temp file + rename."""
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors:
        dtype, data = tensor_bytes(t)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    write_atomic(path, len(head).to_bytes(8, "little") + head + b"".join(blobs))


def read_safetensors(path):
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        buf = bytearray(raw[8 + n + b:8 + n + e])
        if info["dtype"] == "BF16":
            t = torch.from_numpy(np.frombuffer(buf, "<i2").copy()).view(torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(buf, NP_DTYPES[info["dtype"]]).copy())
        out[name] = t.reshape(info["shape"])
    return out, meta


def write_atomic(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    os.replace(tmp, path)


# ------------------------------------------------------------------------------ PEFT semantics, mirrored in torch

def get_weight_norm(weight, lora_weight, scaling):
    """dora.py DoraLinearLayer.get_weight_norm (fan_in_fan_out=False): row norms of W + scaling * lora_weight."""
    weight = weight + scaling * lora_weight
    return torch.linalg.norm(weight, dim=1).to(weight.dtype)


def peft_linear_forward(x, weight, bias, lora_A, lora_B, scaling, magnitude=None, mask=None,
                        norm_grad="detached", guard_zero_norm=False):
    """layer.py Linear.forward + variants.py DoraLinearVariant.forward + dora.py DoraLinearLayer.forward, one adapter,
    training mode. `mask` plays nn.Dropout (drop(x) = x * mask); None = nn.Identity (lora_dropout == 0)."""
    dropout = (lambda t: t * mask) if mask is not None else (lambda t: t)
    result = F.linear(x, weight, bias)                       # result = self.base_layer(x)
    if magnitude is None:                                    # vanilla LoRA
        return result + F.linear(F.linear(dropout(x), lora_A), lora_B) * scaling
    if mask is None:                                         # DoraLinearVariant.forward
        base_result = result
    else:
        x = dropout(x)
        base_result = None
    x_eye = torch.eye(lora_A.shape[1], dtype=x.dtype)        # DoraLinearLayer.forward
    lora_weight = F.linear(F.linear(x_eye, lora_A), lora_B).T
    exact = norm_grad == "exact"
    weight_norm = get_weight_norm(weight, lora_weight if exact else lora_weight.detach(), scaling)
    if not exact:
        weight_norm = weight_norm.detach()
    if guard_zero_norm:  # dora4j's guard; PEFT divides unguarded and yields NaN/inf for a zero-norm row
        zero = weight_norm == 0
        mag_norm_scale = torch.where(zero, torch.zeros_like(magnitude),
                                     magnitude / torch.where(zero, torch.ones_like(weight_norm), weight_norm))
    else:
        mag_norm_scale = magnitude / weight_norm
    mag_norm_scale = mag_norm_scale.view(1, -1)
    lora_result = F.linear(F.linear(x, lora_A), lora_B)
    if base_result is not None:
        if bias is not None:
            base_result = base_result - bias
    else:
        base_result = F.linear(x, weight)
    result_dora = (mag_norm_scale - 1) * base_result + mag_norm_scale * lora_result * scaling
    return result + result_dora


# ----------------------------------------------------------------------- DESIGN.md formulas, independently in numpy

def design_reference(c, x, W, b, A, B, s, m, mask):
    """Forward and detached-norm gradients straight from DESIGN.md, written out by hand (no autograd)."""
    xd = x * mask if mask is not None else x
    bias = b if b is not None else 0.0
    g = c["grad_y_np"]
    if m is None:
        y = x @ W.T + s * (xd @ A.T) @ B.T + bias
        gx = g @ W + s * ((g @ B) @ A) * (mask if mask is not None else 1.0)
        return y, {"grad_x": gx, "grad_lora_A": s * (g @ B).T @ xd, "grad_lora_B": s * g.T @ (xd @ A.T)}
    n = np.linalg.norm(W + s * B @ A, axis=1)
    scale = np.where(n == 0, 0.0, m / np.where(n == 0, 1.0, n))
    y = x @ W.T + bias + (scale - 1) * (xd @ W.T) + scale * (s * (xd @ A.T) @ B.T)
    if mask is None:  # the plain DoRA form: y = (m/n) (W x + s B A x) + b
        assert np.allclose(y, scale * (x @ W.T + s * (x @ A.T) @ B.T) + bias, rtol=1e-12, atol=1e-12)
    gc = g * scale
    direction = (xd @ W.T + s * (xd @ A.T) @ B.T) / np.where(n == 0, 1.0, n)
    grads = {
        "grad_x": g @ W + ((g * (scale - 1)) @ W + s * (gc @ B) @ A) * (mask if mask is not None else 1.0),
        "grad_lora_A": s * (gc @ B).T @ xd,
        "grad_lora_B": s * gc.T @ (xd @ A.T),
        "grad_magnitude": np.where(n == 0, 0.0, (g * direction).sum(axis=0)),
    }
    return y, grads


# ------------------------------------------------------------------------------------------------ layer cases

def case(method, r, n_in, n_out, tokens, alpha, bias=False, p=0.0, rslora=False, norm_grad="detached",
         zero_row=None):
    name = f"{method}_r{r}_{n_in}x{n_out}_t{tokens}" + ("_bias" if bias else "") + (f"_drop{p}" if p else "") \
        + ("_rslora" if rslora else "") + ("_exact" if norm_grad == "exact" else "") \
        + ("_zeronorm" if zero_row is not None else "")
    return dict(name=name, method=method, r=r, n_in=n_in, n_out=n_out, tokens=tokens, alpha=alpha, bias=bias,
                p=p, rslora=rslora, norm_grad=norm_grad, zero_row=zero_row)


CASES = [
    case("lora", 1, 16, 12, 3, 2),
    case("lora", 4, 37, 23, 5, 8, bias=True),
    case("lora", 8, 64, 96, 7, 16, bias=True, p=0.1),
    case("lora", 16, 48, 40, 9, 8, rslora=True),
    case("lora", 64, 96, 80, 4, 16, bias=True),
    case("lora", 8, 24, 130, 2, 16, p=0.5, rslora=True),
    case("lora", 4, 20, 33, 1, 6, bias=True, p=0.5),
    case("lora", 16, 28, 20, 8, 32, bias=True, p=0.1, rslora=True),
    case("dora", 1, 16, 12, 3, 2),
    case("dora", 4, 37, 23, 5, 8, bias=True),
    case("dora", 8, 37, 23, 6, 16, bias=True),
    case("dora", 8, 64, 96, 7, 16, p=0.1),
    case("dora", 16, 48, 40, 9, 8, bias=True, rslora=True),
    case("dora", 64, 96, 80, 4, 16, bias=True),
    case("dora", 4, 24, 130, 2, 8, bias=True, p=0.5),
    case("dora", 8, 30, 18, 1, 16, rslora=True),
    case("dora", 1, 50, 9, 9, 1, p=0.1),
    case("dora", 16, 20, 28, 8, 32, bias=True, p=0.5, rslora=True),
    case("dora", 4, 37, 23, 5, 8, norm_grad="exact"),
    case("dora", 16, 40, 56, 6, 16, bias=True, p=0.1, norm_grad="exact"),
    case("dora", 8, 48, 32, 3, 16, rslora=True, norm_grad="exact"),
    case("dora", 4, 12, 10, 4, 8, bias=True, zero_row=2),
]


def f32(a):
    """Round to float32 (the stored value) and widen back to float64 for the reference computation."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def dropout_mask(rng, p, shape):
    """nn.Dropout's mask as a fixed tensor: 0 with probability p, else 1 / (1 - p); None when p is 0."""
    if not p:
        return None
    keep = np.float32(1.0) / np.float32(1.0 - p)
    return f32(np.where(rng.random(shape) < 1.0 - p, keep, np.float32(0.0)))


def make_inputs(c):
    rng = np.random.default_rng(zlib.crc32(c["name"].encode()))
    r, n_in, n_out, t = c["r"], c["n_in"], c["n_out"], c["tokens"]
    s = c["alpha"] / math.sqrt(r) if c["rslora"] else c["alpha"] / r
    k = 1.0 / math.sqrt(n_in)                   # nn.Linear / kaiming_uniform(a=sqrt(5)) bound
    W = f32(rng.uniform(-k, k, (n_out, n_in)))
    b = f32(rng.uniform(-k, k, n_out)) if c["bias"] else None
    A = f32(rng.uniform(-k, k, (r, n_in)))
    # B random and non-zero, sized so that s*B*A is about half of W: the adapter term is never negligible
    B = f32(rng.normal(0.0, 0.5 / (s * math.sqrt(r)), (n_out, r)))
    if c["zero_row"] is not None:
        W[c["zero_row"]] = 0.0
        B[c["zero_row"]] = 0.0
    x = f32(rng.normal(0.0, 1.0, (t, n_in)))
    mask = dropout_mask(rng, c["p"], (t, n_in))
    m = None
    if c["method"] == "dora":
        n = np.linalg.norm(W + s * B @ A, axis=1)
        m = f32(n * rng.uniform(0.5, 1.5, n_out))
    c["grad_y_np"] = f32(rng.normal(0.0, 1.0, (t, n_out)))
    return s, x, W, b, A, B, m, mask


def run_case(c):
    s, x, W, b, A, B, m, mask = make_inputs(c)
    T = lambda a: None if a is None else torch.from_numpy(a).to(F64)
    tx, tA, tB = T(x).requires_grad_(), T(A).requires_grad_(), T(B).requires_grad_()
    tm = T(m).requires_grad_() if m is not None else None
    tW, tb, tmask, g = T(W), T(b), T(mask), T(c["grad_y_np"])
    fwd = lambda xx, aa, bb, mm: peft_linear_forward(xx, tW, tb, aa, bb, s, mm, tmask, c["norm_grad"],
                                                     guard_zero_norm=c["zero_row"] is not None)
    y = fwd(tx, tA, tB, tm)
    (y * g).sum().backward()
    grads = {"grad_x": tx.grad, "grad_lora_A": tA.grad, "grad_lora_B": tB.grad}
    if tm is not None:
        grads["grad_magnitude"] = tm.grad

    # 1. forward against DESIGN.md; detached gradients against the hand-derived ones
    y_ref, g_ref = design_reference(c, x, W, b, A, B, s, m, mask)
    assert np.allclose(y.detach().numpy(), y_ref, rtol=1e-12, atol=1e-12), c["name"]
    for key, val in grads.items():
        if c["norm_grad"] == "detached":
            assert np.allclose(val.numpy(), g_ref[key], rtol=1e-11, atol=1e-11), (c["name"], key)
        elif key in ("grad_x", "grad_magnitude"):  # the norm depends on A and B only
            assert np.allclose(val.numpy(), g_ref[key], rtol=1e-11, atol=1e-11), (c["name"], key)
        else:
            assert not np.allclose(val.numpy(), g_ref[key], rtol=1e-6, atol=1e-9), (c["name"], key)
    # 2. exact mode: autograd through the norm is the true derivative (finite differences)
    if c["norm_grad"] == "exact":
        ins = (tx.detach().clone().requires_grad_(), tA.detach().clone().requires_grad_(),
               tB.detach().clone().requires_grad_(), tm.detach().clone().requires_grad_())
        assert torch.autograd.gradcheck(lambda *a: (fwd(*a) * g).sum(), ins, eps=1e-6, atol=1e-7, rtol=1e-6)
    # 3. merged weight gives the same forward (no dropout: PEFT merges only what the eval forward computes)
    if mask is None:
        with torch.no_grad():
            delta = s * tB @ tA
            if tm is None:
                merged = tW + delta
            else:
                n = torch.linalg.norm(tW + delta, dim=1)
                factor = torch.where(n == 0, torch.zeros_like(n), tm / torch.where(n == 0, torch.ones_like(n), n))
                merged = factor.view(-1, 1) * (tW + delta)
            assert torch.allclose(F.linear(tx, merged, tb), y, rtol=1e-12, atol=1e-12), c["name"]
    # 4. DoRA with m == n is LoRA (a sanity check of the formula; not stored)
    if tm is not None and c["zero_row"] is None:
        with torch.no_grad():
            n = torch.linalg.norm(tW + s * tB @ tA, dim=1)
            lora = peft_linear_forward(tx, tW, tb, tA, tB, s, None, tmask)
            assert torch.allclose(peft_linear_forward(tx, tW, tb, tA, tB, s, n, tmask), lora, rtol=1e-12, atol=1e-12)
    # 5. the zero-norm row: PEFT's unguarded division gives NaN there, the guard gives the bias
    if c["zero_row"] is not None:
        with torch.no_grad():
            raw = peft_linear_forward(tx, tW, tb, tA, tB, s, tm, tmask)
            assert torch.isnan(raw[:, c["zero_row"]]).all() and not torch.isnan(y).any()
            assert torch.equal(y[:, c["zero_row"]].detach(), tb[c["zero_row"]].expand(c["tokens"]))

    out = lambda a: torch.as_tensor(a).detach().to(torch.float32)
    tensors = [("x", out(x)), ("weight", out(W))]
    tensors += [("bias", out(b))] if b is not None else []
    tensors += [("lora_A", out(A)), ("lora_B", out(B))]
    tensors += [("magnitude", out(m))] if m is not None else []
    tensors += [("dropout_mask", out(mask))] if mask is not None else []
    tensors += [("grad_y", out(c["grad_y_np"])), ("y", out(y))]
    tensors += [(k, out(v)) for k, v in grads.items()]
    desc = (f"{'DoRA' if m is not None else 'LoRA'} r={c['r']} in={c['n_in']} out={c['n_out']} "
            f"tokens={c['tokens']} bias={'yes' if b is not None else 'no'} dropout={c['p']} "
            f"{'rsLoRA ' if c['rslora'] else ''}scaling={s!r}")
    if m is not None:
        desc += f"; weight norm {c['norm_grad']} in backward"
    meta = {"method": c["method"], "r": c["r"], "lora_alpha": c["alpha"], "use_rslora": str(c["rslora"]).lower(),
            "scaling": repr(s), "dropout": repr(float(c["p"])), "norm_grad": c["norm_grad"]}
    if c["zero_row"] is not None:
        meta["zero_norm_rows"] = str(c["zero_row"])
        desc += (f"; row {c['zero_row']} of W and of B is zero, so its norm is 0: outputs use the guarded scale "
                 "m/n := 0 for that row (PEFT's unguarded magnitude / weight_norm gives NaN there)")
    meta["description"] = desc
    path = PEFT_DIR / f"{c['name']}.safetensors"
    write_safetensors(path, tensors, meta)
    back, back_meta = read_safetensors(path)
    assert back_meta == {k: str(v) for k, v in meta.items()}
    assert all(torch.equal(back[k], v) for k, v in tensors)
    return path


# ----------------------------------------------------------------------------------------------- merge fixture

LLAMA = dict(hidden=16, inter=24, layers=2, heads=4, kv_heads=2, vocab=32)
WEIGHT_DTYPES = {"q_proj": torch.bfloat16, "k_proj": torch.bfloat16, "v_proj": torch.float16}


def tiny_llama_weights(rng):
    h, i, v = LLAMA["hidden"], LLAMA["inter"], LLAMA["vocab"]
    kv = LLAMA["kv_heads"] * h // LLAMA["heads"]
    shapes = {"model.embed_tokens.weight": (v, h)}
    for n in range(LLAMA["layers"]):
        p = f"model.layers.{n}."
        shapes.update({p + "self_attn.q_proj.weight": (h, h), p + "self_attn.k_proj.weight": (kv, h),
                       p + "self_attn.v_proj.weight": (kv, h), p + "self_attn.o_proj.weight": (h, h),
                       p + "mlp.gate_proj.weight": (i, h), p + "mlp.up_proj.weight": (i, h),
                       p + "mlp.down_proj.weight": (h, i), p + "input_layernorm.weight": (h,),
                       p + "post_attention_layernorm.weight": (h,)})
    shapes.update({"model.norm.weight": (h,), "lm_head.weight": (v, h)})
    weights = {}
    for name, shape in shapes.items():
        if len(shape) == 1:
            a = 1.0 + rng.normal(0.0, 0.1, shape)
        elif "embed_tokens" in name:
            a = rng.normal(0.0, 1.0, shape)
        else:
            a = rng.uniform(-1.0, 1.0, shape) / math.sqrt(shape[1])
        dtype = WEIGHT_DTYPES.get(name.split(".")[-2], torch.float32)
        weights[name] = torch.from_numpy(np.asarray(a, dtype=np.float32)).to(dtype)
    return weights


def safetensors_order(tensors):
    """The safetensors library writes larger dtypes first, then by name."""
    return sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0]))


def target_module_matches(target_modules, key):
    """PEFT check_target_module_exists: a string is re.fullmatch'ed, a list entry matches exactly or as '.' suffix."""
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, key) is not None
    return any(key == t or key.endswith("." + t) for t in target_modules)


def get_pattern_key(pattern_keys, key):
    """peft/utils/other.py get_pattern_key (PEFT >= 0.14). Older PEFT used re.match(rf'.*\\.{key}$'); the fixture's
    patterns are chosen so that both give the same answer (asserted)."""
    new = next((p for p in pattern_keys if re.match(rf"(.*\.)?({p})$", key)), key)
    old = next((p for p in pattern_keys if re.match(rf".*\.{p}$", key)), key)
    assert new == old, (key, new, old)
    return new


def adapter_config(**fields):
    """adapter_config.json with every field PEFT 0.18.1's LoraConfig.save_pretrained writes (json indent=2,
    sort_keys=True, no trailing newline)."""
    cfg = {"alora_invocation_tokens": None, "alpha_pattern": {}, "arrow_config": None, "auto_mapping": None,
           "base_model_name_or_path": "tiny-llama", "bias": "none", "corda_config": None,
           "ensure_weight_tying": False, "eva_config": None, "exclude_modules": None, "fan_in_fan_out": False,
           "inference_mode": True, "init_lora_weights": True, "layer_replication": None, "layers_pattern": None,
           "layers_to_transform": None, "loftq_config": {}, "lora_alpha": 8, "lora_bias": False,
           "lora_dropout": 0.0, "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None,
           "peft_type": "LORA", "peft_version": "0.18.1", "qalora_group_size": 16, "r": 4, "rank_pattern": {},
           "revision": None, "target_modules": None, "target_parameters": None, "task_type": "CAUSAL_LM",
           "trainable_token_indices": None, "use_dora": False, "use_qalora": False, "use_rslora": False}
    assert set(fields) <= set(cfg), set(fields) - set(cfg)
    cfg.update(fields)
    return cfg


def make_adapter(rng, weights, cfg):
    """Adapter tensors for every Linear that cfg targets, plus the PEFT merge (merge_and_unload, safe_merge=False)."""
    adapter, merged = {}, dict(weights)
    linear_names = [k[:-len(".weight")] for k, v in weights.items() if v.dim() == 2 and "embed_tokens" not in k]
    for module in linear_names:
        if not target_module_matches(cfg["target_modules"], module):
            continue
        r = cfg["rank_pattern"].get(get_pattern_key(cfg["rank_pattern"].keys(), module), cfg["r"])
        alpha = cfg["alpha_pattern"].get(get_pattern_key(cfg["alpha_pattern"].keys(), module), cfg["lora_alpha"])
        s = alpha / math.sqrt(r) if cfg["use_rslora"] else alpha / r
        W = weights[module + ".weight"]
        n_out, n_in = W.shape
        A = torch.from_numpy(rng.uniform(-1, 1, (r, n_in)).astype(np.float32)) / math.sqrt(n_in)
        B = torch.from_numpy(rng.normal(0.0, 0.5 / (s * math.sqrt(r)), (n_out, r)).astype(np.float32))
        key = "base_model.model." + module
        adapter[key + ".lora_A.weight"], adapter[key + ".lora_B.weight"] = A, B
        W64 = W.to(F64) + s * B.to(F64) @ A.to(F64)
        m = None
        if cfg["use_dora"]:
            m = (torch.linalg.norm(W64, dim=1) * torch.from_numpy(rng.uniform(0.5, 1.5, n_out))).to(torch.float32)
            adapter[key + ".lora_magnitude_vector"] = m
        # layer.py Linear.get_delta_weight: transpose(B @ A, fan_in_fan_out) * scaling, in the adapter dtype (f32)
        delta = (B @ A) * s
        if m is None:   # layer.py Linear.merge: base_layer.weight.data += delta_weight (f32 sum, one rounding)
            new = W.clone()
            new += delta
            ref64 = W64
        else:           # variants.py DoraLinearVariant.merge_unsafe
            weight_norm = get_weight_norm(W, delta, scaling=1).detach()   # bf16/f16 + f32 promotes to f32
            dora_factor = m / weight_norm
            new = (dora_factor.view(-1, 1) * (W.data + delta)).to(W.dtype)
            ref64 = (m.to(F64) / torch.linalg.norm(W64, dim=1)).view(-1, 1) * W64
            x = torch.from_numpy(rng.normal(0.0, 1.0, (3, n_in)))   # merged forward == unmerged DoRA forward
            y = peft_linear_forward(x, W.to(F64), None, A.to(F64), B.to(F64), s, m.to(F64))
            assert torch.allclose(F.linear(x, ref64), y, rtol=1e-12, atol=1e-12)
        assert new.dtype == W.dtype
        # the float32 PEFT merge agrees with the exact merge: to the last bit of a 16-bit dtype (asserted below),
        # and in float32 to a few units of 2^-24 of the row's largest magnitude (cancellation in W + delta)
        exact = ref64.to(W.dtype).to(F64)
        row_ulp = ref64.abs().amax(dim=1, keepdim=True) * 2.0 ** -24
        if W.dtype == torch.float32:
            err = ((new.to(F64) - ref64).abs() / row_ulp).max().item()
            assert err <= 8, (module, err)
            note = f"max |PEFT f32 merge - exact| = {err:.2f} x 2^-24 x row max"
        else:
            assert torch.equal(new.to(F64), exact), module
            note = "bit-identical to the exact merge rounded to the dtype"
        merged[module + ".weight"] = new
        print(f"  {module}: {str(W.dtype)[6:]}, r={r}, alpha={alpha}, scaling={s!r}; {note}")
    return adapter, merged


def write_json(path, obj, trailing_newline):
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + ("\n" if trailing_newline else ""))


def write_merge_fixture():
    rng = np.random.default_rng(20240911)
    weights = tiny_llama_weights(rng)
    model = MERGE_DIR / "model"
    write_json(model / "config.json", {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "head_dim": LLAMA["hidden"] // LLAMA["heads"], "hidden_act": "silu",
        "hidden_size": LLAMA["hidden"], "initializer_range": 0.02, "intermediate_size": LLAMA["inter"],
        "max_position_embeddings": 64, "mlp_bias": False, "model_type": "llama",
        "num_attention_heads": LLAMA["heads"], "num_hidden_layers": LLAMA["layers"],
        "num_key_value_heads": LLAMA["kv_heads"], "pretraining_tp": 1, "rms_norm_eps": 1e-06, "rope_scaling": None,
        "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "float32",
        "transformers_version": "4.46.3", "use_cache": True, "vocab_size": LLAMA["vocab"]}, True)
    write_json(model / "tokenizer_config.json", {
        "add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "clean_up_tokenization_spaces": False,
        "eos_token": "</s>", "legacy": False, "model_max_length": 64, "pad_token": None,
        "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>"}, True)
    write_safetensors(model / "model.safetensors", safetensors_order(weights), {"format": "pt"})

    adapters = {
        "adapter": ("expected_dora.safetensors", adapter_config(
            use_dora=True, r=4, lora_alpha=8, lora_dropout=0.05, target_modules=["q_proj", "v_proj", "down_proj"],
            rank_pattern={"layers.1.self_attn.q_proj": 2}, alpha_pattern={"down_proj": 16})),
        "adapter_lora": ("expected_lora.safetensors", adapter_config(
            r=4, lora_alpha=8, lora_dropout=0.1, use_rslora=True, target_modules=r".*\.(q_proj|o_proj)$")),
    }
    for directory, (expected_name, cfg) in adapters.items():
        print(f" {directory}/ ({'DoRA' if cfg['use_dora'] else 'LoRA'})")
        tensors, merged = make_adapter(rng, weights, cfg)
        write_json(MERGE_DIR / directory / "adapter_config.json", cfg, False)
        write_safetensors(MERGE_DIR / directory / "adapter_model.safetensors", sorted(tensors.items()),
                          {"format": "pt"})
        write_safetensors(MERGE_DIR / expected_name, safetensors_order(merged), {"format": "pt"})
        back, _ = read_safetensors(MERGE_DIR / expected_name)
        assert all(back[k].dtype == v.dtype and torch.equal(back[k], v) for k, v in merged.items())


def main():
    torch.set_num_threads(1)
    PEFT_DIR.mkdir(parents=True, exist_ok=True)
    for stale in PEFT_DIR.glob("*.safetensors"):
        stale.unlink()
    names = []
    for c in CASES:
        path = run_case(c)
        names.append(path.name)
        print(f"{path.name}: {path.stat().st_size} bytes")
    write_atomic(PEFT_DIR / "cases.txt", "".join(n + "\n" for n in names))
    print("merge fixture:")
    write_merge_fixture()
    total = sum(f.stat().st_size for d in (PEFT_DIR, MERGE_DIR) for f in d.rglob("*") if f.is_file())
    print(f"{len(names)} layer cases; fixtures total {total} bytes")


if __name__ == "__main__":
    main()
