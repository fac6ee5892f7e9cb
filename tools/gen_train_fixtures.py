#!/usr/bin/env python3
"""Writes PyTorch reference fixtures for dora4j's training loop: optimiser steps (SGD, AdamW), gradient clipping, a
separate magnitude learning rate and gradient accumulation, for LoRA, DoRA and full fine-tuning of a tiny Llama.

Run from the repository root with Debian's torch:  /usr/bin/python3 tools/gen_train_fixtures.py

The model, its adapters and the batch are the whole-model fixtures of gen_model_fixtures.py
(fixtures/models/llama_gqa/); the forward (transformers' LlamaForCausalLM, PEFT's LoRA / DoRA with the weight norm
detached) and the loss (ForCausalLMLoss) are imported from it. The optimisers are torch.optim.SGD / torch.optim.AdamW
and torch.nn.utils.clip_grad_norm_, cross-checked against a numpy re-implementation. Everything is computed in
float64 from the stored float32 tensors and rounded to float32 once. Seeded; a rerun rewrites identical bytes.
See tools/README.md.
"""
import json
import math
import re
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True   # no tools/__pycache__ from the imports below
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_model_fixtures as gm   # noqa: E402  (Llama forward with PEFT's LoRA/DoRA, safetensors I/O with I64)

ROOT = Path(__file__).resolve().parent.parent
TRAIN_DIR = ROOT / "core" / "src" / "test" / "resources" / "fixtures" / "train"
MODEL_NAME = "llama_gqa"
MODEL_DIR = gm.MODELS_DIR / MODEL_NAME
SPEC = next(s for s in gm.MODELS if s["name"] == MODEL_NAME)
F64 = torch.float64
IGNORE_INDEX = -100
BETAS, EPS = (0.9, 0.999), 1e-8

# transformers Trainer.get_decay_parameter_names (trainer.py on main): parameters inside an nn.LayerNorm module, or
# whose lower-cased name matches one of these patterns (re.search), get weight_decay 0.0; all others get
# args.weight_decay. LlamaRMSNorm is not an nn.LayerNorm, so for Llama only the name patterns matter.
TRAINER_NO_DECAY_PATTERNS = [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]


def trainer_decays(name):
    return not any(re.search(p, name.lower()) for p in TRAINER_NO_DECAY_PATTERNS)


def peft_runtime_name(key):
    """The name Trainer sees in a PeftModel's named_parameters() for a saved adapter key (adapter name 'default';
    the DoRA magnitude is the weight of a DoraLinearLayer held in the ModuleDict lora_magnitude_vector)."""
    if key.endswith(".lora_magnitude_vector"):
        return key + ".default.weight"
    return re.sub(r"\.(lora_[AB])\.weight$", r".\1.default.weight", key)


# ----------------------------------------------------------------------------------------------- cases

def case(name, method, optimizer, lr, steps, weight_decay=0.0, max_grad_norm=0.0, magnitude_lr_ratio=1.0,
         accum=False):
    return dict(name=name, method=method, optimizer=optimizer, lr=lr, steps=steps, weight_decay=weight_decay,
                max_grad_norm=max_grad_norm, magnitude_lr_ratio=magnitude_lr_ratio, accum=accum)


CASES = [
    case("sgd_lora", "lora", "sgd", 0.1, 1),
    case("sgd_dora", "dora", "sgd", 0.1, 1),
    case("sgd_full", "full", "sgd", 0.1, 1),
    case("adamw_lora", "lora", "adamw", 1e-2, 3, weight_decay=0.01),
    case("adamw_dora", "dora", "adamw", 1e-2, 3, weight_decay=0.01),
    case("adamw_full", "full", "adamw", 1e-2, 3, weight_decay=0.01),
    case("adamw_dora_clip", "dora", "adamw", 1e-2, 3, weight_decay=0.01, max_grad_norm=0.05),
    case("adamw_dora_magratio", "dora", "adamw", 1e-2, 3, weight_decay=0.01, magnitude_lr_ratio=4.0),
    case("accum_dora", "dora", "sgd", 0.1, 1, accum=True),
]
ACCUM_BATCH, ACCUM_SEQ, ACCUM_MICRO = 8, 6, 2
# label positions set to -100 in the accumulation batch: (sequence, positions). Position 0 is never a target; the
# masks make the micro-batches (0,1) (2,3) (4,5) (6,7) hold 8, 9, 6 and 9 targets, so a mean of per-micro-batch means
# differs from the mean over the whole batch.
ACCUM_MASK = [(0, slice(0, 3)), (2, slice(5, 6)), (5, slice(1, 5)), (7, slice(3, 4))]


# ----------------------------------------------------------------------------------------------- inputs

def load_base():
    assert json.loads((MODEL_DIR / "config.json").read_text()) == gm.config_json(SPEC)
    weights, _ = gm.read_safetensors(MODEL_DIR / "model.safetensors")
    assert set(weights) == set(gm.weight_shapes(SPEC)) and len(weights) == 21
    assert all(v.dtype == torch.float32 for v in weights.values())
    return {k: v.to(F64) for k, v in weights.items()}   # widened exactly


def load_adapter(kind):
    """PEFT adapter dir -> (config, {PEFT key: float64 tensor}, scaling)."""
    d = MODEL_DIR / f"adapter_{kind}"
    cfg = json.loads((d / "adapter_config.json").read_text())
    tensors, _ = gm.read_safetensors(d / "adapter_model.safetensors")
    assert cfg["lora_dropout"] == 0.0 and cfg["use_dora"] == (kind == "dora") and not cfg["rank_pattern"] \
        and not cfg["alpha_pattern"]
    s = cfg["lora_alpha"] / math.sqrt(cfg["r"]) if cfg["use_rslora"] else cfg["lora_alpha"] / cfg["r"]
    modules = gm.linear_modules(SPEC, cfg["target_modules"])
    suffixes = [".lora_A.weight", ".lora_B.weight"] + ([".lora_magnitude_vector"] if cfg["use_dora"] else [])
    assert set(tensors) == {"base_model.model." + m + x for m in modules for x in suffixes}, kind
    return cfg, {k: v.to(F64) for k, v in sorted(tensors.items())}, s


def reference_batch():
    ref, _ = gm.read_safetensors(MODEL_DIR / "reference.safetensors")
    ids = ref["input_ids"]
    assert ids.dtype == torch.int64 and tuple(ids.shape) == (2, 7)
    return ids, ids.clone(), ref


def accum_batch():
    rng = np.random.default_rng(zlib.crc32(b"accum_dora"))
    ids = torch.from_numpy(rng.integers(0, SPEC["vocab"], (ACCUM_BATCH, ACCUM_SEQ))).to(torch.int64)
    labels = ids.clone()
    for row, cols in ACCUM_MASK:
        labels[row, cols] = IGNORE_INDEX
    return ids, labels


# ----------------------------------------------------------------------------------------------- model + loss

def for_causal_lm_loss(logits, labels, vocab_size, num_items_in_batch=None):
    """transformers loss/loss_utils.py ForCausalLMLoss + fixed_cross_entropy: with num_items_in_batch (what Trainer
    passes under gradient accumulation) the summed cross entropy is divided by that count, else it is the mean."""
    labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)
    shift_labels = labels[..., 1:].contiguous()
    logits = logits.reshape(-1, vocab_size)
    shift_labels = shift_labels.view(-1)
    reduction = "sum" if num_items_in_batch is not None else "mean"
    loss = F.cross_entropy(logits, shift_labels, ignore_index=IGNORE_INDEX, reduction=reduction)
    if reduction == "sum":
        loss = loss / num_items_in_batch
    return loss


def count_targets(labels):
    return int((labels[:, 1:] != IGNORE_INDEX).sum())


class Setup:
    """The trainable tensors of one method and the model built from them. params: (storage name, tensor)."""

    def __init__(self, method, base, adapter=None, scaling=None):
        self.method, self.base, self.scaling = method, base, scaling
        if method == "full":
            self.names = sorted(base)
            self.init = {k: base[k] for k in self.names}
        else:
            self.names = list(adapter)
            self.init = dict(adapter)

    def model(self, values):
        """values: storage name -> tensor (float64 or float32 leaves)."""
        if self.method == "full":
            return gm.CausalLM(SPEC, values)
        adapters = {}
        for key, t in values.items():
            module, _, part = key[len("base_model.model."):].rpartition(".lora_")
            a = adapters.setdefault(module, {"s": self.scaling})
            a[{"A.weight": "A", "B.weight": "B", "magnitude_vector": "m"}[part]] = t
        if self.method == "lora":
            assert all("m" not in a for a in adapters.values())
        return gm.CausalLM(SPEC, self.base, adapters)

    def loss(self, values, ids, labels, num_items_in_batch=None):
        return for_causal_lm_loss(self.model(values).logits(ids), labels, SPEC["vocab"], num_items_in_batch)

    def decays(self, name):
        runtime = name if self.method == "full" else peft_runtime_name(name)
        d = trainer_decays(runtime)
        assert d == trainer_decays(name)
        # the brief's rule: everything decays except the 1-D RMSNorm weights (there are no biases in llama_gqa)
        assert d == (not (self.method == "full" and name.endswith("norm.weight") and self.init[name].dim() == 1)), name
        return d


def param_groups(c, setup, leaves):
    """The optimizer's param groups, as Trainer.create_optimizer builds them (decay / no decay), plus a third group
    for the DoRA magnitudes (lr x magnitude_lr_ratio, decayed) when the ratio is not 1. Empty groups are dropped."""
    mag = lambda n: n.endswith(".lora_magnitude_vector") and c["magnitude_lr_ratio"] != 1.0
    groups = [
        {"params": [leaves[n] for n in setup.names if setup.decays(n) and not mag(n)],
         "weight_decay": c["weight_decay"], "lr": c["lr"]},
        {"params": [leaves[n] for n in setup.names if not setup.decays(n) and not mag(n)],
         "weight_decay": 0.0, "lr": c["lr"]},
        {"params": [leaves[n] for n in setup.names if mag(n)],
         "weight_decay": c["weight_decay"] if all(setup.decays(n) for n in setup.names if mag(n)) else 0.0,
         "lr": c["lr"] * c["magnitude_lr_ratio"]},
    ]
    return [g for g in groups if g["params"]]


def make_optimizer(c, groups):
    if c["optimizer"] == "sgd":
        assert c["weight_decay"] == 0.0
        return torch.optim.SGD(groups, lr=c["lr"], momentum=0.0, weight_decay=0.0, foreach=False)
    return torch.optim.AdamW(groups, lr=c["lr"], betas=BETAS, eps=EPS, weight_decay=c["weight_decay"],
                             amsgrad=False, foreach=False)


def global_grad_norm(grads):
    return math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))


# ----------------------------------------------------------------------------------------------- training runs

def backward(c, setup, leaves, batch):
    """Forward + backward for one optimizer step; returns the loss (for accum: the sum of the micro-batch losses,
    each divided by the target count of the whole batch)."""
    ids, labels = batch
    if not c["accum"]:
        loss = setup.loss(leaves, ids, labels)
        loss.backward()
        return loss.item()
    n_items = count_targets(labels)
    total = 0.0
    for i in range(0, ids.shape[0], ACCUM_MICRO):
        part = setup.loss(leaves, ids[i:i + ACCUM_MICRO], labels[i:i + ACCUM_MICRO], num_items_in_batch=n_items)
        part.backward()
        total += part.item()
    return total


def run_torch(c, setup, batch, dtype=F64):
    """The run with torch.optim and clip_grad_norm_. Returns (final tensors, losses, grad norms, step-1 grads)."""
    leaves = {n: setup.init[n].to(dtype).clone().requires_grad_() for n in setup.names}
    opt = make_optimizer(c, param_groups(c, setup, leaves))
    params = [leaves[n] for n in setup.names]
    losses, norms, first_grads = [], [], None
    for _ in range(c["steps"]):
        opt.zero_grad(set_to_none=True)
        losses.append(backward(c, setup, leaves, batch))
        norm = global_grad_norm([p.grad for p in params])
        if first_grads is None:
            first_grads = {n: leaves[n].grad.detach().clone() for n in setup.names}
        if c["max_grad_norm"] > 0:
            returned = torch.nn.utils.clip_grad_norm_(params, max_norm=c["max_grad_norm"]).item()
            assert math.isclose(returned, norm, rel_tol=1e-12 if dtype == F64 else 1e-5)
            assert norm > c["max_grad_norm"] * 1.5, (c["name"], norm)   # it really clips, at every step
        norms.append(norm)
        opt.step()
    with torch.no_grad():
        loss_after = setup.loss(leaves, *batch[:2]).item() if not c["accum"] else None
    return {n: leaves[n].detach() for n in setup.names}, losses, norms, first_grads, loss_after


def run_numpy(c, setup, batch):
    """The same run with the optimizer, clipping and parameter groups written out in numpy (float64); autograd
    only for the gradients. The formulas are those of torch 1.13 _single_tensor_adamw / sgd and clip_grad_norm_."""
    values = {n: setup.init[n].numpy().copy() for n in setup.names}
    m = {n: np.zeros_like(v) for n, v in values.items()}
    v2 = {n: np.zeros_like(v) for n, v in values.items()}
    b1, b2 = BETAS
    for t in range(1, c["steps"] + 1):
        leaves = {n: torch.from_numpy(values[n].copy()).requires_grad_() for n in setup.names}
        backward(c, setup, leaves, batch)
        grads = {n: leaves[n].grad.numpy().copy() for n in setup.names}
        total = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
        if c["max_grad_norm"] > 0:
            coef = min(c["max_grad_norm"] / (total + 1e-6), 1.0)   # clip_grad_norm_: + 1e-6, clamp at 1
            grads = {n: g * coef for n, g in grads.items()}
        for n in setup.names:
            lr = c["lr"] * (c["magnitude_lr_ratio"] if n.endswith(".lora_magnitude_vector") else 1.0)
            wd = c["weight_decay"] if setup.decays(n) else 0.0
            p, g = values[n], grads[n]
            if c["optimizer"] == "sgd":
                values[n] = p - lr * g
                continue
            p = p * (1 - lr * wd)
            m[n] = b1 * m[n] + (1 - b1) * g
            v2[n] = b2 * v2[n] + (1 - b2) * g * g
            step_size = lr / (1 - b1 ** t)
            denom = np.sqrt(v2[n]) / math.sqrt(1 - b2 ** t) + EPS
            values[n] = p - step_size * m[n] / denom
    return values


def run_float32(c, setup, batch):
    """The same run entirely in float32 (model, gradients, optimizer state): how far a float32 implementation is
    from the stored float64-computed values. gen_model_fixtures computes RoPE tables and the causal mask in its F64;
    they are switched to float32 (as transformers computes them) for the duration of this run."""
    saved = gm.F64, dict(gm.ROPE_INIT_FUNCTIONS)
    try:
        gm.F64 = torch.float32
        for key, fn in saved[1].items():
            gm.ROPE_INIT_FUNCTIONS[key] = lambda s, fn=fn: fn(s, dtype=torch.float32)
        base32 = {k: v.to(torch.float32) for k, v in setup.base.items()}
        s32 = Setup(setup.method, base32, None if setup.method == "full" else setup.init, setup.scaling)
        out, losses, norms, _, _ = run_torch(c, s32, batch, dtype=torch.float32)
    finally:
        gm.F64 = saved[0]
        gm.ROPE_INIT_FUNCTIONS.clear()
        gm.ROPE_INIT_FUNCTIONS.update(saved[1])
    return out, losses, norms


# ----------------------------------------------------------------------------------------------- checks

def check_first_gradients(c, setup, grads, batch):
    """Step-1 gradients: dora / full against fixtures/models/llama_gqa/gradients.safetensors (stored F32); lora by
    central differences."""
    if c["accum"]:
        return ""
    if c["method"] == "lora":
        leaves = {n: setup.init[n].clone() for n in setup.names}
        with torch.no_grad():
            worst = gm.finite_difference_check(lambda: setup.loss(leaves, *batch), list(leaves.items()),
                                               [grads[n] for n in setup.names], np.random.default_rng(7))
        return f"; step-1 gradients vs finite differences max |err| {worst:.1e}"
    stored, _ = gm.read_safetensors(MODEL_DIR / "gradients.safetensors")
    prefix = "fullgrad." if c["method"] == "full" else "grad."
    for n in setup.names:
        ref = stored[prefix + n].to(F64)
        assert torch.allclose(grads[n], ref, rtol=1e-6, atol=1e-9), (c["name"], n)
    return "; step-1 gradients = models/llama_gqa/gradients.safetensors"


def check_accumulation(setup, batch):
    """One batch of 8 with the mean loss == 4 micro-batches of 2, each sum / global target count, gradients summed;
    the naive mean of the micro-batch means is different."""
    ids, labels = batch
    full = {n: setup.init[n].clone().requires_grad_() for n in setup.names}
    loss = setup.loss(full, ids, labels)
    loss.backward()
    micro = {n: setup.init[n].clone().requires_grad_() for n in setup.names}
    total = 0.0
    n_items = count_targets(labels)
    counts = []
    for i in range(0, ids.shape[0], ACCUM_MICRO):
        part = setup.loss(micro, ids[i:i + ACCUM_MICRO], labels[i:i + ACCUM_MICRO], num_items_in_batch=n_items)
        part.backward()
        total += part.item()
        counts.append(count_targets(labels[i:i + ACCUM_MICRO]))
    assert math.isclose(total, loss.item(), rel_tol=1e-13)
    for n in setup.names:
        assert torch.allclose(full[n].grad, micro[n].grad, rtol=1e-12, atol=1e-15), n
    naive = {n: setup.init[n].clone().requires_grad_() for n in setup.names}
    means = []
    for i in range(0, ids.shape[0], ACCUM_MICRO):
        part = setup.loss(naive, ids[i:i + ACCUM_MICRO], labels[i:i + ACCUM_MICRO]) / len(counts)
        part.backward()
        means.append(part.item())
    gap = max(float((naive[n].grad - full[n].grad).abs().max()) for n in setup.names)
    assert abs(sum(means) - loss.item()) > 1e-3 and gap > 1e-4, (sum(means), loss.item(), gap)
    return n_items, counts, loss.item(), sum(means)


def compare(a, b):
    """max |a - b| and max |a - b| / max |b| over all tensors."""
    worst_abs = max(float((a[n].double() - b[n].double()).abs().max()) for n in b)
    worst_rel = max(float((a[n].double() - b[n].double()).abs().max() / b[n].double().abs().max()) for n in b)
    return worst_abs, worst_rel


# ----------------------------------------------------------------------------------------------- output

def metadata(c, setup, losses, norms, loss_after, extra):
    none = "none"
    meta = {
        "format": "pt", "case": c["name"], "method": c["method"], "optimizer": c["optimizer"],
        "lr": repr(c["lr"]), "weight_decay": repr(c["weight_decay"]),
        "betas": ",".join(repr(b) for b in BETAS) if c["optimizer"] == "adamw" else none,
        "eps": repr(EPS) if c["optimizer"] == "adamw" else none,
        "momentum": "0.0" if c["optimizer"] == "sgd" else none,
        "steps": str(c["steps"]), "max_grad_norm": repr(c["max_grad_norm"]),
        "magnitude_lr_ratio": repr(c["magnitude_lr_ratio"]),
        "no_decay": ",".join(n for n in setup.names if not setup.decays(n)) if c["optimizer"] == "adamw" else "",
        "base_model": f"models/{MODEL_NAME}",
        "adapter": f"models/{MODEL_NAME}/adapter_{c['method']}" if c["method"] != "full" else none,
        "trainable": f"{len(setup.names)} tensors",
        "loss_values": ",".join(repr(x) for x in losses), "grad_norm_values": ",".join(repr(x) for x in norms),
        "compute": "float64 from the stored float32 tensors; outputs rounded to float32 once",
    }
    if c["method"] != "full":
        meta["scaling"] = repr(setup.scaling)
    if c["method"] == "dora":
        meta["norm_grad"] = "detached"
    if loss_after is not None:
        meta["loss_after_value"] = repr(loss_after)
    meta.update(extra)
    return meta


def describe(c):
    what = {"lora": "LoRA (adapter_lora: rsLoRA r 4, alpha 8, q/k/o/gate_proj)",
            "dora": "DoRA (adapter_dora: r 4, alpha 8, q/v/up/down_proj; weight norm detached as PEFT)",
            "full": "full fine-tuning (all 21 base weights trainable)"}[c["method"]]
    if c["optimizer"] == "sgd":
        opt = f"torch.optim.SGD lr {c['lr']} (no momentum, no weight decay), {c['steps']} step"
    else:
        opt = (f"torch.optim.AdamW lr {c['lr']} betas {BETAS} eps {EPS} weight_decay {c['weight_decay']} "
               f"(not on the no_decay tensors), constant lr, {c['steps']} steps on the same batch")
    if c["max_grad_norm"]:
        opt += f"; clip_grad_norm_(max_norm={c['max_grad_norm']}) before every step"
    if c["magnitude_lr_ratio"] != 1.0:
        opt += f"; magnitude vectors in their own param group with lr x {c['magnitude_lr_ratio']}"
    if c["accum"]:
        batch = (f"input_ids/labels of this file ({ACCUM_BATCH}x{ACCUM_SEQ}, some labels -100); loss = mean CE over "
                 f"all targets of the {ACCUM_BATCH} sequences = sum over {ACCUM_BATCH // ACCUM_MICRO} micro-batches "
                 f"of {ACCUM_MICRO} of (summed CE / num_items_in_batch)")
    else:
        batch = f"models/{MODEL_NAME}/reference.safetensors input_ids, labels = input_ids (unmasked mean CE)"
    return f"{what}; {opt}; batch: {batch}"


def run_case(c, base, batches):
    if c["method"] == "full":
        setup = Setup("full", base)
    else:
        _, adapter, s = load_adapter(c["method"])
        setup = Setup(c["method"], base, adapter, s)
    batch = batches["accum" if c["accum"] else "ref"]
    notes, extra = [], {}
    if c["accum"]:
        n_items, counts, mean_loss, naive = check_accumulation(setup, batch)
        extra = {"num_items_in_batch": str(n_items), "micro_batches": f"{len(counts)}x{ACCUM_MICRO}",
                 "micro_batch_targets": ",".join(map(str, counts))}
        notes.append(f"{n_items} targets in micro-batches {counts}: global mean {mean_loss:.6f} (mean of micro-batch "
                     f"means would be {naive:.6f}); 8-batch gradient = sum of 4 micro-batch gradients")

    final, losses, norms, first_grads, loss_after = run_torch(c, setup, batch)
    manual = run_numpy(c, setup, batch)
    worst = max(float(np.abs(final[n].numpy() - manual[n]).max() / np.abs(manual[n]).max()) for n in setup.names)
    assert worst < 1e-12, (c["name"], worst)
    notes.append(f"torch.optim vs numpy re-implementation: max rel diff {worst:.1e}"
                 + check_first_gradients(c, setup, first_grads, batch))
    moved = max(float((final[n] - setup.init[n]).abs().max()) for n in setup.names)
    assert moved > 1e-3, (c["name"], moved)
    if c["magnitude_lr_ratio"] != 1.0:   # after one step only the magnitudes differ from the ratio-1 run
        one = {**c, "steps": 1}
        ratio, plain = run_torch(one, setup, batch)[0], run_torch({**one, "magnitude_lr_ratio": 1.0}, setup, batch)[0]
        for n in setup.names:
            assert torch.equal(ratio[n], plain[n]) != n.endswith(".lora_magnitude_vector"), n
    f32_out, f32_losses, f32_norms = run_float32(c, setup, batch)
    f_abs, f_rel = compare(f32_out, final)
    notes.append(f"loss {[round(x, 6) for x in losses]}, grad norm {[round(x, 6) for x in norms]}; float32 rerun: "
                 f"max |diff| {f_abs:.1e} (rel. to tensor max {f_rel:.1e}), loss diff "
                 f"{max(abs(a - b) for a, b in zip(f32_losses, losses)):.1e}")

    tensors = [(n, gm.f32(final[n])) for n in setup.names]
    if c["accum"]:
        tensors += [("input_ids", batch[0]), ("labels", batch[1])]
    tensors += [(f"loss.{k}", torch.tensor([x], dtype=torch.float32)) for k, x in enumerate(losses, 1)]
    tensors += [(f"grad_norm.{k}", torch.tensor([x], dtype=torch.float32)) for k, x in enumerate(norms, 1)]
    meta = metadata(c, setup, losses, norms, loss_after, extra)
    meta["description"] = describe(c)
    path = TRAIN_DIR / f"{c['name']}.safetensors"
    gm.write_safetensors(path, tensors, meta)
    gm.check_round_trip(path, tensors, meta)
    return path, notes


def main():
    torch.set_num_threads(1)
    TRAIN_DIR.mkdir(parents=True, exist_ok=True)
    for stale in TRAIN_DIR.glob("*.safetensors"):
        stale.unlink()
    base = load_base()
    ids, labels, ref = reference_batch()
    # the imported forward reproduces the stored reference losses
    for kind in ("", "_dora", "_lora"):
        if kind:
            _, adapter, s = load_adapter(kind[1:])
            setup = Setup(kind[1:], base, adapter, s)
            values = setup.init
        else:
            setup, values = Setup("full", base), base
        with torch.no_grad():
            loss = setup.loss(values, ids, labels)
            assert math.isclose(loss.item(), ref["loss" + kind].item(), rel_tol=1e-6)
            assert math.isclose(loss.item(), gm.causal_lm_loss(setup.model(values).logits(ids), labels,
                                                                SPEC["vocab"]).item(), rel_tol=1e-14)
    batches = {"ref": (ids, labels), "accum": accum_batch()}
    for c in CASES:
        path, notes = run_case(c, base, batches)
        print(f"{path.name}: {path.stat().st_size} bytes")
        for note in notes:
            print("  " + note)
    total = sum(f.stat().st_size for f in TRAIN_DIR.glob("*.safetensors"))
    assert total < 1_000_000, total
    print(f"train fixtures total {total} bytes")


if __name__ == "__main__":
    main()
