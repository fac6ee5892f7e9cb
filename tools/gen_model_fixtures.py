#!/usr/bin/env python3
"""Writes whole-model PyTorch reference fixtures (Llama, Mistral, Qwen2) that dora4j's tests compare against.

Run from the repository root with Debian's torch:  /usr/bin/python3 tools/gen_model_fixtures.py

transformers and PEFT are not dependencies. The forward pass re-implements, statement by statement, Hugging Face
transformers' modeling_llama.py / modeling_mistral.py / modeling_qwen2.py (eager attention path), the RoPE
initialisers of modeling_rope_utils.py and ForCausalLMLoss of loss/loss_utils.py. The LoRA / DoRA semantics are
PEFT's, imported from gen_peft_fixtures.py (the layer-fixture generator). Everything is computed in float64 from
the stored weights widened, and cross-checked against an independent loop-by-loop numpy implementation.
Everything is seeded; a rerun rewrites identical bytes. See tools/README.md.
"""
import json
import math
import shutil
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True   # no tools/__pycache__ from the import below
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_peft_fixtures as peft  # noqa: E402  (PEFT semantics, adapter_config, write_atomic, safetensors order)

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "core" / "src" / "test" / "resources" / "fixtures" / "models"
F64 = torch.float64
BATCH, SEQ = 2, 7
IGNORE_INDEX = -100

# ----------------------------------------------------------------------------------------------- safetensors
# The writer and reader of gen_peft_fixtures (F32, F16, BF16 and I64 for token ids and labels).

write_safetensors = peft.write_safetensors
read_safetensors = peft.read_safetensors


def check_round_trip(path, tensors, meta):
    back, back_meta = read_safetensors(path)
    assert back_meta == {k: str(v) for k, v in meta.items()}, path
    assert list(back) == [k for k, _ in tensors], path
    for k, v in tensors:
        assert back[k].dtype == v.dtype and torch.equal(back[k], v), (path, k)


# ----------------------------------------------------------------------------------------------- model specs

def spec(name, arch, hidden, inter, layers, heads, kv_heads, vocab, theta, eps, dtype, tie=False, rope_scaling=None,
         max_pos=128, adapters=False, gradients=False):
    return dict(name=name, arch=arch, hidden=hidden, inter=inter, layers=layers, heads=heads, kv_heads=kv_heads,
                vocab=vocab, theta=theta, eps=eps, dtype=dtype, tie=tie, rope_scaling=rope_scaling, max_pos=max_pos,
                adapters=adapters, gradients=gradients)


MODELS = [
    spec("llama_gqa", "llama", 32, 48, 2, 4, 2, 64, 50000.0, 1e-5, torch.float32, adapters=True, gradients=True),
    spec("llama_bf16_tied", "llama", 24, 40, 2, 3, 3, 48, 500000.0, 1e-5, torch.bfloat16, tie=True,
         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 16}),
    spec("mistral", "mistral", 32, 56, 2, 4, 1, 56, 1000000.0, 1e-6, torch.float16, max_pos=256),
    spec("qwen2", "qwen2", 32, 48, 2, 4, 2, 64, 1000000.0, 1e-6, torch.float32, adapters=True),
    spec("llama_linear_rope", "llama", 16, 24, 2, 2, 2, 40, 10000.0, 1e-6, torch.float32,
         rope_scaling={"type": "linear", "factor": 2.0}, max_pos=64),
]

DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}
ARCH = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}


def head_dim(s):
    return s["hidden"] // s["heads"]


def config_json(s):
    """config.json as the arch's PretrainedConfig.to_json_string writes it (sorted keys, indent 2)."""
    cfg = {"architectures": [ARCH[s["arch"]]], "model_type": s["arch"], "attention_dropout": 0.0,
           "hidden_act": "silu", "hidden_size": s["hidden"], "initializer_range": 0.02,
           "intermediate_size": s["inter"], "max_position_embeddings": s["max_pos"],
           "num_attention_heads": s["heads"], "num_hidden_layers": s["layers"],
           "num_key_value_heads": s["kv_heads"], "rms_norm_eps": s["eps"], "rope_theta": s["theta"],
           "tie_word_embeddings": s["tie"], "torch_dtype": DTYPE_NAMES[s["dtype"]], "transformers_version": "4.48.3",
           "use_cache": True, "vocab_size": s["vocab"]}
    if s["arch"] == "llama":
        cfg.update({"attention_bias": False, "bos_token_id": 1, "eos_token_id": 2, "head_dim": head_dim(s),
                    "mlp_bias": False, "pretraining_tp": 1, "rope_scaling": s["rope_scaling"]})
    elif s["arch"] == "mistral":  # like Mistral-7B-v0.1's config: no rope_scaling field at all
        cfg.update({"bos_token_id": 1, "eos_token_id": 2, "head_dim": head_dim(s), "sliding_window": None})
    else:  # qwen2: no head_dim field (derived); sliding window off, and >= any sequence anyway
        cfg.update({"bos_token_id": s["vocab"] - 1, "eos_token_id": s["vocab"] - 1, "max_window_layers": s["layers"],
                    "rope_scaling": None, "sliding_window": 32768, "use_sliding_window": False})
    return cfg


def weight_shapes(s):
    h, i, v, d = s["hidden"], s["inter"], s["vocab"], head_dim(s)
    q, kv = s["heads"] * d, s["kv_heads"] * d
    shapes = {"model.embed_tokens.weight": (v, h)}
    for n in range(s["layers"]):
        p = f"model.layers.{n}."
        shapes[p + "self_attn.q_proj.weight"] = (q, h)
        shapes[p + "self_attn.k_proj.weight"] = (kv, h)
        shapes[p + "self_attn.v_proj.weight"] = (kv, h)
        if s["arch"] == "qwen2":  # Qwen2Attention: q/k/v with bias=True, o_proj bias=False
            shapes[p + "self_attn.q_proj.bias"] = (q,)
            shapes[p + "self_attn.k_proj.bias"] = (kv,)
            shapes[p + "self_attn.v_proj.bias"] = (kv,)
        shapes[p + "self_attn.o_proj.weight"] = (h, q)
        shapes[p + "mlp.gate_proj.weight"] = (i, h)
        shapes[p + "mlp.up_proj.weight"] = (i, h)
        shapes[p + "mlp.down_proj.weight"] = (h, i)
        shapes[p + "input_layernorm.weight"] = (h,)
        shapes[p + "post_attention_layernorm.weight"] = (h,)
    shapes["model.norm.weight"] = (h,)
    if not s["tie"]:
        shapes["lm_head.weight"] = (v, h)
    return shapes


def make_weights(s, rng):
    """Stored weights in the model's dtype: linear weights N(0, 0.2), embeddings N(0, 0.3), biases N(0, 0.2),
    norm weights 1 + N(0, 0.1). Drawn in float32, then rounded to the storage dtype."""
    weights = {}
    for name, shape in weight_shapes(s).items():
        if name.endswith("norm.weight"):
            a = 1.0 + rng.normal(0.0, 0.1, shape)
        elif "embed_tokens" in name:
            a = rng.normal(0.0, 0.3, shape)
        else:
            a = rng.normal(0.0, 0.2, shape)
        weights[name] = torch.from_numpy(np.asarray(a, dtype=np.float32)).to(s["dtype"])
    return weights


# --------------------------------------------------------------- transformers, mirrored in torch (float64 compute)
# Followed: transformers 4.48 src/transformers/models/llama/modeling_llama.py (LlamaRMSNorm, LlamaRotaryEmbedding,
# rotate_half, apply_rotary_pos_emb, LlamaMLP, repeat_kv, eager_attention_forward, LlamaAttention, LlamaDecoderLayer,
# LlamaModel.forward, LlamaModel._prepare_4d_causal_attention_mask_with_cache_position, LlamaForCausalLM.forward),
# modeling_mistral.py and modeling_qwen2.py (same blocks; Qwen2 q/k/v biases), modeling_rope_utils.py
# (_compute_default_rope_parameters, _compute_linear_scaling_rope_parameters, _compute_llama3_parameters) and
# loss/loss_utils.py (ForCausalLMLoss, fixed_cross_entropy). Where HF forces float32 (RoPE, softmax, RMSNorm) we
# stay in float64: the fixture is the exactly computed result for the stored weights.

def rope_type(s):
    rs = s["rope_scaling"]
    return "default" if rs is None else rs.get("rope_type", rs.get("type"))  # BC: "rope_type" was "type"


def compute_default_rope_parameters(s, dtype=F64):
    base = s["theta"]
    dim = int(s["hidden"] // s["heads"] * 1.0)  # partial_rotary_factor 1.0
    attention_factor = 1.0
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype) / dim))
    return inv_freq, attention_factor


def compute_linear_scaling_rope_parameters(s, dtype=F64):
    factor = s["rope_scaling"]["factor"]
    inv_freq, attention_factor = compute_default_rope_parameters(s, dtype)
    inv_freq /= factor
    return inv_freq, attention_factor


def compute_llama3_parameters(s, dtype=F64):
    inv_freq, attention_factor = compute_default_rope_parameters(s, dtype)
    rs = s["rope_scaling"]
    factor = rs["factor"]
    low_freq_factor = rs["low_freq_factor"]
    high_freq_factor = rs["high_freq_factor"]
    old_context_len = rs["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    inv_freq_llama = torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
    return inv_freq_llama, attention_factor


ROPE_INIT_FUNCTIONS = {"default": compute_default_rope_parameters, "linear": compute_linear_scaling_rope_parameters,
                       "llama3": compute_llama3_parameters}


def rotary_embedding(s, position_ids):
    """LlamaRotaryEmbedding.forward: cos, sin of shape [batch, seq, head_dim]."""
    inv_freq, attention_scaling = ROPE_INIT_FUNCTIONS[rope_type(s)](s)
    inv_freq_expanded = inv_freq[None, :, None].expand(position_ids.shape[0], -1, 1)
    position_ids_expanded = position_ids[:, None, :].to(F64)
    freqs = (inv_freq_expanded @ position_ids_expanded).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos = emb.cos() * attention_scaling
    sin = emb.sin() * attention_scaling
    return cos, sin


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1):
    cos = cos.unsqueeze(unsqueeze_dim)
    sin = sin.unsqueeze(unsqueeze_dim)
    q_embed = (q * cos) + (rotate_half(q) * sin)
    k_embed = (k * cos) + (rotate_half(k) * sin)
    return q_embed, k_embed


def repeat_kv(hidden_states, n_rep):
    batch, num_key_value_heads, slen, hd = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, hd)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, hd)


def causal_mask(batch, seq, dtype):
    """_prepare_4d_causal_attention_mask_with_cache_position with attention_mask None, no cache."""
    cache_position = torch.arange(seq)
    min_dtype = torch.finfo(dtype).min
    mask = torch.full((seq, seq), fill_value=min_dtype, dtype=dtype)
    mask = torch.triu(mask, diagonal=1)
    mask *= torch.arange(seq) > cache_position.reshape(-1, 1)
    return mask[None, None, :, :].expand(batch, 1, -1, -1)


def eager_attention_forward(query, key, value, attention_mask, scaling, n_rep):
    key_states = repeat_kv(key, n_rep)
    value_states = repeat_kv(value, n_rep)
    attn_weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
    attn_weights = attn_weights + attention_mask[:, :, :, : key_states.shape[-2]]
    attn_weights = F.softmax(attn_weights, dim=-1)   # HF: dtype=torch.float32; here the compute dtype, float64
    attn_output = torch.matmul(attn_weights, value_states)   # attention dropout: eval / 0.0
    return attn_output.transpose(1, 2).contiguous()


def rms_norm(hidden_states, weight, eps):
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    hidden_states = hidden_states * torch.rsqrt(variance + eps)
    return weight * hidden_states


def dora_fixed_norm(x, weight, bias, lora_A, lora_B, scaling, magnitude, weight_norm):
    """PEFT's DoRA forward with the weight norm given as a constant: the function whose true derivative is PEFT's
    (detached-norm) gradient; used only to check those gradients by finite differences."""
    scale = (magnitude / weight_norm).view(1, -1)
    result = F.linear(x, weight, bias)
    return result + (scale - 1) * F.linear(x, weight) + scale * F.linear(F.linear(x, lora_A), lora_B) * scaling


class CausalLM:
    """LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM in eval mode, no cache, no attention mask.
    weights: HF name -> float64 tensor. adapters: module path -> dict(A, B, s[, m][, n]) applied through PEFT's
    Linear.forward (LoRA, or DoRA when m is given; n = a frozen weight norm, for the gradient check only)."""

    def __init__(self, s, weights, adapters=None):
        self.s, self.w, self.adapters = s, weights, adapters or {}

    def linear(self, x, module):
        W, b = self.w[module + ".weight"], self.w.get(module + ".bias")
        a = self.adapters.get(module)
        if a is None:
            return F.linear(x, W, b)
        if "n" in a:
            return dora_fixed_norm(x, W, b, a["A"], a["B"], a["s"], a["m"], a["n"])
        return peft.peft_linear_forward(x, W, b, a["A"], a["B"], a["s"], a.get("m"))

    def attention(self, p, hidden_states, position_embeddings, attention_mask):
        d = head_dim(self.s)
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, d)
        query_states = self.linear(hidden_states, p + "q_proj").view(hidden_shape).transpose(1, 2)
        key_states = self.linear(hidden_states, p + "k_proj").view(hidden_shape).transpose(1, 2)
        value_states = self.linear(hidden_states, p + "v_proj").view(hidden_shape).transpose(1, 2)
        cos, sin = position_embeddings
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
        attn_output = eager_attention_forward(query_states, key_states, value_states, attention_mask, d ** -0.5,
                                              self.s["heads"] // self.s["kv_heads"])
        attn_output = attn_output.reshape(*input_shape, -1).contiguous()
        return self.linear(attn_output, p + "o_proj")

    def mlp(self, p, x):
        return self.linear(F.silu(self.linear(x, p + "gate_proj")) * self.linear(x, p + "up_proj"), p + "down_proj")

    def decoder_layer(self, n, hidden_states, position_embeddings, attention_mask):
        p, eps = f"model.layers.{n}.", self.s["eps"]
        residual = hidden_states
        hidden_states = rms_norm(hidden_states, self.w[p + "input_layernorm.weight"], eps)
        hidden_states = self.attention(p + "self_attn.", hidden_states, position_embeddings, attention_mask)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = rms_norm(hidden_states, self.w[p + "post_attention_layernorm.weight"], eps)
        hidden_states = self.mlp(p + "mlp.", hidden_states)
        return residual + hidden_states

    def logits(self, input_ids):
        inputs_embeds = F.embedding(input_ids, self.w["model.embed_tokens.weight"])
        cache_position = torch.arange(0, inputs_embeds.shape[1])
        position_ids = cache_position.unsqueeze(0)
        mask = causal_mask(input_ids.shape[0], input_ids.shape[1], F64)
        hidden_states = inputs_embeds
        position_embeddings = rotary_embedding(self.s, position_ids)
        for n in range(self.s["layers"]):
            hidden_states = self.decoder_layer(n, hidden_states, position_embeddings, mask)
        hidden_states = rms_norm(hidden_states, self.w["model.norm.weight"], self.s["eps"])
        lm_head = self.w["model.embed_tokens.weight"] if self.s["tie"] else self.w["lm_head.weight"]
        return F.linear(hidden_states, lm_head)


def causal_lm_loss(logits, labels, vocab_size):
    """loss_utils.ForCausalLMLoss (num_items_in_batch None: mean over the non-ignored targets of the whole batch)."""
    labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)
    shift_labels = labels[..., 1:].contiguous()
    logits = logits.reshape(-1, vocab_size)
    shift_labels = shift_labels.view(-1)
    return F.cross_entropy(logits, shift_labels, ignore_index=IGNORE_INDEX, reduction="mean")


# ------------------------------------------------------------------ an independent loop-by-loop numpy reference

def naive_inv_freq(s):
    d = head_dim(s)
    inv = [s["theta"] ** (-(2.0 * i) / d) for i in range(d // 2)]
    rs, kind = s["rope_scaling"], rope_type(s)
    if kind == "linear":
        inv = [f / rs["factor"] for f in inv]
    elif kind == "llama3":
        out = []
        for f in inv:
            wavelen = 2 * math.pi / f
            if wavelen < rs["original_max_position_embeddings"] / rs["high_freq_factor"]:
                out.append(f)
            elif wavelen > rs["original_max_position_embeddings"] / rs["low_freq_factor"]:
                out.append(f / rs["factor"])
            else:
                smooth = (rs["original_max_position_embeddings"] / wavelen - rs["low_freq_factor"]) / (
                    rs["high_freq_factor"] - rs["low_freq_factor"])
                out.append((1 - smooth) * f / rs["factor"] + smooth * f)
        inv = out
    return inv


def naive_logits(s, w, ids):
    """w: HF name -> float64 numpy array (adapters already merged in). Explicit loops over batch, heads, positions."""
    d, half, group = head_dim(s), head_dim(s) // 2, s["heads"] // s["kv_heads"]
    inv = naive_inv_freq(s)

    def rms(x, g):
        return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + s["eps"]) * g

    def rope(vec, pos):  # pairs (i, i + d/2) rotated by pos * inv[i]
        out = np.empty(d)
        for i in range(half):
            c, sn = math.cos(pos * inv[i]), math.sin(pos * inv[i])
            out[i] = vec[i] * c - vec[i + half] * sn
            out[i + half] = vec[i + half] * c + vec[i] * sn
        return out

    def lin(x, name):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    head = w["model.embed_tokens.weight"] if s["tie"] else w["lm_head.weight"]
    out = np.zeros((ids.shape[0], ids.shape[1], s["vocab"]))
    for b in range(ids.shape[0]):
        h = np.stack([w["model.embed_tokens.weight"][t] for t in ids[b]])
        for n in range(s["layers"]):
            p = f"model.layers.{n}."
            x = rms(h, w[p + "input_layernorm.weight"])
            q, k, v = (lin(x, p + f"self_attn.{m}_proj") for m in "qkv")
            attn = np.zeros((len(ids[b]), s["heads"] * d))
            for hq in range(s["heads"]):
                g = hq // group  # the KV head this query head shares
                for t in range(len(ids[b])):
                    qt = rope(q[t, hq * d:(hq + 1) * d], t)
                    scores = np.array([qt @ rope(k[j, g * d:(g + 1) * d], j) / math.sqrt(d) for j in range(t + 1)])
                    pr = np.exp(scores - scores.max())
                    pr /= pr.sum()
                    attn[t, hq * d:(hq + 1) * d] = sum(pr[j] * v[j, g * d:(g + 1) * d] for j in range(t + 1))
            h = h + lin(attn, p + "self_attn.o_proj")
            x = rms(h, w[p + "post_attention_layernorm.weight"])
            gate = lin(x, p + "mlp.gate_proj")
            h = h + lin(gate / (1.0 + np.exp(-gate)) * lin(x, p + "mlp.up_proj"), p + "mlp.down_proj")
        out[b] = rms(h, w["model.norm.weight"]) @ head.T
    return out


def naive_loss(logits, labels):
    total, count = 0.0, 0
    for b in range(labels.shape[0]):
        for t in range(labels.shape[1] - 1):
            y = labels[b, t + 1]
            if y == IGNORE_INDEX:
                continue
            row = logits[b, t]
            total += row.max() + math.log(np.exp(row - row.max()).sum()) - row[y]
            count += 1
    return total / count


def merged_weights(weights, adapters):
    """DESIGN.md merge, in float64: LoRA W + s B A; DoRA (m / ||W + s B A||_row) * (W + s B A). Biases unchanged."""
    w = {k: v.clone() for k, v in weights.items()}
    for module, a in adapters.items():
        W = w[module + ".weight"] + a["s"] * a["B"] @ a["A"]
        if "m" in a:
            W = (a["m"] / torch.linalg.norm(W, dim=1)).view(-1, 1) * W
        w[module + ".weight"] = W
    return w


# ------------------------------------------------------------------------------------------------ adapters

def linear_modules(s, targets):
    names = [k[:-len(".weight")] for k, v in weight_shapes(s).items() if len(v) == 2 and "embed_tokens" not in k]
    return [n for n in names if peft.target_module_matches(targets, n)]


def make_adapter(s, weights64, rng, cfg):
    """Random PEFT adapter tensors (float32) for every module cfg targets: A ~ U(-1,1)/sqrt(in) (the nn.Linear
    Kaiming bound, times sqrt 3), B random with s*B*A about half the size of W; DoRA m = ||W + s B A||_row times a
    random factor in [0.5, 1.5]. Returns (adapter tensors by PEFT key, float64 adapters by module path)."""
    s_scale = cfg["lora_alpha"] / math.sqrt(cfg["r"]) if cfg["use_rslora"] else cfg["lora_alpha"] / cfg["r"]
    tensors, adapters = {}, {}
    for module in linear_modules(s, cfg["target_modules"]):
        W = weights64[module + ".weight"]
        n_out, n_in = W.shape
        r = cfg["r"]
        A = torch.from_numpy(rng.uniform(-1, 1, (r, n_in)).astype(np.float32)) / math.sqrt(n_in)
        w_std = W.std().item()
        B = torch.from_numpy(rng.normal(0.0, 0.5 * w_std * math.sqrt(3 * n_in) / (s_scale * math.sqrt(r)),
                                        (n_out, r)).astype(np.float32))
        key = "base_model.model." + module
        tensors[key + ".lora_A.weight"], tensors[key + ".lora_B.weight"] = A, B
        a = {"A": A.to(F64), "B": B.to(F64), "s": s_scale}
        if cfg["use_dora"]:
            n = torch.linalg.norm(W + s_scale * a["B"] @ a["A"], dim=1)
            m = (n * torch.from_numpy(rng.uniform(0.5, 1.5, n_out))).to(torch.float32)
            tensors[key + ".lora_magnitude_vector"] = m
            a["m"] = m.to(F64)
        adapters[module] = a
    return tensors, adapters


def adapter_param_list(adapters):
    """(PEFT key, float64 leaf) for every adapter tensor."""
    out = []
    for module, a in adapters.items():
        key = "base_model.model." + module
        out += [(key + ".lora_A.weight", a["A"]), (key + ".lora_B.weight", a["B"])]
        if "m" in a:
            out.append((key + ".lora_magnitude_vector", a["m"]))
    return out


# ------------------------------------------------------------------------------------------------- checks

def check_llama3_against_float32(s):
    """Our float64 llama3 inv_freq equals HF's float32 computation (same statements, float32 tensors) to float32
    precision, and the fixture exercises the smoothed (medium) and the divided (low-frequency) branches."""
    ours = compute_llama3_parameters(s)[0]
    hf32 = compute_llama3_parameters(s, dtype=torch.float32)[0]
    assert torch.allclose(ours, hf32.to(F64), rtol=2e-6, atol=0), (ours, hf32)
    assert np.allclose(ours.numpy(), naive_inv_freq(s), rtol=1e-14, atol=0)
    rs = s["rope_scaling"]
    wavelen = 2 * math.pi / compute_default_rope_parameters(s)[0]
    low = rs["original_max_position_embeddings"] / rs["low_freq_factor"]
    high = rs["original_max_position_embeddings"] / rs["high_freq_factor"]
    medium = int(((wavelen >= high) & (wavelen <= low)).sum())
    divided = int((wavelen > low).sum())
    assert medium >= 1 and divided >= 1, (medium, divided)
    return f"llama3 inv_freq {[float(f) for f in ours]} ({medium} smoothed, {divided} divided by factor, " \
           f"{len(ours) - medium - divided} unchanged)"


def finite_difference_check(loss_fn, params, grads, rng, per_tensor=3, eps=1e-6):
    """Central differences on a few random entries of each tensor (float64)."""
    worst = 0.0
    for (name, p), g in zip(params, grads):
        flat, gflat = p.view(-1), g.reshape(-1)
        for idx in rng.choice(flat.numel(), size=min(per_tensor, flat.numel()), replace=False):
            old = flat[idx].item()
            flat[idx] = old + eps
            up = loss_fn().item()
            flat[idx] = old - eps
            down = loss_fn().item()
            flat[idx] = old
            fd = (up - down) / (2 * eps)
            err = abs(fd - gflat[idx].item())
            assert err <= 1e-8 + 1e-6 * abs(fd), (name, int(idx), fd, gflat[idx].item())
            worst = max(worst, err)
    return worst


# --------------------------------------------------------------------------------------------------- model

def write_json(path, obj):
    peft.write_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def build_model(s):
    rng = np.random.default_rng(zlib.crc32(s["name"].encode()))
    out_dir = MODELS_DIR / s["name"]
    if out_dir.exists():
        shutil.rmtree(out_dir)
    weights = make_weights(s, rng)
    write_json(out_dir / "config.json", config_json(s))
    model_tensors = peft.safetensors_order(weights)
    write_safetensors(out_dir / "model.safetensors", model_tensors, {"format": "pt"})
    check_round_trip(out_dir / "model.safetensors", model_tensors, {"format": "pt"})
    w64 = {k: v.to(F64) for k, v in weights.items()}   # the stored values, widened exactly

    ids = torch.from_numpy(rng.integers(0, s["vocab"], (BATCH, SEQ))).to(torch.int64)
    labels = ids.clone()
    labels[0, :3] = IGNORE_INDEX   # a masked "prompt" (label 0 is never a target anyway)
    labels[1, 4] = IGNORE_INDEX
    notes = []

    model = CausalLM(s, w64)
    logits = model.logits(ids)
    loss = causal_lm_loss(logits, ids, s["vocab"])
    loss_masked = causal_lm_loss(logits, labels, s["vocab"])

    # the HF mirror against the independent loops (RoPE pairs, GQA head sharing, causal softmax, loss)
    w_np = {k: v.numpy() for k, v in w64.items()}
    naive = naive_logits(s, w_np, ids.numpy())
    assert np.allclose(logits.numpy(), naive, rtol=1e-11, atol=1e-12), s["name"]
    assert math.isclose(loss.item(), naive_loss(naive, ids.numpy()), rel_tol=1e-12)
    assert math.isclose(loss_masked.item(), naive_loss(naive, labels.numpy()), rel_tol=1e-12)
    # the shift: logits[:, :-1] predict ids[:, 1:]
    assert math.isclose(loss.item(), F.cross_entropy(logits[:, :-1].reshape(-1, s["vocab"]),
                                                     ids[:, 1:].reshape(-1)).item(), rel_tol=1e-13)
    # not trivially flat: greedy predictions vary, and the logits spread
    argmax = logits.argmax(-1)
    assert len(torch.unique(argmax)) > 2, argmax
    assert logits.std().item() > 0.5, logits.std()
    notes.append(f"greedy argmax {argmax.tolist()}, logits std {logits.std().item():.3f}, "
                 f"loss {loss.item():.6f} (ln V = {math.log(s['vocab']):.3f}), loss_masked {loss_masked.item():.6f}")
    if rope_type(s) == "llama3":
        notes.append(check_llama3_against_float32(s))
    if rope_type(s) == "linear":  # linear scaling = positions divided by the factor
        pos = torch.arange(SEQ)[None]
        plain = rotary_embedding({**s, "rope_scaling": None}, pos / s["rope_scaling"]["factor"])
        assert all(torch.allclose(a, b, rtol=1e-14, atol=1e-15) for a, b in zip(rotary_embedding(s, pos), plain))

    ref = [("input_ids", ids), ("labels", labels), ("logits", f32(logits)), ("loss", f32(loss.view(1))),
           ("loss_masked", f32(loss_masked.view(1)))]
    meta = {"format": "pt", "model": s["name"], "batch": BATCH, "seq": SEQ,
            "compute": "float64 from the stored weights widened exactly; outputs rounded to float32 once",
            "loss": "transformers ForCausalLMLoss: logits[:, :-1] predict labels[:, 1:], mean over targets != -100",
            "loss_value": repr(loss.item()), "loss_masked_value": repr(loss_masked.item())}

    if s["adapters"]:
        for kind, cfg in (("dora", peft.adapter_config(
                base_model_name_or_path=s["name"], r=4, lora_alpha=8, lora_dropout=0.0, use_dora=True,
                target_modules=["q_proj", "v_proj", "up_proj", "down_proj"])),
                          ("lora", peft.adapter_config(
                base_model_name_or_path=s["name"], r=4, lora_alpha=8, lora_dropout=0.0, use_rslora=True,
                target_modules=["q_proj", "k_proj", "o_proj", "gate_proj"]))):
            tensors, adapters = make_adapter(s, w64, rng, cfg)
            adir = out_dir / f"adapter_{kind}"
            peft.write_json(adir / "adapter_config.json", cfg, False)
            ad_tensors = sorted(tensors.items())
            write_safetensors(adir / "adapter_model.safetensors", ad_tensors, {"format": "pt"})
            check_round_trip(adir / "adapter_model.safetensors", ad_tensors, {"format": "pt"})
            lg = CausalLM(s, w64, adapters).logits(ids)
            ls = causal_lm_loss(lg, ids, s["vocab"])
            # the PEFT forward equals the merged model (DESIGN.md merge) through the independent loops
            naive = naive_logits(s, {k: v.numpy() for k, v in merged_weights(w64, adapters).items()}, ids.numpy())
            assert np.allclose(lg.numpy(), naive, rtol=1e-11, atol=1e-12), (s["name"], kind)
            assert (lg - logits).abs().max() > 0.05, "the adapter must change the logits"
            # B = 0 (and m = ||W|| for DoRA) is the base model
            zero = {m: {**a, "B": torch.zeros_like(a["B"])} for m, a in adapters.items()}
            for m, a in zero.items():
                if "m" in a:
                    a["m"] = torch.linalg.norm(w64[m + ".weight"], dim=1)
            assert torch.allclose(CausalLM(s, w64, zero).logits(ids), logits, rtol=1e-12, atol=1e-12)
            ref += [(f"logits_{kind}", f32(lg)), (f"loss_{kind}", f32(ls.view(1)))]
            meta[f"loss_{kind}_value"] = repr(ls.item())
            scaling = next(iter(adapters.values()))["s"]
            meta[f"adapter_{kind}"] = f"adapter_{kind}/: r={cfg['r']} lora_alpha={cfg['lora_alpha']} " \
                f"use_rslora={cfg['use_rslora']} use_dora={cfg['use_dora']} scaling={scaling!r} " \
                f"targets={cfg['target_modules']} ({len(adapters)} modules); eval mode, no dropout"
            notes.append(f"{kind}: {len(adapters)} modules, loss_{kind} {ls.item():.6f}")
            if kind == "dora" and s["gradients"]:
                notes.append(write_gradients(s, w64, ids, adapters, out_dir))

    write_safetensors(out_dir / "reference.safetensors", ref, meta)
    check_round_trip(out_dir / "reference.safetensors", ref, meta)
    return notes


def write_gradients(s, w64, ids, adapters, out_dir):
    """grad.<adapter key>: d loss / d adapter tensor with the DoRA weight norm detached (PEFT);
    fullgrad.<HF name>: d loss / d weight with every model weight trainable and no adapter. loss = unmasked mean."""
    rng = np.random.default_rng(12345)   # only picks the entries the finite-difference check probes
    # DoRA, PEFT semantics
    leaves = {m: {**a, "A": a["A"].clone().requires_grad_(), "B": a["B"].clone().requires_grad_(),
                  "m": a["m"].clone().requires_grad_()} for m, a in adapters.items()}
    loss = causal_lm_loss(CausalLM(s, w64, leaves).logits(ids), ids, s["vocab"])
    loss.backward()
    params = adapter_param_list(leaves)
    grads = [p.grad.clone() for _, p in params]
    # check: the same gradients as the true derivative of the surrogate whose norms are frozen constants
    frozen = {m: {**a, "n": torch.linalg.norm(w64[m + ".weight"] + a["s"] * a["B"] @ a["A"], dim=1).detach()}
              for m, a in leaves.items()}
    surrogate = CausalLM(s, w64, frozen)
    with torch.no_grad():
        assert math.isclose(causal_lm_loss(surrogate.logits(ids), ids, s["vocab"]).item(), loss.item(),
                            rel_tol=1e-14)
        worst = finite_difference_check(lambda: causal_lm_loss(surrogate.logits(ids), ids, s["vocab"]), params,
                                        grads, rng)
    # and they differ from the exact gradient through the norm in A and B, not in m
    exact = {m: {**a, "A": a["A"].detach().clone().requires_grad_(), "B": a["B"].detach().clone().requires_grad_(),
                 "m": a["m"].detach().clone().requires_grad_()} for m, a in adapters.items()}
    for m, a in exact.items():
        a["n"] = torch.linalg.norm(w64[m + ".weight"] + a["s"] * a["B"] @ a["A"], dim=1)   # not detached
    causal_lm_loss(CausalLM(s, w64, exact).logits(ids), ids, s["vocab"]).backward()
    for (name, p), g in zip(adapter_param_list(exact), grads):
        same = torch.allclose(p.grad, g, rtol=1e-12, atol=1e-15)
        assert same == name.endswith("lora_magnitude_vector"), name

    # full fine-tuning of the base model
    full = {k: v.clone().requires_grad_() for k, v in w64.items()}
    full_loss = causal_lm_loss(CausalLM(s, full).logits(ids), ids, s["vocab"])
    full_loss.backward()
    fparams = [(k, full[k]) for k in w64]
    fgrads = [p.grad.clone() for _, p in fparams]
    with torch.no_grad():
        fworst = finite_difference_check(lambda: causal_lm_loss(CausalLM(s, full).logits(ids), ids, s["vocab"]),
                                         fparams, fgrads, rng)

    tensors = [("grad." + k, f32(g)) for (k, _), g in zip(params, grads)]
    tensors += [("fullgrad." + k, f32(g)) for (k, _), g in zip(fparams, fgrads)]
    meta = {"format": "pt", "model": s["name"], "loss": "unmasked mean ForCausalLMLoss over reference input_ids",
            "loss_dora_value": repr(loss.item()), "loss_value": repr(full_loss.item()),
            "grad": "adapter_dora/ gradients, weight norm detached as PEFT does (norm_grad=detached)",
            "fullgrad": "base model, every weight trainable, no adapter",
            "compute": "float64 autograd; rounded to float32 once"}
    path = out_dir / "gradients.safetensors"
    write_safetensors(path, tensors, meta)
    check_round_trip(path, tensors, meta)
    return f"gradients: {len(params)} adapter + {len(fparams)} full; finite differences max |err| " \
           f"{worst:.1e} (DoRA, frozen-norm surrogate), {fworst:.1e} (full)"


def main():
    torch.set_num_threads(1)
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    for s in MODELS:
        print(f"{s['name']}:")
        for note in build_model(s):
            print("  " + note)
    for f in sorted(MODELS_DIR.rglob("*")):
        if f.is_file():
            print(f"  {f.relative_to(MODELS_DIR)}: {f.stat().st_size} bytes")
    total = sum(f.stat().st_size for f in MODELS_DIR.rglob("*") if f.is_file())
    assert total < 2_000_000, total
    print(f"models fixtures total {total} bytes")


if __name__ == "__main__":
    main()
