"""keeptrack-lite's feature stage: torch eager vs the same network exported to ONNX and run by ONNX Runtime (CPU).

    .venv/bin/python bench/onnx_backbone.py [--threads 1] [--repeats 30] [--size 256]

Exports EfficientNet-Lite0 (to stride 16, the layers keeptrack-lite uses) from the installed weights with
torch.onnx.export into a temporary folder, then times both on the same 256x256 patch and prints the largest
difference of the outputs. Needs onnx, onnxscript and onnxruntime (not project dependencies yet).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tracker.nets.efficientnet import EfficientNetLite0Features  # noqa: E402


class AsTuple(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        out = self.net(x)
        return tuple(out[name] for name in self.net.layers)


def timed(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args(argv)
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    net = AsTuple(EfficientNetLite0Features(("s8", "s16"))).eval()
    x = torch.rand(1, 3, args.size, args.size) * 255
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lite0.onnx"
        t0 = time.perf_counter()
        torch.onnx.export(net, (x,), str(path), input_names=["patch"], output_names=["s8", "s16"], dynamo=True)
        export_s = time.perf_counter() - t0
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        feed = {"patch": x.numpy()}
        with torch.no_grad():
            ref = [t.numpy() for t in net(x)]
            t_torch = timed(lambda: net(x), args.repeats)
        out = session.run(None, feed)
        t_ort = timed(lambda: session.run(None, feed), args.repeats)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, out))
    print(f"# EfficientNet-Lite0 to stride 16, {args.size}x{args.size} patch, {args.threads} thread(s), "
          f"torch {torch.__version__}, onnxruntime {ort.__version__}; export {export_s:.1f} s")
    print(f"torch eager   {1000 * t_torch:7.2f} ms")
    print(f"onnxruntime   {1000 * t_ort:7.2f} ms   ({t_torch / t_ort:.2f}x)   max |difference| {diff:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
