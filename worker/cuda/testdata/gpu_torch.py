#!/usr/bin/env python3
"""PyTorch side of scripts/gpu-check.sh, run on the GPU machine (no torchvision, numpy or
network needed).

    gpu_torch.py models OUTDIR
        Traces a ResNet-50 (torchvision's architecture, seeded random weights, randomised
        batch-norm statistics) to OUTDIR/resnet50.pt and writes golden inputs/outputs for
        batch 1 and 4 (computed on the CPU in float32) with a manifest.json in gen.py's
        format, so the Go GPU tests pick them up ($TORCHGATE_GPU_MODELS).

    gpu_torch.py bench OUTDIR TRANSFORMER.pt [--seconds S]
        Times PyTorch on the GPU at batch 1, 8 and 32 for ResNet-50 (eager: the module
        class below with the traced archive's weights) and the transformer fixture (its
        TorchScript module), with TF32 on and off as the Go benchmark. Each timed call
        copies the input host→device and the output device→host, as the Go backend's Run
        does. Prints "name/bB/exact=E<TAB>items/s".

    gpu_torch.py report GO_BENCH.txt TORCH_BENCH.txt
        Prints a Markdown table of both and the throughput ratio (ours / PyTorch).
"""
import json
import os
import re
import struct
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError:  # report needs no torch
    torch = nn = None


def resnet50_class():
    """Returns torchvision's ResNet-50 architecture as a module class (defined here, as
    torch is imported lazily)."""
    return _define()[1]


def _define():
    """Defines the module classes once torch is imported."""

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            return self.relu(out + idt)


    class ResNet50(nn.Module):
        def __init__(self, num_classes=1000):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._layer(64, 3)
            self.layer2 = self._layer(128, 4, 2)
            self.layer3 = self._layer(256, 6, 2)
            self.layer4 = self._layer(512, 3, 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(2048, num_classes)

        def _layer(self, planes, blocks, stride=1):
            down = None
            if stride != 1 or self.inplanes != planes * 4:
                down = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4))
            layers = [Bottleneck(self.inplanes, planes, stride, down)]
            self.inplanes = planes * 4
            layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))
    return Bottleneck, ResNet50


def resnet50(seed=0):
    torch.manual_seed(seed)
    m = resnet50_class()()
    g = torch.Generator().manual_seed(seed + 1)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            mod.weight.data.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            mod.bias.data.copy_(torch.randn(c, generator=g) * 0.1)
    return m.eval()


def save_npy(path, t):
    t = t.detach().contiguous().cpu().float()
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (tuple(t.shape),)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % t.numel(), *t.flatten().tolist()))


def models(outdir):
    os.makedirs(outdir, exist_ok=True)
    m = resnet50()
    with torch.no_grad():
        traced = torch.jit.trace(m, torch.randn(1, 3, 224, 224))
    traced.save(os.path.join(outdir, "resnet50.pt"))
    cases = []
    g = torch.Generator().manual_seed(7)
    torch.backends.mkldnn.enabled = True
    for b in (1, 4):
        x = torch.randn(b, 3, 224, 224, generator=g)
        with torch.no_grad():
            y = m(x)
        fi, fo = "resnet50_b%d_in0.npy" % b, "resnet50_b%d_out0.npy" % b
        save_npy(os.path.join(outdir, fi), x)
        save_npy(os.path.join(outdir, fo), y)
        cases.append({"batch": b, "inputs": [{"file": fi, "dtype": "float32", "shape": list(x.shape)}],
                      "outputs": [{"file": fo, "dtype": "float32", "shape": list(y.shape)}]})
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump({"torch": torch.__version__, "archives": [{"archive": "resnet50.pt", "cases": cases}]}, f, indent=1)
    print("wrote", outdir, "torch", torch.__version__)


def rate(model, x, seconds):
    dev = torch.device("cuda")
    with torch.no_grad():
        for _ in range(3):
            model(x.to(dev)).cpu()
        torch.cuda.synchronize()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            model(x.to(dev)).cpu()  # .cpu() waits for the result
            n += 1
        return n * x.shape[0] / (time.perf_counter() - t0)


def bench(outdir, transformer, seconds):
    print("torch", torch.__version__, torch.cuda.get_device_name(0))
    eager = resnet50()
    eager.load_state_dict(torch.jit.load(os.path.join(outdir, "resnet50.pt")).state_dict())
    scripted = torch.jit.load(transformer).eval()
    for name, model, shape in (("resnet50", eager, (3, 224, 224)), ("transformer", scripted, (5, 16))):
        model = model.cuda()
        for exact in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = not exact
            torch.backends.cudnn.allow_tf32 = not exact
            for b in (1, 8, 32):
                x = torch.ones((b,) + shape).pin_memory()
                print("%s/b%d/exact=%s\t%.1f items/s" % (name, b, str(exact).lower(), rate(model, x, seconds)), flush=True)


def report(go_txt, torch_txt):
    ours, theirs = {}, {}
    for line in open(go_txt):
        m = re.match(r"BenchmarkGPU/(\S+?)(?:-\d+)?\s.*?([\d.]+) items/s", line)
        if m:
            ours[m.group(1)] = float(m.group(2))
    for line in open(torch_txt):
        m = re.match(r"(\S+)\t([\d.]+) items/s", line)
        if m:
            theirs[m.group(1)] = float(m.group(2))
    print("| case | torchgate items/s | PyTorch items/s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for k in sorted(set(ours) | set(theirs)):
        a, b = ours.get(k), theirs.get(k)
        ratio = "%.2f" % (a / b) if a and b else "-"
        print("| %s | %s | %s | %s |" % (k, "%.1f" % a if a else "-", "%.1f" % b if b else "-", ratio))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "models" and len(sys.argv) == 3:
        models(sys.argv[2])
    elif cmd == "bench" and len(sys.argv) >= 4:
        secs = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 1.0
        bench(sys.argv[2], sys.argv[3], secs)
    elif cmd == "report" and len(sys.argv) == 4:
        report(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
