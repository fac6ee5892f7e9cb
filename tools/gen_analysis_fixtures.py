#!/usr/bin/env python3
"""Writes the fixtures of the weight-decomposition analysis (DoRA paper, section 3.2) and their expected numbers.

Run from the repository root:  /usr/bin/python3 tools/gen_analysis_fixtures.py

The base model is core/src/test/resources/fixtures/models/llama_gqa (read with the small safetensors reader
below). Three fake training runs are written under core/src/test/resources/fixtures/analysis/, laid out as
`dora4j train` lays out its --out directory:

  lora/  run.json (method "lora"), metrics.jsonl, checkpoints/step-2, checkpoints/step-4, final adapter (step 6)
  dora/  no run.json (the method comes from use_dora), rsLoRA with rank_pattern and alpha_pattern,
         checkpoints/step-3, checkpoints/step-6, final adapter equal to step 6 (counted once)
  full/  run.json (method "full"), checkpoints/step-5 stored as F16, final model.safetensors (step 10)

expected.json holds, computed in float64 from the stored tensors, every point (run, method, step, layer, module,
delta_m, delta_d) for modules q_proj and v_proj, and per run the Pearson correlation of delta_m against delta_d,
the least-squares slope and intercept of delta_m = intercept + slope * delta_d, and the means. With W_t the merged
weight (LoRA: W + s B A; DoRA: (m / ||W + s B A||) (W + s B A) row-wise) and W_0 the base weight, per output row:
delta_m = mean |‖W_t,row‖ − ‖W_0,row‖|, delta_d = mean (1 − cos(W_t,row, W_0,row)).
Everything is seeded; a rerun rewrites identical bytes.
"""
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "core" / "src" / "test" / "resources" / "fixtures"
BASE_DIR = FIXTURES / "models" / "llama_gqa"
OUT_DIR = FIXTURES / "analysis"
MODULES = ["q_proj", "v_proj"]
ST_DTYPES = {"F32": "<f4", "F16": "<f2"}
PREFIX = "base_model.model."


def read_safetensors(path):
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + e], ST_DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
    return out


def write_safetensors(path, tensors, dtype="F32"):
    """tensors: list of (name, array), written in that order with the given dtype."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors:
        data = np.ascontiguousarray(t).astype(ST_DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    write_atomic(path, len(head).to_bytes(8, "little") + head + b"".join(blobs))


def write_atomic(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    os.replace(tmp, path)


def write_json(path, obj):
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def stored(values, dtype):
    """The float64 values a reader gets back from a tensor stored with this dtype."""
    return np.asarray(values).astype(ST_DTYPES[dtype]).astype(np.float64)


# ------------------------------------------------------------------------------------------------ the analysis


def delta_m_d(w_t, w_0):
    """w_t, w_0: [out, in] float64 -> (mean |‖W_t,row‖ − ‖W_0,row‖|, mean (1 − cos)) over output rows."""
    nt = np.sqrt((w_t * w_t).sum(axis=1))
    n0 = np.sqrt((w_0 * w_0).sum(axis=1))
    dot = (w_t * w_0).sum(axis=1)
    both = (nt > 0) & (n0 > 0)
    cos = np.where(both, dot / np.where(both, nt * n0, 1.0), np.where((nt == 0) & (n0 == 0), 1.0, 0.0))
    return float(np.mean(np.abs(nt - n0))), float(np.mean(1.0 - cos))


def merged(w_0, a, b, magnitude, scaling):
    """PEFT's merge in float64: LoRA W + s B A; DoRA (m / ‖W + s B A‖) (W + s B A), a zero-norm row scaled by 0."""
    v = w_0 + scaling * (b @ a)
    if magnitude is None:
        return v
    norm = np.sqrt((v * v).sum(axis=1))
    scale = np.where(norm > 0, magnitude / np.where(norm > 0, norm, 1.0), 0.0)
    return scale[:, None] * v


def fit(points):
    x = np.array([p["delta_d"] for p in points])
    y = np.array([p["delta_m"] for p in points])
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy, sxy = (dx * dx).sum(), (dy * dy).sum(), (dx * dy).sum()
    slope = sxy / sxx
    return {
        "points": len(points),
        "pearson": float(sxy / math.sqrt(sxx * syy)),
        "slope": float(slope),
        "intercept": float(y.mean() - slope * x.mean()),
        "mean_delta_m": float(y.mean()),
        "mean_delta_d": float(x.mean()),
    }


# ------------------------------------------------------------------------------------------------- fake runs


def module_path(layer, module):
    return f"model.layers.{layer}.self_attn.{module}"


def adapter_config(r, alpha, targets, dora, rslora=False, rank_pattern=None, alpha_pattern=None):
    return {
        "alpha_pattern": alpha_pattern or {}, "base_model_name_or_path": "llama_gqa", "bias": "none",
        "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True, "lora_alpha": alpha,
        "lora_dropout": 0.0, "modules_to_save": None, "peft_type": "LORA", "r": r, "rank_pattern": rank_pattern or {},
        "target_modules": targets, "task_type": "CAUSAL_LM", "use_dora": dora, "use_rslora": rslora,
    }


def rank_and_scaling(cfg, module):
    r = cfg["rank_pattern"].get(module, cfg["r"])
    alpha = float(np.float32(cfg["alpha_pattern"].get(module, cfg["lora_alpha"])))
    return r, (alpha / math.sqrt(r) if cfg["use_rslora"] else alpha / r)


def trainer_state(step):
    return {"dropout_positions": {}, "optimizer_steps": step, "step": step}


def metrics_lines(last_step, eval_every, rng):
    lines = []
    for step in range(1, last_step + 1):
        lines.append({"step": step, "epoch": 0, "loss": round(4.0 - 0.3 * step + 0.05 * rng.standard_normal(), 6),
                      "lr": 0.01, "grad_norm": 1.0, "tokens": 512, "tokens_per_s": 1000.0, "step_s": 0.5})
        if step % eval_every == 0:
            lines.append({"step": step, "eval_loss": round(4.2 - 0.25 * step, 6), "eval_perplexity": 1.0,
                          "eval_tokens": 256})
    return "".join(json.dumps(line) + "\n" for line in lines)


def adapter_run(name, base, cfg, steps, final_step, rng, run_json, points):
    """Writes checkpoints at `steps` and the final adapter (at `final_step`); appends the expected points."""
    run_dir = OUT_DIR / name
    method = "dora" if cfg["use_dora"] else "lora"
    layers = sorted({int(k.split(".")[2]) for k in base if k.startswith("model.layers.")})
    targets = cfg["target_modules"]
    direction = {}
    for layer in layers:
        for module in targets:
            w = base[module_path(layer, module) + ".weight"]
            r, _ = rank_and_scaling(cfg, module)
            direction[layer, module] = (rng.standard_normal((r, w.shape[1])) * 0.3,
                                        rng.standard_normal((w.shape[0], r)) * 0.01,
                                        rng.standard_normal(w.shape[0]) * 0.05)
    snapshots = {}
    for step in sorted(set(steps) | {final_step}):
        tensors, t = [], step / final_step
        for layer in layers:
            for module in targets:
                path = module_path(layer, module)
                w0 = base[path + ".weight"].astype(np.float64)
                a0, b0, dm = direction[layer, module]
                r, s = rank_and_scaling(cfg, module)
                a = stored(a0 * (1 + 0.2 * t), "F32")
                b = stored(b0 * t * (1 + layer), "F32")
                tensors += [(PREFIX + path + ".lora_A.weight", a), (PREFIX + path + ".lora_B.weight", b)]
                m = None
                if cfg["use_dora"]:
                    v = w0 + s * (b @ a)
                    m = stored(np.sqrt((v * v).sum(axis=1)) * (1 + dm * t), "F32")
                    tensors.append((PREFIX + path + ".lora_magnitude_vector", m))
                if module in MODULES:
                    d_m, d_d = delta_m_d(merged(w0, a, b, m, s), w0)
                    snapshots.setdefault(step, []).append(
                        {"run": name, "method": method, "step": step, "layer": layer, "module": module,
                         "delta_m": d_m, "delta_d": d_d})
        dirs = ([run_dir / "checkpoints" / f"step-{step}"] if step in steps else []) + (
            [run_dir] if step == final_step else [])
        for d in dirs:
            write_safetensors(d / "adapter_model.safetensors", tensors)
            write_json(d / "adapter_config.json", cfg)
            if d != run_dir:
                write_json(d / "trainer_state.json", trainer_state(step))
    for step in sorted(snapshots):
        points += snapshots[step]
    write_atomic(run_dir / "metrics.jsonl", metrics_lines(final_step, 3, rng))
    if run_json is not None:
        write_json(run_dir / "run.json", run_json)


def full_run(name, base, config_text, rng, points):
    """Checkpoint step-5 stored as F16, final model (step 10) as F32; every tensor perturbed."""
    run_dir = OUT_DIR / name
    noise = {k: rng.standard_normal(v.shape) for k, v in base.items()}
    for step, dtype, target in [(5, "F16", run_dir / "checkpoints" / "step-5"), (10, "F32", run_dir)]:
        t = step / 10
        weights = {}
        for k, v in base.items():
            scale = 0.004 * t * (1 + 2 * ("v_proj" in k)) if v.ndim == 2 else 0.01 * t
            rows = np.linspace(0.8, 1.3, v.shape[0])[:, None] if v.ndim == 2 else 1.0
            weights[k] = stored(v.astype(np.float64) * (1 + 0.05 * t * rows) + scale * noise[k], dtype)
        write_safetensors(target / "model.safetensors", sorted(weights.items()), dtype)
        write_atomic(target / "config.json", config_text)
        if target != run_dir:
            write_json(target / "trainer_state.json", trainer_state(step))
        for layer in sorted({int(k.split(".")[2]) for k in base if k.startswith("model.layers.")}):
            for module in MODULES:
                key = module_path(layer, module) + ".weight"
                d_m, d_d = delta_m_d(weights[key], base[key].astype(np.float64))
                points.append({"run": name, "method": "full", "step": step, "layer": layer, "module": module,
                               "delta_m": d_m, "delta_d": d_d})
    write_atomic(run_dir / "metrics.jsonl", metrics_lines(10, 5, rng))
    write_json(run_dir / "run.json", {"method": "full", "steps": 10, "lr": 0.001, "saveEvery": 5})


def main():
    base = read_safetensors(BASE_DIR / "model.safetensors")
    if OUT_DIR.exists():
        shutil.rmtree(OUT_DIR)
    rng = np.random.default_rng(20240214)
    points = []
    lora = adapter_config(4, 8, ["q_proj", "k_proj", "v_proj"], dora=False)
    adapter_run("lora", base, lora, [2, 4], 6, rng, {"method": "lora", "steps": 6, "lr": 0.01, "saveEvery": 2}, points)
    dora = adapter_config(4, 6, ["q_proj", "v_proj", "o_proj"], dora=True, rslora=True, rank_pattern={"v_proj": 2},
                          alpha_pattern={"v_proj": 4})
    adapter_run("dora", base, dora, [3, 6], 6, rng, None, points)
    full_run("full", base, (BASE_DIR / "config.json").read_text(), rng, points)
    summary = {}
    for run in ["lora", "dora", "full"]:
        summary[run] = fit([p for p in points if p["run"] == run])
        summary[run]["method"] = next(p["method"] for p in points if p["run"] == run)
    write_json(OUT_DIR / "expected.json", {"modules": MODULES, "points": points, "summary": summary})
    for run, s in summary.items():
        print(f"{run}: {s['points']} points, pearson {s['pearson']:.6f}, slope {s['slope']:.6f}")


if __name__ == "__main__":
    main()
