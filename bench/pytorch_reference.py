#!/usr/bin/env python3
"""PyTorch reference for bench/: the same training-step workloads as `npm run bench`.

One step = forward, softmax cross-entropy, backward, SGD (lr 0.1, momentum 0.9, weight decay
1e-4) on synthetic data already on the GPU. Warm up 10 steps, then three timed runs of 50
steps with CUDA events; report the median ms/step and images/s (bench/results/README.md).
CIFAR ResNets use the paper's option-A shortcut (stride-2 subsample + zero channel padding).

Usage: python3 bench/pytorch_reference.py [--rows resnet20:128,resnet56:512] [--modes eager-fp32,...]
       [--warmup 10] [--steps 50] [--runs 3] [--json out.json]. Prints one JSON object per (row, mode)
       on stdout; bench/run.ts (npm run bench -- --pytorch) runs it row by row and parses those lines.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ShortcutA(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.stride = stride
        self.front = (planes - in_planes) // 2
        self.back = planes - in_planes - self.front

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.front, self.back))


class CifarBlock(nn.Module):
    def __init__(self, in_planes, planes, stride, residual):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.residual = residual
        self.shortcut = ShortcutA(in_planes, planes, stride) if (stride != 1 or in_planes != planes) else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, depth, classes=10, residual=True):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                layers.append(CifarBlock(in_planes, planes, stride if i == 0 else 1, residual))
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def build(name):
    if name.startswith("resnet") and name[6:].isdigit() and int(name[6:]) in (20, 32, 44, 56, 110, 1202):
        return CifarResNet(int(name[6:])), 32
    if name.startswith("plain") and name[5:].isdigit():
        return CifarResNet(int(name[5:]), residual=False), 32
    import torchvision  # ImageNet models only

    return getattr(torchvision.models, name)(), 224


def run_row(model_name, batch, mode, steps=50, runs=3, warmup=10):
    if mode.split("-")[0] not in ("eager", "compile") or mode.split("-")[-1] not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"unknown mode {mode!r}: eager-<fp32|bf16|fp16>, compile-<...>, compile-nograph-<...>")
    torch.manual_seed(0)
    model, size = build(model_name)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[mode.split("-")[-1]]
    channels_last = dtype is not None
    model = model.cuda()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    classes = model.fc.out_features
    x = torch.randn(batch, 3, size, size, device="cuda")
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, classes, (batch,), device="cuda")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=(dtype == torch.float16))
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    if mode.startswith("compile"):
        torch._dynamo.reset()  # each row's step is the same code object: start from an empty cache
        step = torch.compile(step, mode="max-autotune-no-cudagraphs" if "nograph" in mode else "reduce-overhead")
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps):
            step()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / steps)
    ms = statistics.median(times)
    return {"model": model_name, "batch": batch, "mode": mode, "ms_per_step": ms, "images_per_s": batch * 1000.0 / ms,
            "runs_ms": times}


DEFAULT_ROWS = "resnet20:128,resnet56:128,plain56:128,resnet110:128,resnet56:512,resnet18:256,resnet50:256"
DEFAULT_MODES = "eager-fp32,eager-bf16,eager-fp16,compile-bf16"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default=DEFAULT_ROWS)
    ap.add_argument("--modes", default=DEFAULT_MODES)
    ap.add_argument("--json", default=None)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"skipped": "torch.cuda is not available"}))
        return 0
    env = {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(), "cuda": torch.version.cuda,
           "gpu": torch.cuda.get_device_name(0), "date": time.strftime("%Y-%m-%d")}
    results = []
    for row in args.rows.split(","):
        name, batch = row.split(":")
        for mode in args.modes.split(","):
            try:
                r = run_row(name, int(batch), mode, steps=args.steps, runs=args.runs, warmup=args.warmup)
            except Exception as e:  # one failing mode must not lose the others
                msg = (str(e).splitlines() or [type(e).__name__])[0]
                r = {"model": name, "batch": int(batch), "mode": mode, "error": f"{type(e).__name__}: {msg}"}
            r.update(env)
            results.append(r)
            print(json.dumps(r), flush=True)
            torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
