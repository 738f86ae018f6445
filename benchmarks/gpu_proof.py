"""The GPU proof, ready to run on a CUDA machine (torch, no TensorFlow needed): one JSON file with

1. `examples/test_digits_torch.py` run with `--mlcheck-gpu` (outcome and time);
2. the torch training corpus through `overfit_one_batch` on CPU and on CUDA: the same verdicts and
   first causes;
3. the CUDA memory check: torch's allocated memory returns to where it was after a check;
4. check-vs-bare-loop time ratios on CUDA for the digits CNN and a ResNet-18-sized model
   (torchvision's when it imports, else a local re-implementation of its recipe).

Usage: python benchmarks/gpu_proof.py [--out benchmarks/gpu_proof.json] [--repeats 5]
Runs in a few minutes on one GPU. On a machine without CUDA it writes why and exits 2.
"""

from __future__ import annotations

import argparse
import copy
import json
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

import torch
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pytest_mlcheck import CheckFailed, MLCheck  # noqa: E402
from pytest_mlcheck.settings import Settings  # noqa: E402
from torch_corpus import DigitsCNN, digits_batch, training_cases  # noqa: E402


def examples_on_gpu() -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "examples/test_digits_torch.py", "--mlcheck-gpu", "-q",
                           "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    return {"returncode": done.returncode, "seconds": round(time.perf_counter() - start, 1),
            "tail": done.stdout.strip().splitlines()[-3:]}


def verdict(device: str, case: Any) -> dict[str, Any]:
    torch.manual_seed(0)
    try:
        result = MLCheck(Settings(device=device)).overfit_one_batch(batch=digits_batch(32), **case.build())
        return {"passed": True, "steps": result.steps}
    except CheckFailed as failed:
        return {"passed": False, "causes": failed.causes, "steps": failed.result.steps if failed.result else None}


def corpus_parity() -> dict[str, Any]:
    rows = []
    for case in training_cases():
        cpu, cuda = verdict("cpu", case), verdict("cuda", case)
        same = cpu["passed"] == cuda["passed"] and cpu.get("causes", [None])[:1] == cuda.get("causes", [None])[:1]
        rows.append({"case": case.name, "broken": case.broken, "cpu": cpu, "cuda": cuda, "same": same})
    return {"cases": rows, "all_same": all(r["same"] for r in rows)}


def cuda_memory() -> dict[str, Any]:
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    MLCheck().overfit_one_batch(DigitsCNN(), digits_batch(32), loss_fn=nn.CrossEntropyLoss(), device="cuda")
    torch.cuda.synchronize()
    after = torch.cuda.memory_allocated()
    return {"before": before, "after": after, "given_back": after == before}


def resnet18() -> tuple[nn.Module, str]:
    try:
        import torchvision

        return torchvision.models.resnet18(num_classes=10), "torchvision.models.resnet18"
    except Exception:
        return _local_resnet18(), "local ResNet-18 recipe (torchvision not importable)"


def _local_resnet18() -> nn.Module:
    def block(cin: int, cout: int, stride: int) -> nn.Module:
        class Basic(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                                          nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
                self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                             if stride != 1 or cin != cout else nn.Identity())

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.relu(self.body(x) + self.skip(x))

        return Basic()

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [block(cin, cout, stride), block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


def bare_loop(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], steps: int) -> None:
    model = copy.deepcopy(model).cuda().train()
    x, y = batch[0].cuda(), batch[1].cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        float(loss)


def ratios(repeats: int) -> list[dict[str, Any]]:
    out = []
    big, name = resnet18()
    images = (torch.rand(32, 3, 64, 64), torch.arange(32) % 10)
    for label, model, batch, steps in (("digits CNN", DigitsCNN(), digits_batch(32), 100),
                                       (name, big, images, 30)):
        check_times, bare_times = [], []
        for _ in range(repeats):  # interleaved, so load affects both alike
            torch.cuda.synchronize()
            t = time.perf_counter()
            MLCheck(Settings(device="cuda")).loss_decreases(model, [batch], loss_fn=nn.CrossEntropyLoss(),
                                                            optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
                                                            steps=steps, min_drop=0.01)
            torch.cuda.synchronize()
            check_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            bare_loop(model, batch, steps)
            torch.cuda.synchronize()
            bare_times.append(time.perf_counter() - t)
        check, bare = statistics.median(check_times), statistics.median(bare_times)
        out.append({"model": label, "steps": steps, "check_s": round(check, 4), "bare_s": round(bare, 4),
                    "ratio": round(check / bare, 3)})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "gpu_proof.json"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    report: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__}
    if not torch.cuda.is_available():
        report["skipped"] = "torch sees no CUDA device"
        pathlib.Path(args.out).write_text(json.dumps(report, indent=1))
        print(report["skipped"])
        return 2
    report["gpu"] = torch.cuda.get_device_name(0)
    report["examples"] = examples_on_gpu()
    report["corpus_parity"] = corpus_parity()
    report["cuda_memory"] = cuda_memory()
    report["ratios"] = ratios(args.repeats)
    pathlib.Path(args.out).write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "corpus_parity"}, indent=1))
    print("corpus verdicts and first causes equal on CPU and CUDA:", report["corpus_parity"]["all_same"])
    ok = (report["examples"]["returncode"] == 0 and report["corpus_parity"]["all_same"]
          and report["cuda_memory"]["given_back"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
