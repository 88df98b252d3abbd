#!/usr/bin/env python3
"""PyTorch reference for bench/: the same training-step workloads as `npm run bench`.

One step = forward, softmax cross-entropy, backward, SGD (lr 0.1, momentum 0.9, weight decay
1e-4) on synthetic data already on the device. Warm up 10 steps, then three timed runs of 50
steps (CUDA events on the GPU, a wall clock on the CPU); report the median ms/step and
images/s. CIFAR ResNets use the paper's option-A shortcut (stride-2 subsample + zero channel
padding). ImageNet models (torchvision) take --image-size (default 224).

Usage: python3 bench/pytorch_reference.py [--rows resnet20:128,resnet56:512] [--modes eager-fp32,...]
       [--device cuda|cpu] [--threads N] [--image-size PX] [--warmup 10] [--steps 50] [--runs 3]
       [--json out.json]. Prints one JSON object per (row, mode) on stdout; bench/run.ts
       (npm run bench -- --pytorch) runs it row by row and parses those lines. On the CPU,
       --threads sets torch.set_num_threads (default: all cores) and the modes are eager-fp32 and
       eager-heap-fp32 (the same step, run by the caller with glibc malloc keeping freed memory).
"""
import argparse
import json
import os
import resource
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


def build(name, image_size=None):
    if name.startswith("resnet") and name[6:].isdigit() and int(name[6:]) in (20, 32, 44, 56, 110, 1202):
        return CifarResNet(int(name[6:])), 32
    if name.startswith("plain") and name[5:].isdigit():
        return CifarResNet(int(name[5:]), residual=False), 32
    import torchvision  # ImageNet models only

    return getattr(torchvision.models, name)(), image_size or 224


def run_row(model_name, batch, mode, steps=50, runs=3, warmup=10, device="cuda", image_size=None):
    if mode.split("-")[0] not in ("eager", "compile") or mode.split("-")[-1] not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"unknown mode {mode!r}: eager-<fp32|bf16|fp16>, compile-<...>, compile-nograph-<...>")
    torch.manual_seed(0)
    model, size = build(model_name, image_size)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[mode.split("-")[-1]]
    channels_last = dtype is not None
    on_gpu = device == "cuda"
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    classes = model.fc.out_features
    x = torch.randn(batch, 3, size, size, device=device)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, classes, (batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=(dtype == torch.float16)) if on_gpu else None
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    def cpu_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    if not on_gpu:
        if mode not in ("eager-fp32", "eager-heap-fp32"):
            raise ValueError(f"mode {mode!r} is GPU-only: the CPU comparison is eager-fp32 (or eager-heap-fp32)")
        # eager-heap-fp32 is the same step; the caller starts it with glibc's malloc told to
        # keep freed memory (see HEAP_MALLOC_ENV in bench/pytorch.ts). Check that it did.
        if "heap" in mode and not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
            raise ValueError("eager-heap-fp32 needs MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ in the environment")
        step = cpu_step
    elif "heap" in mode:
        raise ValueError(f"mode {mode!r} is CPU-only")
    if mode.startswith("compile"):
        torch._dynamo.reset()  # each row's step is the same code object: start from an empty cache
        step = torch.compile(step, mode="max-autotune-no-cudagraphs" if "nograph" in mode else "reduce-overhead")
    for _ in range(warmup):
        step()
    times = []
    if not on_gpu:
        # Process CPU time (all threads) besides wall time: on a shared machine the wall
        # clock also measures the neighbours. OpenMP workers that spin while waiting count
        # here too (OMP_WAIT_POLICY=PASSIVE makes them sleep instead).
        c0 = time.process_time()
        faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(runs):
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            times.append((time.perf_counter() - t0) * 1e3 / steps)
        cpu_ms = (time.process_time() - c0) * 1e3 / (runs * steps)
        # Minor page faults per timed step: memory the allocator gave back to the kernel and
        # took again, each page zeroed anew (glibc's default for large blocks).
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / (runs * steps)
        ms = statistics.median(times)
        malloc = {k: os.environ[k] for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_") if k in os.environ}
        return {"model": model_name, "batch": batch, "mode": mode, "ms_per_step": ms, "images_per_s": batch * 1000.0 / ms,
                "runs_ms": times, "cpu_ms_per_step": cpu_ms, "minor_faults_per_step": faults, "malloc_env": malloc}
    torch.cuda.synchronize()
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


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_capability():
    """The vector ISA PyTorch's own CPU kernels dispatch to (oneDNN picks its own, usually the same)."""
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # older than 2.0
        return None


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
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--image-size", type=int, default=None)
    args = ap.parse_args()
    if args.device == "cpu":
        if args.threads > 0:
            torch.set_num_threads(args.threads)
        env = {"torch": torch.__version__, "cudnn": None, "cuda": None, "gpu": None, "cpu": cpu_name(),
               "threads": torch.get_num_threads(), "cpu_capability": cpu_capability(), "date": time.strftime("%Y-%m-%d")}
    elif not torch.cuda.is_available():
        print(json.dumps({"skipped": "torch.cuda is not available"}))
        return 0
    else:
        env = {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(), "cuda": torch.version.cuda,
               "gpu": torch.cuda.get_device_name(0), "date": time.strftime("%Y-%m-%d")}
    results = []
    for row in args.rows.split(","):
        name, batch = row.split(":")
        for mode in args.modes.split(","):
            try:
                r = run_row(name, int(batch), mode, steps=args.steps, runs=args.runs, warmup=args.warmup,
                            device=args.device, image_size=args.image_size)
            except Exception as e:  # one failing mode must not lose the others
                msg = (str(e).splitlines() or [type(e).__name__])[0]
                r = {"model": name, "batch": int(batch), "mode": mode, "error": f"{type(e).__name__}: {msg}"}
            r.update(env)
            results.append(r)
            print(json.dumps(r), flush=True)
            if args.device == "cuda":
                torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
