#!/usr/bin/env python3
"""Writes bitsandbytes reference fixtures: NF4 / FP4 (optionally double-quantised) and int8 row-wise codes of given
float32 weights, small Hugging Face checkpoints saved the way transformers saves bitsandbytes models (tiny Llama and
BERT, single and sharded), the torch forward of those models on their dequantised weights with and without a DoRA
adapter, and one QDoRA training step.

Run from the repository root with Debian's torch:  /usr/bin/python3 tools/gen_bnb_fixtures.py

bitsandbytes is not installed (it needs a native library and, for quantisation, usually CUDA). Its algorithms are
ported here to numpy float32 arithmetic, statement by statement, from bitsandbytes (main, 2026-08):

- csrc/kernels.cu: kQuantizeBlockwise / kQuantizeBlockwiseSmall (absmax = max |x| of the block with zero padding,
  scale = 1.0f / absmax, code = dQuantizeNF4(x * scale) or dQuantizeFP4(x * scale), the first value of a pair in
  the high nibble); dQuantizeNF4 and dQuantizeFP4 (the decision trees and their float thresholds); dQuantize<0>
  (the 8-bit binary search over the sorted code and the midpoint rounding, used for the nested absmax);
  kDequantizeBlockwise with dDequantizeNF4 / dDequantizeFP4Tree (lut[code] * absmax in float32) and the two LUTs.
- bitsandbytes/functional.py: get_4bit_type (the NF4 and FP4 tables stored as quant_map), create_dynamic_map
  (the signed 8-bit dynamic map stored as nested_quant_map, computed here with that very torch code),
  quantize_4bit (compress_statistics: offset = absmax.mean(), quantize_blockwise(absmax - offset, blocksize=256)),
  dequantize_4bit / dequantize_blockwise (nested: code[q] * absmax2 + offset), QuantState.as_dict(packed=True)
  (the on-disk keys and the JSON packed into quant_state.bitsandbytes__<type>), and the allowed block sizes.
- bitsandbytes/utils.py: pack_dict_to_tensor (json.dumps of the non-tensor items, as a uint8 tensor).
- bitsandbytes/nn/modules.py: Params4bit (packed weight of shape [(n + 1) // 2, 1]), Int8Params._quantize (the
  weight is cast to float16 first), Linear8bitLt._save_to_state_dict (weight int8, SCB, weight_format 0).
- bitsandbytes/backends/default/ops.py and bitsandbytes/_ops.py: int8_vectorwise_quant (SCB = max |W_row|,
  CB = round(W * (127 / SCB)), round half to even) and int8_vectorwise_dequant ((CB * SCB) * 7.874015718698502e-3),
  the dequantisation PEFT's dequantize_bnb_weight uses for DoRA's weight norm and for merging.
- transformers src/transformers/utils/quantization_config.py BitsAndBytesConfig.to_dict and
  integrations/bitsandbytes.py (every nn.Linear of the blocks is replaced; lm_head / the classifier is not).

Two choices where the CUDA code is not reproducible bit for bit: the double-quantisation offset is the correctly
rounded float32 mean of the absmax values (math.fsum), where the GPU reduction order is unspecified; a block whose
absmax is 0 is handled as the CUDA kernel does (0 * inf = NaN falls through the decision tree to code 0, NF4 -1.0;
dequantised -1.0 * 0 = -0.0); an int8 row that is all zero gets SCB 0 and codes 0.

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

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_bert_fixtures as gb    # noqa: E402  (tiny BERT and its forward)
import gen_model_fixtures as gm   # noqa: E402  (tiny Llama, its forward, safetensors I/O)
import gen_peft_fixtures as peft  # noqa: E402  (write_atomic, safetensors order)
import gen_train_fixtures as gt   # noqa: E402  (the training step)

ROOT = Path(__file__).resolve().parent.parent
BNB_DIR = ROOT / "core" / "src" / "test" / "resources" / "fixtures" / "bnb"
F32 = np.float32
F64 = torch.float64
BLOCK_SIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)   # functional.quantize_4bit
NESTED_BLOCKSIZE = 256

# ----------------------------------------------------------------------------------------------- code tables

# functional.get_4bit_type("nf4") (data / data.abs().max(), the max being 1.0)
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], dtype=F32)
# functional.get_4bit_type("fp4"): torch.tensor(data) (float32) divided by its absmax 12 in float32
FP4 = (torch.tensor([0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0.0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0])
       / 12.0).numpy()
# kernels.cu fp4_dequantization_lut (the magnitude of codes 0..7; code bit 3 is the sign, dDequantizeFP4Tree)
FP4_LUT = np.array([0.0, 0.005208333333, 0.66666667, 1.0, 0.33333333, 0.5, 0.16666667, 0.25], dtype=F32)
CODES = {"nf4": NF4, "fp4": FP4}


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    """functional.create_dynamic_map, verbatim."""
    data = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed
                             else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    if additional_items > 0:
        boundaries = torch.linspace(0.1, 1, additional_items + 1, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    assert len(data) == 2 ** total_bits
    for _ in range(256 - len(data)):
        data.append(0)
    data.sort()
    return torch.tensor(data, dtype=torch.float32).numpy()


DYNAMIC = create_dynamic_map()

# ----------------------------------------------------------------------------------------------- kernels.cu


def quantize_nf4(x):
    """dQuantizeNF4: the decision tree, thresholds as float literals, x > t going up. x: float32 array."""
    t = lambda v: F32(v)   # noqa: E731
    return np.where(x > t(0.03979014977812767),
                    np.where(x > t(0.3893125355243683),
                             np.where(x > t(0.6427869200706482),
                                      np.where(x > t(0.8614784181118011), 0b1111, 0b1110),
                                      np.where(x > t(0.5016634166240692), 0b1101, 0b1100)),
                             np.where(x > t(0.2035212516784668),
                                      np.where(x > t(0.2920137718319893), 0b1011, 0b1010),
                                      np.where(x > t(0.1202552504837513), 0b1001, 0b1000))),
                    np.where(x > t(-0.33967943489551544),
                             np.where(x > t(-0.13791173323988914),
                                      np.where(x > t(-0.045525018125772476), 0b0111, 0b0110),
                                      np.where(x > t(-0.23460740596055984), 0b0101, 0b0100)),
                             np.where(x > t(-0.6106329262256622),
                                      np.where(x > t(-0.4599952697753906), 0b0011, 0b0010),
                                      np.where(x > t(-0.8480964004993439), 0b0001, 0b0000)))).astype(np.uint8)


def quantize_fp4(x):
    """dQuantizeFP4: sign bit 0b1000 for x < 0, then the tree on |x|."""
    t = lambda v: F32(v)   # noqa: E731
    sign = np.where(x < 0, 0b1000, 0)
    a = np.abs(x)
    code = np.where(a > t(0.29166667),
                    np.where(a > t(0.583333), np.where(a > t(0.8333333), 0b0011, 0b0010),
                             np.where(a > t(0.4166667), 0b0101, 0b0100)),
                    np.where(a > t(0.0859375), np.where(a > t(0.20833333), 0b0111, 0b0110),
                             np.where(a > t(0.00260417), 0b0001, 0b0000)))
    return (code + sign).astype(np.uint8)


def quantize_dynamic(code, x):
    """dQuantize<0> (not stochastic): binary search from pivot 127 in steps 64 .. 1, then the nearer of the pivot and
    its bracketing neighbour by the float midpoint."""
    pivot = np.full(x.shape, 127)
    upper_pivot = np.full(x.shape, 255)
    lower_pivot = np.zeros(x.shape, dtype=np.int64)
    lower = np.full(x.shape, F32(-1.0))
    upper = np.full(x.shape, F32(1.0))
    val = code[pivot]
    i = 64
    while i > 0:
        up = x > val
        lower_pivot = np.where(up, pivot, lower_pivot)
        lower = np.where(up, val, lower)
        upper_pivot = np.where(up, upper_pivot, pivot)
        upper = np.where(up, upper, val)
        pivot = np.where(up, pivot + i, pivot - i)
        val = code[pivot]
        i >>= 1
    upper = np.where(upper_pivot == 255, code[255], upper)
    lower = np.where(lower_pivot == 0, code[0], lower)
    up = x > val
    mid_up = (upper + val) * F32(0.5)
    mid_lo = (lower + val) * F32(0.5)
    out = np.where(up, np.where(x > mid_up, upper_pivot, pivot), np.where(x < mid_lo, lower_pivot, pivot))
    return out.astype(np.uint8)


def block_scales(flat, blocksize):
    """absmax per block (zero padded, so never below 0) and the float32 reciprocal 1.0f / absmax."""
    n = flat.size
    blocks = -(-n // blocksize)
    padded = np.zeros(blocks * blocksize, dtype=F32)
    padded[:n] = flat
    absmax = np.abs(padded.reshape(blocks, blocksize)).max(axis=1).astype(F32)
    with np.errstate(divide="ignore"):
        inv = (F32(1.0) / absmax).astype(F32)
    return padded, absmax, inv


def scaled(padded, inv, blocksize):
    with np.errstate(invalid="ignore"):
        return (padded.reshape(inv.size, blocksize) * inv[:, None]).reshape(-1).astype(F32)


def quantize_blockwise(flat, code, blocksize):
    """kQuantizeBlockwise, General8bit: uint8 codes [n], absmax [blocks]."""
    padded, absmax, inv = block_scales(flat, blocksize)
    return quantize_dynamic(code, scaled(padded, inv, blocksize))[:flat.size], absmax


def dequantize_blockwise(q, absmax, code, blocksize):
    """kDequantizeBlockwise, General8bit: code[q] * absmax[block]."""
    blocks = np.arange(q.size) // blocksize
    return (code[q] * absmax[blocks]).astype(F32)


def quantize_4bit(w, blocksize, quant_type, double_quant):
    """functional.quantize_4bit over the flattened weight -> dict of the QuantState arrays."""
    assert blocksize in BLOCK_SIZES and quant_type in CODES
    flat = np.ascontiguousarray(w, dtype=F32).reshape(-1)
    padded, absmax, inv = block_scales(flat, blocksize)
    x = scaled(padded, inv, blocksize)
    codes = (quantize_nf4 if quant_type == "nf4" else quantize_fp4)(x)[:flat.size]
    if codes.size % 2:   # the last byte pairs the last value with a padded 0 scaled like its block
        codes = np.append(codes, (quantize_nf4 if quant_type == "nf4" else quantize_fp4)(x[flat.size:flat.size + 1]))
    packed = ((codes[0::2] << 4) | codes[1::2]).astype(np.uint8)
    out = {"packed": packed, "quant_type": quant_type, "blocksize": blocksize, "shape": list(w.shape)}
    if not double_quant:
        out["absmax"] = absmax
        return out
    offset = F32(math.fsum(float(a) for a in absmax) / absmax.size)
    qabsmax, nested_absmax = quantize_blockwise((absmax - offset).astype(F32), DYNAMIC, NESTED_BLOCKSIZE)
    out.update(qabsmax=qabsmax, nested_absmax=nested_absmax, offset=offset)
    return out


def absmax_of(state):
    """The float32 absmax the 4-bit dequantisation scales by (functional.dequantize_4bit, nested: + offset)."""
    if "qabsmax" not in state:
        return state["absmax"]
    return (dequantize_blockwise(state["qabsmax"], state["nested_absmax"], DYNAMIC, NESTED_BLOCKSIZE)
            + state["offset"]).astype(F32)


def dequantize_4bit(state):
    """kDequantizeBlockwise for NF4 / FP4: lut[code] * absmax[block] in float32 -> [rows, cols]."""
    n = int(np.prod(state["shape"]))
    p = state["packed"]
    codes = np.empty(p.size * 2, dtype=np.uint8)
    codes[0::2], codes[1::2] = p >> 4, p & 0x0F
    codes = codes[:n]
    if state["quant_type"] == "nf4":
        values = NF4[codes]
    else:
        values = np.where(codes & 0b1000, F32(-1.0), F32(1.0)).astype(F32) * FP4_LUT[codes & 0b111]
    blocks = np.arange(n) // state["blocksize"]
    return (values * absmax_of(state)[blocks]).astype(F32).reshape(state["shape"])


def quantize_int8(w):
    """Int8Params._quantize + int8_vectorwise_quant: W to float16, SCB = max |row|, CB = round(W * (127 / SCB))."""
    w16 = torch.from_numpy(np.ascontiguousarray(w, dtype=F32)).to(torch.float16).to(torch.float32).numpy()
    scb = np.abs(w16).max(axis=1).astype(F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = (F32(127.0) / scb).astype(F32)
        cb = np.rint((w16 * scale[:, None]).astype(F32))
    cb = np.where(scb[:, None] == 0, 0, cb).astype(np.int8)
    return cb, scb


def dequantize_int8(cb, scb):
    """int8_vectorwise_dequant: (CB * SCB) * 7.874015718698502e-3 in float32."""
    return ((cb.astype(F32) * scb[:, None]).astype(F32) * F32(7.874015718698502e-3)).astype(F32)


def self_check():
    """The ported pieces against bitsandbytes' own definitions."""
    assert np.array_equal(FP4_LUT, np.abs(FP4[:8])), "kernels.cu fp4 LUT = get_4bit_type('fp4')"
    assert DYNAMIC.size == 256 and np.all(np.diff(DYNAMIC) >= 0) and -1 < DYNAMIC[0] < -0.99 and DYNAMIC[-1] == 1
    # the NF4 tree's thresholds are the midpoints of the table (within float rounding), FP4's of its sorted values
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 200_000).astype(F32)
    near = lambda table: np.abs(x[:, None] - table[None, :]).argmin(axis=1)   # noqa: E731
    assert np.mean(quantize_nf4(x) == near(NF4)) > 0.99999
    fp = quantize_fp4(x)
    assert np.mean(np.abs(FP4[fp] - x) <= np.abs(FP4[near(FP4)] - x) + 1e-7) > 0.99999
    assert np.mean(quantize_dynamic(DYNAMIC, x) == near(DYNAMIC)) > 0.999
    # the default (pure torch) backend of bitsandbytes agrees on random data (its bucketize uses float midpoints)
    code = torch.from_numpy(NF4)
    bounds = (code[:-1] + code[1:]) / 2
    assert np.mean(torch.bucketize(torch.from_numpy(x), bounds).numpy() == quantize_nf4(x)) > 0.99999


# ----------------------------------------------------------------------------------------------- safetensors

ST_NAMES = {np.dtype(F32): "F32", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8", np.dtype(np.int64): "I64"}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, numpy array); the order safetensors uses (larger dtypes first, then by name)."""
    tensors = sorted(tensors, key=lambda kv: (-kv[1].dtype.itemsize, kv[0]))
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in tensors:
        data = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": ST_NAMES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    peft.write_atomic(path, len(head).to_bytes(8, "little") + head + b"".join(blobs))
    return offset


def read_back(path):
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    types = {v: k for k, v in ST_NAMES.items()}
    return {k: np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                             types[v["dtype"]]).reshape(v["shape"]) for k, v in header.items()}


def pack_dict_to_tensor(d):
    """utils.pack_dict_to_tensor."""
    return np.frombuffer(json.dumps(d).encode("utf-8"), dtype=np.uint8).copy()


def state_tensors(prefix, state, dtype="float32"):
    """Params4bit + QuantState.as_dict(packed=True) under '<module>.weight'."""
    w = prefix + ".weight"
    out = {w: state["packed"].reshape(-1, 1), w + ".quant_map": CODES[state["quant_type"]].astype(F32)}
    info = {"quant_type": state["quant_type"], "blocksize": state["blocksize"], "dtype": dtype,
            "shape": state["shape"]}
    if "qabsmax" in state:
        out[w + ".absmax"] = state["qabsmax"]
        out[w + ".nested_absmax"] = state["nested_absmax"]
        out[w + ".nested_quant_map"] = DYNAMIC.copy()
        info.update(nested_blocksize=NESTED_BLOCKSIZE, nested_dtype="float32", nested_offset=float(state["offset"]))
    else:
        out[w + ".absmax"] = state["absmax"]
    out[w + ".quant_state.bitsandbytes__" + state["quant_type"]] = pack_dict_to_tensor(info)
    return out


def quantization_config(method, quant_type="nf4", double_quant=False, compute_dtype="float32"):
    """BitsAndBytesConfig(...).to_dict() as config.json holds it."""
    four = method == "4bit"
    return {"_load_in_4bit": four, "_load_in_8bit": not four, "bnb_4bit_compute_dtype": compute_dtype,
            "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": quant_type,
            "bnb_4bit_use_double_quant": double_quant, "llm_int8_enable_fp32_cpu_offload": False,
            "llm_int8_has_fp16_weight": False, "llm_int8_skip_modules": None, "llm_int8_threshold": 6.0,
            "load_in_4bit": four, "load_in_8bit": not four, "quant_method": "bitsandbytes"}


def write_checkpoint(out_dir, config, tensors, shards):
    """config.json + model.safetensors, or model-0000k-of-0000N.safetensors + index when shards > 1 (tensors of one
    module stay in one shard, as transformers' shard_checkpoint keeps a state-dict prefix together only by size; the
    split here is by module so both layouts occur: a weight and its quant state in the same or different files)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    gm.write_json(out_dir / "config.json", config)
    names = sorted(tensors)
    if shards == 1:
        write_safetensors(out_dir / "model.safetensors", [(k, tensors[k]) for k in names], {"format": "pt"})
        return
    weight_map, total = {}, 0
    for k in range(shards):
        part = names[k::shards]   # interleaved: a weight and its absmax usually land in different shards
        file = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        total += write_safetensors(out_dir / file, [(n, tensors[n]) for n in part], {"format": "pt"})
        weight_map.update({n: file for n in part})
    gm.write_json(out_dir / "model.safetensors.index.json",
                  {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))})


# ----------------------------------------------------------------------------------------------- fixtures

CODE_CASES = [   # name, quant_type or int8, shape, blocksize, double quant
    ("nf4_b64_37x23", "nf4", (37, 23), 64, False),
    ("fp4_b64_37x23", "fp4", (37, 23), 64, False),
    ("nf4_b128_16x40_zero", "nf4", (16, 40), 128, False),
    ("fp4_b32_9x15_zero", "fp4", (9, 15), 32, False),
    ("nf4_b4096_20x300", "nf4", (20, 300), 4096, False),
    ("nf4_b64_dq_65x260", "nf4", (65, 260), 64, True),
    ("fp4_b256_dq_33x65", "fp4", (33, 65), 256, True),
    ("int8_17x33_zero", "int8", (17, 33), 0, False),
    ("int8_8x300", "int8", (8, 300), 0, False),
]


def code_case_weights(name, shape):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    w = (rng.standard_normal(shape) * rng.uniform(0.01, 2.0, (shape[0], 1))).astype(F32)
    if name.endswith("_zero"):
        w.reshape(-1)[:128] = 0   # a whole block (and for int8 whole rows) of zeros
        if name.startswith("int8"):
            w[3] = 0
    return w


def write_codes():
    tensors, cases = [("dynamic_map", DYNAMIC.copy()), ("nf4_map", NF4.copy()), ("fp4_map", FP4.copy())], []
    for name, kind, shape, blocksize, dq in CODE_CASES:
        w = code_case_weights(name, shape)
        tensors.append((name + ".w", w))
        if kind == "int8":
            cb, scb = quantize_int8(w)
            tensors += [(name + ".weight", cb), (name + ".SCB", scb), (name + ".dequantized", dequantize_int8(cb, scb))]
            err = np.abs(dequantize_int8(cb, scb) - w).max() / np.abs(w).max()
        else:
            st = quantize_4bit(w, blocksize, kind, dq)
            deq = dequantize_4bit(st)
            tensors += [(name + ".weight", st["packed"]), (name + ".dequantized", deq)]
            if dq:
                tensors += [(name + ".absmax", st["qabsmax"]), (name + ".nested_absmax", st["nested_absmax"]),
                            (name + ".nested_offset", np.array([st["offset"]], dtype=F32))]
            else:
                tensors.append((name + ".absmax", st["absmax"]))
            err = np.abs(deq - w).max() / np.abs(w).max()
            assert np.abs(deq).max() <= np.abs(w).max() * 1.01 + 1e-6
        assert err < (0.01 if kind == "int8" else 0.2), (name, err)
        cases.append(f"{name}:{kind}:{shape[0]}x{shape[1]}:{blocksize}:{'dq' if dq else 'plain'}")
    write_safetensors(BNB_DIR / "codes.safetensors", tensors, {"format": "pt", "cases": ",".join(cases)})
    back = read_back(BNB_DIR / "codes.safetensors")
    assert all(np.array_equal(back[k], v) for k, v in tensors)
    return len(cases)


LLAMA = next(s for s in gm.MODELS if s["name"] == "llama_gqa")
BERT = next(s for s in gb.MODELS if s["name"] == "bert_f32")
LLAMA_CASES = [   # directory, method, quant type, double quant, blocksize, shards, compute dtype
    ("llama_nf4_dq", "4bit", "nf4", True, 64, 1, "bfloat16"),
    ("llama_fp4_sharded", "4bit", "fp4", False, 128, 3, "float32"),
    ("llama_int8", "8bit", None, False, 0, 1, "float32"),
]
BERT_CASES = [
    ("bert_nf4_sharded", "4bit", "nf4", False, 64, 2, "float32"),
    ("bert_int8", "8bit", None, False, 0, 1, "float32"),
]


def quantize_model(weights, linear_names, method, quant_type, dq, blocksize):
    """weights: name -> float32 numpy. Returns (stored tensors, dequantised weights of the linears)."""
    stored, deq = {}, {}
    for name, w in weights.items():
        module = name[:-len(".weight")]
        if name not in linear_names:
            stored[name] = w
        elif method == "4bit":
            st = quantize_4bit(w, blocksize, quant_type, dq)
            stored.update(state_tensors(module, st))
            deq[name] = dequantize_4bit(st)
        else:
            cb, scb = quantize_int8(w)
            stored.update({name: cb, module + ".SCB": scb, module + ".weight_format": np.array(0, dtype=np.uint8)})
            deq[name] = dequantize_int8(cb, scb)
    return stored, deq


def llama_fixtures():
    src = gm.MODELS_DIR / LLAMA["name"]
    weights = {k: v.numpy() for k, v in gm.read_safetensors(src / "model.safetensors")[0].items()}
    linears = {k for k in weights if k.startswith("model.layers.") and k.endswith("proj.weight")}
    ids = gm.read_safetensors(src / "reference.safetensors")[0]["input_ids"]
    _, adapter, s = gt.load_adapter("dora")
    notes = []
    for name, method, qt, dq, bs, shards, compute in LLAMA_CASES:
        stored, deq = quantize_model(weights, linears, method, qt, dq, bs)
        config = {**gm.config_json(LLAMA), "quantization_config": quantization_config(method, qt or "nf4", dq, compute)}
        write_checkpoint(BNB_DIR / name, config, stored, shards)
        w64 = {k: torch.from_numpy(deq.get(k, v)).to(F64) for k, v in weights.items()}
        base = gt.Setup("full", w64)
        dora = gt.Setup("dora", w64, adapter, s)
        with torch.no_grad():
            logits = base.model(w64).logits(ids)
            logits_dora = dora.model(dora.init).logits(ids)
        assert (logits_dora - logits).abs().max() > 0.05
        ref = [("input_ids", ids.numpy()), ("logits", gm.f32(logits).numpy()),
               ("logits_dora", gm.f32(logits_dora).numpy())]
        ref += [("dequantized." + k, v) for k, v in sorted(deq.items())]
        write_safetensors(BNB_DIR / name / "reference.safetensors", ref,
                          {"format": "pt", "adapter": "models/llama_gqa/adapter_dora",
                           "compute": "float64 from the dequantised float32 weights; logits rounded to float32"})
        notes.append(f"{name}: {len(linears)} linears {method} {qt or ''}, {shards} shard(s); max |logit| "
                     f"{logits.abs().max():.3f}, max |W - deq| {max(np.abs(deq[k] - weights[k]).max() for k in deq):.3f}")
        if name == "llama_nf4_dq":
            notes.append(qdora_step(w64, adapter, s))
    return notes


def qdora_step(w64, adapter, s):
    """gen_train_fixtures' sgd_dora case on the NF4 double-quantised base: one SGD step, lr 0.1."""
    c = next(c for c in gt.CASES if c["name"] == "sgd_dora")
    setup = gt.Setup("dora", w64, adapter, s)
    ids, labels, _ = gt.reference_batch()
    final, losses, norms, _, _ = gt.run_torch(c, setup, (ids, labels))
    manual = gt.run_numpy(c, setup, (ids, labels))
    worst = max(float(np.abs(final[n].numpy() - manual[n]).max()) for n in setup.names)
    assert worst < 1e-12, worst
    tensors = [(n, gm.f32(final[n]).numpy()) for n in setup.names]
    tensors += [("loss.1", np.array(losses, dtype=F32)), ("grad_norm.1", np.array(norms, dtype=F32))]
    meta = gt.metadata(c, setup, losses, norms, None, {"base_model": "bnb/llama_nf4_dq (dequantised)"})
    meta["description"] = "QDoRA: " + gt.describe(c) + "; base: llama_gqa quantised to NF4, blocks of 64, double quant"
    write_safetensors(BNB_DIR / "qdora_sgd.safetensors", tensors, meta)
    return f"qdora_sgd: loss {losses[0]:.6f}, grad norm {norms[0]:.6f}"


def bert_fixtures():
    src = gb.BERT_DIR / BERT["name"]
    weights = {k: v.numpy() for k, v in gm.read_safetensors(src / "model.safetensors")[0].items()}
    prefix = BERT["prefix"]
    linears = {k for k, v in weights.items() if v.ndim == 2 and k.startswith(prefix) and "embeddings" not in k}
    ref_in = gm.read_safetensors(src / "reference.safetensors")[0]
    lengths = gb.LENGTHS
    offsets = ref_in["offsets"].tolist()
    batch, seq = len(lengths), max(lengths)
    ids = torch.zeros((batch, seq), dtype=torch.int64)
    types = torch.zeros((batch, seq), dtype=torch.int64)
    mask = torch.zeros((batch, seq), dtype=torch.int64)
    for b, n in enumerate(lengths):
        ids[b, :n] = ref_in["input_ids"][offsets[b]:offsets[b] + n]
        types[b, :n] = ref_in["token_type_ids"][offsets[b]:offsets[b] + n]
        mask[b, :n] = 1
    adapter_dir = src / "adapter_dora"
    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    tensors = gm.read_safetensors(adapter_dir / "adapter_model.safetensors")[0]
    scale = cfg["lora_alpha"] / cfg["r"]
    adapters = {}
    for key, t in tensors.items():
        module, _, part = key[len("base_model.model." + prefix):].rpartition(".lora_")
        a = adapters.setdefault(module, {"s": scale})
        a[{"A.weight": "A", "B.weight": "B", "magnitude_vector": "m"}[part]] = t.to(F64)
    packed = lambda t: torch.cat([t[b, :n] for b, n in enumerate(lengths)])   # noqa: E731
    notes = []
    for name, method, qt, dq, bs, shards, compute in BERT_CASES:
        stored, deq = quantize_model(weights, linears, method, qt, dq, bs)
        config = {**gb.config_json(BERT), "quantization_config": quantization_config(method, qt or "nf4", dq, compute)}
        write_checkpoint(BNB_DIR / name, config, stored, shards)
        w64 = {k[len(prefix):]: torch.from_numpy(deq.get(k, v)).to(F64) for k, v in weights.items()
               if k.startswith(prefix)}
        with torch.no_grad():
            hidden = gb.Bert(BERT, w64).hidden(ids, types, mask)
            hidden_dora = gb.Bert(BERT, w64, adapters).hidden(ids, types, mask)
        assert (hidden_dora - hidden).abs().max() > 0.05
        ref = [("hidden", gm.f32(packed(hidden)).numpy()), ("hidden_dora", gm.f32(packed(hidden_dora)).numpy())]
        ref += [("dequantized." + k, v) for k, v in sorted(deq.items())]
        write_safetensors(BNB_DIR / name / "reference.safetensors", ref,
                          {"format": "pt", "inputs": "bert/bert_f32/reference.safetensors",
                           "adapter": "bert/bert_f32/adapter_dora"})
        notes.append(f"{name}: {len(linears)} linears {method} {qt or ''}, {shards} shard(s)")
    return notes


def main():
    torch.set_num_threads(1)
    self_check()
    if BNB_DIR.exists():
        shutil.rmtree(BNB_DIR)
    BNB_DIR.mkdir(parents=True)
    print(f"codes.safetensors: {write_codes()} cases")
    for note in llama_fixtures() + bert_fixtures():
        print("  " + note)
    total = sum(f.stat().st_size for f in BNB_DIR.rglob("*") if f.is_file())
    assert total < 1_500_000, total
    print(f"bnb fixtures total {total} bytes")


if __name__ == "__main__":
    main()
