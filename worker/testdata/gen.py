#!/usr/bin/env python3
"""Generates TorchScript fixtures and PyTorch reference outputs for the worker's tests.

Usage (from worker/testdata):
    python3 gen.py OUTDIR [--large]                         # Debian torch 1.13
    ../../../shared/tools/torch26.sh gen.py OUTDIR [--large] # torch 2.6 (chroot)

OUTDIR gets, for every model, NAME.pt (plain) and NAME_frozen.pt (torch.jit.freeze),
NAME_bB_inI.npy inputs and NAME_bB_outI.npy reference outputs for batch 1 and 4, and
manifest.json describing all of it (torch version, archive kind, parameter statistics).
--large adds torchvision ResNet-18 (and --resnet50 ResNet-50); those go to OUTDIR too, so point
OUTDIR at the git-ignored testdata/gen/ tree for them.

Everything is seeded: running it twice with the same torch gives the same numbers.
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from typing import Dict, Final, List, Optional, Tuple

BATCHES = (1, 4)


def randomize_norms(module, gen):
    """Gives every norm layer non-trivial affine weights and running statistics."""
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 1.5 + 0.25)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.5)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) * 2.0 + 0.5)
        elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 1.5 + 0.25)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.5)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 8)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class Block(nn.Module):
    """LayerNorm + GELU (none and tanh) + softmax + residual."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(16)
        self.up = nn.Linear(16, 32)
        self.act = nn.GELU()
        self.act_tanh = nn.GELU(approximate="tanh")
        self.down = nn.Linear(32, 16)

    def forward(self, x):
        h = self.up(self.norm(x))
        h = self.act(h) + self.act_tanh(h)
        h = self.down(h)
        return x + torch.softmax(h, dim=-1)


class BranchOnBatch(nn.Module):
    """Scripted: branches on the batch size, so tracing would lose the branch."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.scale: float = 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        if x.size(0) > 1:
            y = y - y.mean(dim=0, keepdim=True)
        else:
            y = torch.tanh(y) * self.scale
        for i in range(2):
            y = y + float(i)
        return y


class Dtypes(nn.Module):
    """Buffers of every storage type, a transposed (strided) one and an offset view."""

    def __init__(self, gen):
        super().__init__()
        base = torch.randn(3, 4, generator=gen)
        self.register_buffer("f16", base.half())
        self.register_buffer("bf16", base.bfloat16())
        self.register_buffer("f64", base.double())
        self.register_buffer("i64", torch.arange(-6, 6, dtype=torch.int64).reshape(3, 4))
        self.register_buffer("i32", torch.arange(-6, 6, dtype=torch.int32).reshape(3, 4))
        self.register_buffer("i16", torch.arange(-6, 6, dtype=torch.int16).reshape(3, 4))
        self.register_buffer("i8", torch.arange(-6, 6, dtype=torch.int8).reshape(3, 4))
        self.register_buffer("u8", torch.arange(0, 12, dtype=torch.uint8).reshape(3, 4))
        self.register_buffer("b", (base > 0))
        self.register_buffer("strided", base.t())
        whole = torch.arange(20, dtype=torch.float32)
        self.register_buffer("whole", whole)
        self.register_buffer("view", whole[5:11].view(2, 3))

    def forward(self, x):
        return x + self.f16.float() + self.strided.t() + self.view.sum()


@torch.jit.script
def scripted_helper(x: torch.Tensor, n: int) -> torch.Tensor:
    for i in range(n):
        x = x * 2.0 - 1e-3
    while n > 0:
        n -= 1
    return F.relu(x) + float("inf")


class Syntax(nn.Module):
    """Scripted module that exercises the code parser: Final constants, Optional, dicts,
    lists, asserts, raise, while, elif, slicing, tuple unpacking, a scripted helper."""
    k: Final[int] = 3

    def __init__(self):
        super().__init__()
        self.d: Dict[str, int] = {"a": 1}
        self.l = [1, 2]
        self.seq = nn.Sequential(nn.Linear(2, 2), nn.GELU())

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, List[int]]:
        assert x.dim() == 2, "need 2d"
        if y is None:
            y = x
        elif y.size(0) == 3:
            raise RuntimeError("bad \"y\"\n")
        z = scripted_helper(x, self.k) + y[0, 1:2] + x[:, -1:]
        a, b = x.chunk(2, 1)
        s = x.shape[0] // 2 if self.training else -x.size(1) * 2
        return self.seq(z) + a, [s, self.d["a"], int(not (x.sum() > 0))] + self.l


def export_syntax(outdir, manifest):
    """Saves the Syntax module scripted, plain and frozen; no reference outputs."""
    torch.manual_seed(8)
    sm = torch.jit.script(Syntax()).eval()
    for vname, m in (("syntax", sm), ("syntax_frozen", torch.jit.freeze(sm))):
        torch.jit.save(m, os.path.join(outdir, vname + ".pt"))
        loaded = torch.jit.load(os.path.join(outdir, vname + ".pt"))
        params = {n: stats(p) for n, p in loaded.state_dict().items()}
        manifest["archives"].append({"archive": vname + ".pt", "model": "syntax", "kind": "script",
                                     "frozen": vname.endswith("_frozen"), "traced_no_grad": False,
                                     "params": params, "constant_sums": constant_sums(loaded),
                                     "cases": []})


def stats(t):
    """Parameter statistics the Go tests spot-check."""
    flat = t.detach().reshape(-1)
    as64 = flat.double() if flat.dtype != torch.bool else flat.to(torch.float64)
    out = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
           "sum": float(as64.sum()), "first": float(as64[0]) if flat.numel() else 0.0,
           "stride": list(t.stride()), "offset": int(t.storage_offset())}
    if flat.numel() <= 32:
        out["values"] = [float(v) for v in as64]
    return out


def constant_sums(m):
    """Sorted sums of the tensor constants in a module's graph (what constants.pkl holds for
    a frozen module)."""
    sums = []
    for n in m.graph.findAllNodes("prim::Constant"):
        if n.output().type().kind() == "TensorType":
            sums.append(float(n.output().toIValue().double().sum()))
    return sorted(sums)


def save_npy(path, t):
    np.save(path, t.detach().contiguous().numpy())


def export(outdir, name, model, make_input, kind, manifest, trace_no_grad=False, freeze=True):
    """Traces or scripts model, saves plain and frozen archives, inputs and reference outputs."""
    model.eval()
    example = make_input(2)
    if kind == "script":
        sm = torch.jit.script(model)
    elif trace_no_grad:
        with torch.no_grad():
            sm = torch.jit.trace(model, example, check_trace=False)
    else:
        sm = torch.jit.trace(model, example, check_trace=False)
    variants = [(name, sm)]
    if freeze:
        variants.append((name + "_frozen", torch.jit.freeze(torch.jit.script(sm) if kind == "script" else sm)))
    for vname, m in variants:
        path = os.path.join(outdir, vname + ".pt")
        torch.jit.save(m, path)
        loaded = torch.jit.load(path)
        entry = {"archive": vname + ".pt", "model": name, "kind": kind, "frozen": vname.endswith("_frozen"),
                 "traced_no_grad": trace_no_grad, "params": {}, "cases": []}
        for pname, p in loaded.state_dict().items():
            entry["params"][pname] = stats(p)
        entry["constant_sums"] = constant_sums(loaded)
        for b in BATCHES:
            x = make_input(b)
            with torch.no_grad():
                ref = model(x)
                got = loaded(x)
            refs = ref if isinstance(ref, tuple) else (ref,)
            gots = got if isinstance(got, tuple) else (got,)
            for r, g in zip(refs, gots):
                assert torch.allclose(r, g, atol=1e-5), vname
            case = {"batch": b, "inputs": [], "outputs": []}
            fn = "%s_b%d_in0.npy" % (vname, b)
            save_npy(os.path.join(outdir, fn), x)
            case["inputs"].append({"file": fn, "shape": list(x.shape), "dtype": str(x.dtype).replace("torch.", "")})
            for i, r in enumerate(refs):
                fn = "%s_b%d_out%d.npy" % (vname, b, i)
                save_npy(os.path.join(outdir, fn), r)
                case["outputs"].append({"file": fn, "shape": list(r.shape), "dtype": str(r.dtype).replace("torch.", "")})
            entry["cases"].append(case)
        manifest["archives"].append(entry)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--large", action="store_true", help="also torchvision ResNet-18")
    ap.add_argument("--resnet50", action="store_true", help="also torchvision ResNet-50 (plain only)")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    torch.set_num_threads(1)
    manifest = {"torch": torch.__version__, "archives": []}

    def seeded(seed):
        torch.manual_seed(seed)
        return torch.Generator().manual_seed(seed)

    def inputs(shape, seed, dtype=torch.float32):
        def make(b):
            g = torch.Generator().manual_seed(seed + b)
            return torch.randn((b,) + shape, generator=g).to(dtype)
        return make

    if not (args.large or args.resnet50):
        seeded(1)
        export(args.outdir, "mlp", MLP(), inputs((16,), 100), "trace", manifest)
        gen = seeded(2)
        cnn = SmallCNN()
        randomize_norms(cnn, gen)
        export(args.outdir, "cnn", cnn, inputs((3, 16, 16), 200), "trace", manifest)
        gen = seeded(3)
        block = Block()
        randomize_norms(block, gen)
        export(args.outdir, "block", block, inputs((5, 16), 300), "trace", manifest)
        seeded(4)
        export(args.outdir, "branch", BranchOnBatch(), inputs((8,), 400), "script", manifest)
        for no_grad in (False, True):
            gen = seeded(5)
            layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, dropout=0.0,
                                               batch_first=True)
            enc = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
            randomize_norms(enc, gen)
            export(args.outdir, "transformer_nograd" if no_grad else "transformer", enc,
                   inputs((5, 16), 500), "trace", manifest, trace_no_grad=no_grad)
        gen = seeded(6)
        export(args.outdir, "dtypes", Dtypes(gen), lambda b: torch.zeros(b, 3, 4), "trace", manifest,
               freeze=False)
        export_syntax(args.outdir, manifest)
    else:
        import torchvision
        nets = []
        if args.large:
            nets.append(("resnet18", torchvision.models.resnet18, True))
        if args.resnet50:
            nets.append(("resnet50", torchvision.models.resnet50, False))
        for name, ctor, freeze in nets:
            gen = seeded(7)
            net = ctor(num_classes=1000)
            randomize_norms(net, gen)
            export(args.outdir, name, net, inputs((3, 224, 224), 700), "trace", manifest, freeze=freeze)

    with open(os.path.join(args.outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
