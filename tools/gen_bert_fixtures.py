#!/usr/bin/env python3
"""Writes BERT reference fixtures (encoder forward, pooling, classification loss and gradients) for dora4j's tests.

Run from the repository root with Debian's torch:  /usr/bin/python3 tools/gen_bert_fixtures.py

transformers and PEFT are not dependencies. The forward pass re-implements, statement by statement, transformers'
models/bert/modeling_bert.py (BertEmbeddings, BertSelfAttention eager path, BertSelfOutput, BertIntermediate with
ACT2FN["gelu"] = exact erf GELU, BertOutput, BertLayer, BertEncoder, BertPooler, BertModel.forward with
get_extended_attention_mask, BertForSequenceClassification.forward with single-label CrossEntropyLoss) on a
right-padded batch with an attention mask, in eval mode (no dropout). LoRA / DoRA are PEFT's semantics, imported from
gen_peft_fixtures.py. Everything is computed in float64 from the stored weights widened exactly, and the padded,
masked forward is cross-checked against an independent per-sequence numpy loop. Seeded; a rerun rewrites identical
bytes. See tools/README.md.
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

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_peft_fixtures as peft  # noqa: E402  (PEFT semantics, adapter_config, safetensors writer/reader)
import gen_model_fixtures as models  # noqa: E402  (merge, gradient check, round-trip check of the Llama fixtures)

f32 = models.f32
check_round_trip = models.check_round_trip

ROOT = Path(__file__).resolve().parent.parent
BERT_DIR = ROOT / "core" / "src" / "test" / "resources" / "fixtures" / "bert"
F64 = torch.float64
LENGTHS = [7, 4, 9]     # three sequences of different lengths, right-padded to 9
LABELS = [2, 0, 1]
NUM_LABELS = 3
DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16"}


def spec(name, dtype, prefix, pooler, eps, arch, targets):
    return dict(name=name, dtype=dtype, prefix=prefix, pooler=pooler, eps=eps, arch=arch, targets=targets,
                vocab=100, hidden=32, layers=2, heads=4, inter=64, max_pos=64, type_vocab=2)


MODELS = [
    # BertForSequenceClassification checkpoint: "bert." names, pooler, classifier; CLS + pooler pooling.
    # A regex target: a list with "dense" would also adapt bert.pooler.dense, which dora4j's linears() leaves out.
    spec("bert_f32", torch.float32, "bert.", True, 1e-12, "BertForSequenceClassification",
         r".*encoder\.layer\.\d+\..*(query|key|value|dense)"),
    # BertModel (sentence-transformers style) without pooler, BF16; mean pooling.
    spec("bert_bf16", torch.bfloat16, "", False, 1e-5, "BertModel", ["query", "key", "value", "dense"]),
]


def pooling(s):
    return "cls" if s["pooler"] else "mean"


def config_json(s):
    cfg = {"architectures": [s["arch"]], "attention_probs_dropout_prob": 0.1, "classifier_dropout": None,
           "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": s["hidden"], "initializer_range": 0.02,
           "intermediate_size": s["inter"], "layer_norm_eps": s["eps"], "max_position_embeddings": s["max_pos"],
           "model_type": "bert", "num_attention_heads": s["heads"], "num_hidden_layers": s["layers"],
           "pad_token_id": 0, "position_embedding_type": "absolute", "torch_dtype": DTYPE_NAMES[s["dtype"]],
           "transformers_version": "4.48.3", "type_vocab_size": s["type_vocab"], "use_cache": True,
           "vocab_size": s["vocab"]}
    if s["arch"] == "BertForSequenceClassification":
        cfg["id2label"] = {"0": "negative", "1": "neutral", "2": "positive"}
        cfg["label2id"] = {"negative": 0, "neutral": 1, "positive": 2}
    return cfg


def weight_shapes(s):
    h, i = s["hidden"], s["inter"]
    shapes = {"embeddings.word_embeddings.weight": (s["vocab"], h),
              "embeddings.position_embeddings.weight": (s["max_pos"], h),
              "embeddings.token_type_embeddings.weight": (s["type_vocab"], h),
              "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,)}
    for n in range(s["layers"]):
        p = f"encoder.layer.{n}."
        for m in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[p + m + ".weight"], shapes[p + m + ".bias"] = (h, h), (h,)
        shapes[p + "attention.output.LayerNorm.weight"] = shapes[p + "attention.output.LayerNorm.bias"] = (h,)
        shapes[p + "intermediate.dense.weight"], shapes[p + "intermediate.dense.bias"] = (i, h), (i,)
        shapes[p + "output.dense.weight"], shapes[p + "output.dense.bias"] = (h, i), (h,)
        shapes[p + "output.LayerNorm.weight"] = shapes[p + "output.LayerNorm.bias"] = (h,)
    if s["pooler"]:
        shapes["pooler.dense.weight"], shapes["pooler.dense.bias"] = (h, h), (h,)
    return shapes


def make_weights(s, rng):
    """Linear weights N(0, 0.2), biases N(0, 0.1), embeddings N(0, 0.5), LayerNorm weights 1 + N(0, 0.1) and biases
    N(0, 0.1); drawn in float32, rounded to the storage dtype."""
    weights = {}
    for name, shape in weight_shapes(s).items():
        if "LayerNorm.weight" in name:
            a = 1.0 + rng.normal(0.0, 0.1, shape)
        elif "embeddings" in name:
            a = rng.normal(0.0, 0.5, shape)
        elif name.endswith(".bias"):
            a = rng.normal(0.0, 0.1, shape)
        else:
            a = rng.normal(0.0, 0.2, shape)
        weights[name] = torch.from_numpy(np.asarray(a, dtype=np.float32)).to(s["dtype"])
    return weights


# ------------------------------------------------------------------ transformers' BERT, mirrored (float64 compute)

class Bert:
    """BertModel / BertForSequenceClassification in eval mode. weights: name (no prefix) -> float64 tensor;
    adapters: module path (no prefix) -> dict(A, B, s[, m]) through PEFT's Linear.forward."""

    def __init__(self, s, weights, adapters=None):
        self.s, self.w, self.adapters = s, weights, adapters or {}

    def linear(self, x, module):
        W, b = self.w[module + ".weight"], self.w[module + ".bias"]
        a = self.adapters.get(module)
        if a is None:
            return F.linear(x, W, b)
        return peft.peft_linear_forward(x, W, b, a["A"], a["B"], a["s"], a.get("m"))

    def layer_norm(self, x, name):
        return F.layer_norm(x, (self.s["hidden"],), self.w[name + ".weight"], self.w[name + ".bias"], self.s["eps"])

    def embeddings(self, input_ids, token_type_ids):
        seq_length = input_ids.shape[1]
        position_ids = torch.arange(seq_length).unsqueeze(0)[:, 0:seq_length]   # registered buffer, sliced
        inputs_embeds = F.embedding(input_ids, self.w["embeddings.word_embeddings.weight"])
        token_type_embeddings = F.embedding(token_type_ids, self.w["embeddings.token_type_embeddings.weight"])
        embeddings = inputs_embeds + token_type_embeddings
        embeddings = embeddings + F.embedding(position_ids, self.w["embeddings.position_embeddings.weight"])
        return self.layer_norm(embeddings, "embeddings.LayerNorm")   # dropout: eval

    def self_attention(self, p, hidden_states, extended_mask):
        heads, d = self.s["heads"], self.s["hidden"] // self.s["heads"]

        def transpose_for_scores(x):
            return x.view(x.size()[:-1] + (heads, d)).permute(0, 2, 1, 3)

        query_layer = transpose_for_scores(self.linear(hidden_states, p + "query"))
        key_layer = transpose_for_scores(self.linear(hidden_states, p + "key"))
        value_layer = transpose_for_scores(self.linear(hidden_states, p + "value"))
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(d)
        attention_scores = attention_scores + extended_mask
        attention_probs = F.softmax(attention_scores, dim=-1)   # attention dropout: eval
        context_layer = torch.matmul(attention_probs, value_layer).permute(0, 2, 1, 3).contiguous()
        return context_layer.view(context_layer.size()[:-2] + (self.s["hidden"],))

    def layer(self, n, hidden_states, extended_mask):
        p = f"encoder.layer.{n}."
        self_outputs = self.self_attention(p + "attention.self.", hidden_states, extended_mask)
        attention_output = self.layer_norm(self.linear(self_outputs, p + "attention.output.dense") + hidden_states,
                                           p + "attention.output.LayerNorm")
        intermediate = F.gelu(self.linear(attention_output, p + "intermediate.dense"))   # ACT2FN["gelu"]: erf
        return self.layer_norm(self.linear(intermediate, p + "output.dense") + attention_output, p + "output.LayerNorm")

    def hidden(self, input_ids, token_type_ids, attention_mask):
        # get_extended_attention_mask: [batch, 1, 1, seq], (1 - mask) * finfo(dtype).min
        extended = attention_mask[:, None, None, :].to(F64)
        extended = (1.0 - extended) * torch.finfo(F64).min
        h = self.embeddings(input_ids, token_type_ids)
        for n in range(self.s["layers"]):
            h = self.layer(n, h, extended)
        return h

    def pooler(self, h):
        return torch.tanh(self.linear(h[:, 0], "pooler.dense"))   # BertPooler: first token

    def pooled(self, h, attention_mask):
        if self.s["pooler"]:
            return self.pooler(h)
        m = attention_mask.unsqueeze(-1).to(F64)   # sentence-transformers mean pooling
        return (h * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)

    def loss(self, h, attention_mask, classifier, labels):
        logits = F.linear(self.pooled(h, attention_mask), classifier["weight"], classifier["bias"])
        return F.cross_entropy(logits.view(-1, NUM_LABELS), labels.view(-1)), logits


# ------------------------------------------------------------------ an independent per-sequence numpy reference

def naive_hidden(s, w, ids, types):
    """One unpadded sequence, explicit loops over heads and positions. w: name -> float64 numpy (adapters merged)."""
    d, heads, n = s["hidden"] // s["heads"], s["heads"], len(ids)

    def ln(x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + s["eps"]) * w[name + ".weight"] + w[name + ".bias"]

    def lin(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    erf = np.vectorize(math.erf)
    h = np.stack([w["embeddings.word_embeddings.weight"][ids[t]] + w["embeddings.token_type_embeddings.weight"][types[t]]
                  + w["embeddings.position_embeddings.weight"][t] for t in range(n)])
    h = ln(h, "embeddings.LayerNorm")
    for layer in range(s["layers"]):
        p = f"encoder.layer.{layer}."
        q, k, v = (lin(h, p + "attention.self." + m) for m in ("query", "key", "value"))
        ctx = np.zeros((n, s["hidden"]))
        for hd in range(heads):
            cols = slice(hd * d, (hd + 1) * d)
            for t in range(n):
                scores = np.array([q[t, cols] @ k[j, cols] / math.sqrt(d) for j in range(n)])
                pr = np.exp(scores - scores.max())
                pr /= pr.sum()
                ctx[t, cols] = sum(pr[j] * v[j, cols] for j in range(n))
        h = ln(lin(ctx, p + "attention.output.dense") + h, p + "attention.output.LayerNorm")
        u = lin(h, p + "intermediate.dense")
        h = ln(lin(0.5 * u * (1 + erf(u / math.sqrt(2))), p + "output.dense") + h, p + "output.LayerNorm")
    return h


# ------------------------------------------------------------------------------------------------ adapters

def linear_modules(s, targets):
    names = [k[:-len(".weight")] for k, v in weight_shapes(s).items() if len(v) == 2 and "embeddings" not in k]
    return [n for n in names if peft.target_module_matches(targets, s["prefix"] + n)]


def make_adapter(s, w64, rng, cfg):
    """A ~ U(-1,1)/sqrt(in), B random with s·B·A about half the size of W, DoRA m = ||W + s B A||_row × U(0.5, 1.5).
    Returns (tensors by PEFT key, float64 adapters by module path without prefix)."""
    scale = cfg["lora_alpha"] / cfg["r"]
    tensors, adapters = {}, {}
    for module in linear_modules(s, cfg["target_modules"]):
        W = w64[module + ".weight"]
        n_out, n_in = W.shape
        r = cfg["r"]
        A = torch.from_numpy(rng.uniform(-1, 1, (r, n_in)).astype(np.float32)) / math.sqrt(n_in)
        B = torch.from_numpy(rng.normal(0.0, 0.5 * W.std().item() * math.sqrt(3 * n_in) / (scale * math.sqrt(r)),
                                        (n_out, r)).astype(np.float32))
        key = "base_model.model." + s["prefix"] + module
        tensors[key + ".lora_A.weight"], tensors[key + ".lora_B.weight"] = A, B
        a = {"A": A.to(F64), "B": B.to(F64), "s": scale}
        if cfg["use_dora"]:
            norm = torch.linalg.norm(W + scale * a["B"] @ a["A"], dim=1)
            m = (norm * torch.from_numpy(rng.uniform(0.5, 1.5, n_out))).to(torch.float32)
            tensors[key + ".lora_magnitude_vector"] = m
            a["m"] = m.to(F64)
        adapters[module] = a
    return tensors, adapters


def leaf_list(s, adapters, classifier):
    out = [("classifier.weight", classifier["weight"]), ("classifier.bias", classifier["bias"])]
    for module, a in adapters.items():
        key = "base_model.model." + s["prefix"] + module
        out += [(key + ".lora_A.weight", a["A"]), (key + ".lora_B.weight", a["B"])]
        if "m" in a:
            out.append((key + ".lora_magnitude_vector", a["m"]))
    return out


# --------------------------------------------------------------------------------------------------- model

def write(path, tensors, meta):
    peft.write_safetensors(path, tensors, meta)
    check_round_trip(path, tensors, meta)


def build_model(s):
    rng = np.random.default_rng(zlib.crc32(s["name"].encode()))
    out_dir = BERT_DIR / s["name"]
    if out_dir.exists():
        shutil.rmtree(out_dir)
    weights = make_weights(s, rng)
    w64 = {k: v.to(F64) for k, v in weights.items()}
    h = s["hidden"]
    classifier32 = {"weight": torch.from_numpy(rng.normal(0.0, 0.3, (NUM_LABELS, h)).astype(np.float32)),
                    "bias": torch.from_numpy(rng.normal(0.0, 0.1, (NUM_LABELS,)).astype(np.float32))}
    classifier = {k: v.to(F64) for k, v in classifier32.items()}

    stored = {s["prefix"] + k: v for k, v in weights.items()}
    if s["arch"] == "BertForSequenceClassification":
        stored.update({"classifier." + k: v for k, v in classifier32.items()})
        stored[s["prefix"] + "embeddings.position_ids"] = torch.arange(s["max_pos"]).unsqueeze(0)   # old buffer
    model_tensors = peft.safetensors_order(stored)
    peft.write_json(out_dir / "config.json", config_json(s), True)
    write(out_dir / "model.safetensors", model_tensors, {"format": "pt"})

    # a right-padded batch: CLS-like id 2 first, sentence pairs with token types 0 then 1, pad id 0
    batch, seq = len(LENGTHS), max(LENGTHS)
    ids = torch.zeros((batch, seq), dtype=torch.int64)
    types = torch.zeros((batch, seq), dtype=torch.int64)
    mask = torch.zeros((batch, seq), dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        ids[b, 0] = 2
        ids[b, 1:n] = torch.from_numpy(rng.integers(3, s["vocab"], n - 1))
        types[b, (n + 1) // 2:n] = 1
        mask[b, :n] = 1
    labels = torch.tensor(LABELS, dtype=torch.int64)
    packed = lambda t: torch.cat([t[b, :n] for b, n in enumerate(LENGTHS)])   # noqa: E731
    offsets = torch.tensor([0] + list(np.cumsum(LENGTHS)), dtype=torch.int64)

    model = Bert(s, w64)
    hidden = model.hidden(ids, types, mask)
    for b, n in enumerate(LENGTHS):
        naive = naive_hidden(s, {k: v.numpy() for k, v in w64.items()}, ids[b, :n].tolist(), types[b, :n].tolist())
        assert np.allclose(hidden[b, :n].numpy(), naive, rtol=1e-10, atol=1e-11), (s["name"], b)
        # padding changes nothing: the sequence alone gives the same states
        alone = model.hidden(ids[b:b + 1, :n], types[b:b + 1, :n], mask[b:b + 1, :n])
        assert torch.allclose(alone[0], hidden[b, :n], rtol=1e-12, atol=1e-12)
    mean = torch.stack([hidden[b, :n].mean(0) for b, n in enumerate(LENGTHS)])
    assert torch.allclose(mean, Bert({**s, "pooler": False}, w64).pooled(hidden, mask), rtol=1e-13, atol=1e-14)
    assert hidden.std().item() > 0.5

    ref = [("input_ids", packed(ids)), ("token_type_ids", packed(types)), ("offsets", offsets),
           ("labels", labels), ("hidden", f32(packed(hidden))), ("mean_pooled", f32(mean)),
           ("cls", f32(hidden[:, 0]))]
    if s["pooler"]:
        ref.append(("pooler_output", f32(model.pooler(hidden))))
    if s["arch"] != "BertForSequenceClassification":
        ref += [("classifier.weight", classifier32["weight"]), ("classifier.bias", classifier32["bias"])]
    meta = {"format": "pt", "model": s["name"], "lengths": LENGTHS, "pooling": pooling(s),
            "compute": "float64 from the stored weights widened exactly; outputs rounded to float32 once",
            "loss": "mean CrossEntropyLoss of classifier(pooled) against labels"}
    notes = [f"hidden std {hidden.std().item():.3f}"]

    grads = []
    for kind in ("base", "lora", "dora"):
        adapters = {}
        if kind != "base":
            cfg = peft.adapter_config(base_model_name_or_path=s["name"], r=4, lora_alpha=8, lora_dropout=0.0,
                                      use_dora=kind == "dora", target_modules=s["targets"],
                                      task_type="FEATURE_EXTRACTION")
            tensors, adapters = make_adapter(s, w64, rng, cfg)
            adir = out_dir / f"adapter_{kind}"
            peft.write_json(adir / "adapter_config.json", cfg, False)
            write(adir / "adapter_model.safetensors", sorted(tensors.items()), {"format": "pt"})
            hk = Bert(s, w64, adapters).hidden(ids, types, mask)
            for b, n in enumerate(LENGTHS):   # the PEFT forward equals the merged model through the loops
                naive = naive_hidden(s, {k: v.numpy() for k, v in models.merged_weights(w64, adapters).items()},
                                     ids[b, :n].tolist(), types[b, :n].tolist())
                assert np.allclose(hk[b, :n].numpy(), naive, rtol=1e-10, atol=1e-11), (s["name"], kind, b)
            assert (hk - hidden).abs().max() > 0.05, "the adapter must change the hidden states"
            ref.append((f"hidden_{kind}", f32(packed(hk))))
            notes.append(f"{kind}: {len(adapters)} modules")
        leaves = {m: {**a, **{k: a[k].clone().requires_grad_() for k in ("A", "B", "m") if k in a}}
                  for m, a in adapters.items()}
        cls_leaf = {k: v.clone().requires_grad_() for k, v in classifier.items()}
        bert = Bert(s, w64, leaves)
        loss, logits = bert.loss(bert.hidden(ids, types, mask), mask, cls_leaf, labels)
        loss.backward()
        params = leaf_list(s, leaves, cls_leaf)
        g = [p.grad.clone() for _, p in params]
        if kind != "dora":   # DoRA's gradient treats the norm as a constant (PEFT), not the derivative of the loss
            with torch.no_grad():
                worst = models.finite_difference_check(
                    lambda: bert.loss(bert.hidden(ids, types, mask), mask, cls_leaf, labels)[0], params, g, rng,
                    per_tensor=2)
            notes.append(f"{kind}: finite differences max |err| {worst:.1e}")
        ref += [(f"logits_{kind}", f32(logits)), (f"loss_{kind}", f32(loss.view(1)))]
        meta[f"loss_{kind}_value"] = repr(loss.item())
        grads += [(f"grad_{kind}.{name}", f32(t)) for (name, _), t in zip(params, g)]
        notes.append(f"{kind}: loss {loss.item():.6f}")
    write(out_dir / "reference.safetensors", ref, meta)
    write(out_dir / "gradients.safetensors", grads,
          {"format": "pt", "model": s["name"], "grad": "grad_<base|lora|dora>.<classifier or PEFT adapter key>: "
           "d loss / d tensor with the base model frozen and the classifier trainable; DoRA weight norm detached"})
    return notes


def main():
    torch.set_num_threads(1)
    BERT_DIR.mkdir(parents=True, exist_ok=True)
    for s in MODELS:
        print(f"{s['name']}:")
        for note in build_model(s):
            print("  " + note)
    total = sum(f.stat().st_size for f in BERT_DIR.rglob("*") if f.is_file())
    assert total < 1_000_000, total
    print(f"bert fixtures total {total} bytes")


if __name__ == "__main__":
    main()
