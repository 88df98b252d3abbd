"""torchvision's side of the image-loader bench (bench/images.ts runs it pinned to the same
cores as ours): ImageFolder + RandomResizedCrop + RandomHorizontalFlip + ToTensor +
Normalize through a DataLoader, whole shuffled epochs, images per second of the median run.
Prints one JSON line. Runs num_workers=0 (decoding in this process) and num_workers=N and
reports both, so the comparison can take torchvision's better figure."""
import argparse
import json
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--root', required=True)
    ap.add_argument('--size', type=int, required=True)
    ap.add_argument('--workers', type=int, required=True)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--runs', type=int, default=3)
    a = ap.parse_args()
    try:
        import torch
        import torchvision
        from torchvision import datasets, transforms
    except ImportError as e:
        print(json.dumps({'error': f'torchvision not available: {e}'}))
        return 0
    torch.set_num_threads(1)
    tf = transforms.Compose([
        transforms.RandomResizedCrop(a.size),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = datasets.ImageFolder(a.root, transform=tf)
    out = {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'images': len(ds), 'modes': {}}
    for workers in sorted({0, a.workers}):
        loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=workers,
                                             persistent_workers=workers > 0)
        it = iter(loader)
        for _ in range(2):  # warm-up: worker start, first decodes
            next(it)
        del it
        rates = []
        for _ in range(a.runs):
            t = time.perf_counter()
            n = 0
            for x, y in loader:
                n += x.shape[0]
            rates.append(n / (time.perf_counter() - t))
        out['modes'][f'num_workers={workers}'] = statistics.median(rates)
        del loader
    print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
