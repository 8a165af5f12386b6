#!/usr/bin/env python3
"""Writes golden inputs and PyTorch outputs for the cpu package's kernel tests.

Run with Debian's PyTorch from the package directory:

    /usr/bin/python3 testdata/gen_kernels.py

It rewrites testdata/kernels.json: a list of cases, each with the op, its parameters, the
input tensors and the output torch computed (float32 values with 9 significant digits, which
round-trip exactly).
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20260501)
cases = []


def t(x):
    x = x.detach().contiguous().float()
    return {"shape": list(x.shape), "data": x.flatten().tolist()}


def add(name, op, params, inputs, output):
    cases.append({"name": name, "op": op, "params": params,
                  "inputs": [t(i) for i in inputs], "output": t(output)})


x = torch.randn(3, 37) * 4
x[0, :5] = torch.tensor([-30.0, -8.0, 0.0, 8.0, 30.0])
add("gelu exact", "gelu", {}, [x], F.gelu(x))
add("gelu tanh", "gelu_tanh", {}, [x], F.gelu(x, approximate="tanh"))
add("sigmoid", "sigmoid", {}, [x], torch.sigmoid(x))
add("tanh", "tanh", {}, [x], torch.tanh(x))

s = torch.randn(2, 5, 7) * 10
s[0, 0, :] = 1000.0
for dim in (-1, 1, 0):
    add(f"softmax dim {dim}", "softmax", {"dim": dim}, [s], torch.softmax(s, dim))
    add(f"log_softmax dim {dim}", "log_softmax", {"dim": dim}, [s], torch.log_softmax(s, dim))

ln = torch.randn(4, 3, 16) * 3 + 1
w, b = torch.randn(3, 16), torch.randn(3, 16)
add("layer_norm last two dims", "layer_norm", {"normalized": [3, 16], "eps": 1e-5}, [ln, w, b],
    F.layer_norm(ln, [3, 16], w, b, 1e-5))
w1, b1 = torch.randn(16), torch.randn(16)
add("layer_norm last dim", "layer_norm", {"normalized": [16], "eps": 1e-6}, [ln, w1, b1],
    F.layer_norm(ln, [16], w1, b1, 1e-6))

for name, cin, cout, k, stride, pad, dil, groups, hw in [
    ("conv 3x3 pad 1", 4, 8, 3, 1, 1, 1, 1, 9),
    ("conv 7x7 stride 2 pad 3", 3, 5, 7, 2, 3, 1, 1, 13),
    ("conv dilated grouped", 6, 4, 3, 1, 2, 2, 2, 10),
    ("conv depthwise stride 2", 5, 5, 3, 2, 1, 1, 5, 11),
    ("conv 1x1", 8, 6, 1, 1, 0, 1, 1, 5),
]:
    xi = torch.randn(2, cin, hw, hw)
    wi = torch.randn(cout, cin // groups, k, k)
    bi = torch.randn(cout)
    out = F.conv2d(xi, wi, bi, stride, pad, dil, groups)
    add(name, "conv2d", {"stride": stride, "pad": pad, "dil": dil, "groups": groups}, [xi, wi, bi], out)

p = torch.randn(2, 3, 11, 10)
for name, k, stride, pad, dil, ceil in [
    ("max_pool 3 stride 2 pad 1", 3, 2, 1, 1, False),
    ("max_pool 2 ceil", 2, 2, 0, 1, True),
    ("max_pool 3 stride 2 dilation 2 ceil", 3, 2, 1, 2, True),
]:
    add(name, "max_pool2d", {"k": k, "stride": stride, "pad": pad, "dil": dil, "ceil": ceil}, [p],
        F.max_pool2d(p, k, stride, pad, dil, ceil_mode=ceil))
for name, k, stride, pad, ceil, incl in [
    ("avg_pool 3 stride 2 pad 1 include pad", 3, 2, 1, False, True),
    ("avg_pool 3 stride 2 pad 1 exclude pad ceil", 3, 2, 1, True, False),
    ("avg_pool 2 ceil include pad", 2, 2, 1, True, True),
]:
    add(name, "avg_pool2d", {"k": k, "stride": stride, "pad": pad, "ceil": ceil, "include": incl}, [p],
        F.avg_pool2d(p, k, stride, pad, ceil_mode=ceil, count_include_pad=incl))
for out in [(1, 1), (3, 4), (7, 7)]:
    add(f"adaptive_avg_pool {out}", "adaptive_avg_pool2d", {}, [p], F.adaptive_avg_pool2d(p, out))

a = torch.randn(4, 9) * 5
d = torch.randn(9) * 2
d[0] = -0.5
for mode in ("trunc", "floor"):
    add(f"div {mode}", "div_" + mode, {}, [a, d], torch.div(a, d, rounding_mode=mode))

def encode(o):
    """JSON with floats at 9 significant digits: enough for float32 values to round-trip."""
    if isinstance(o, dict):
        return "{" + ",".join(json.dumps(k) + ":" + encode(v) for k, v in o.items()) + "}"
    if isinstance(o, list):
        return "[" + ",".join(encode(v) for v in o) + "]"
    if isinstance(o, float):
        assert math.isfinite(o), "golden values must be finite"
        return format(o, ".9g")
    return json.dumps(o)


with open(os.path.join(os.path.dirname(__file__), "kernels.json"), "w") as f:
    f.write(encode({"torch": torch.__version__, "cases": cases}))
