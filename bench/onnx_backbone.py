"""The feature stages on torch (the project's current path) vs ONNX Runtime vs OpenVINO, CPU, one patch.

    .venv/bin/python bench/onnx_backbone.py [--threads 1] [--repeats 20] [--stages lite,resnet50-352,resnet50-480]
                                            [--runtimes torch,onnx,openvino]

Stages:
- lite: keeptrack-lite's EfficientNet-Lite0 to stride 16 (layers s8, s16) on a 256x256 patch; torch is
  EfficientNetLite0Features, ONNX Runtime is the model keeptrack-lite itself exports and caches
  (tracker/nets/onnx_backend.py, the same export recipe).
- resnet50-352 / resnet50-480: the KeepTrack engines' FeatureStage (ResNet-50 to layer3, layer2 kept, the
  classifier's feature conv + instance norm) on the keeptrack-fast (352) and keeptrack (480) patch; torch is the
  engines' default path (BatchNorm folded, channels_last), with the rule-generated fidelity weights (speed does
  not depend on the values; needs ../shared/fidelity). ONNX export of the BatchNorm-folded NCHW copy.

OpenVINO is timed only when `import openvino` works; it is not a project dependency (it installs cleanly
beside torch 2.13 CPU: `pip install openvino==2026.4.1`, no torch pulled). Prints the median milliseconds per
call and the largest output difference from torch relative to the output's magnitude. Takes ~1-2 min quiet
(each export 10-40 s).
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

from tracker.nets import onnx_backend  # noqa: E402
from tracker.nets.efficientnet import EfficientNetLite0Features  # noqa: E402
from tracker.paths import shared_dir  # noqa: E402

STAGES = ("lite", "resnet50-352", "resnet50-480")
RUNTIMES = ("torch", "onnx", "openvino")


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def stage(name: str):
    """(torch module as the project runs it, module to export, input (1,3,S,S), output names)."""
    if name == "lite":
        net = EfficientNetLite0Features(("s8", "s16"))
        x = onnx_backend.check_input((3, 256, 256), batch=1)
        return net, net, x, ("s8", "s16")
    size = int(name.split("-")[1])
    shared = shared_dir()
    if shared is None or not (shared / "fidelity").is_dir():
        raise SystemExit(f"{name}: needs ../shared/fidelity (rule-generated ResNet-50 weights)")
    from tracker.keeptrack.dimp_parts import FeatureStage
    from tracker.keeptrack.testing import rule_networks
    from tracker.nets.base_net import normalize_image

    base, _ = rule_networks(shared / "fidelity")
    current = FeatureStage(base, fold_batchnorm=True, channels_last=True, bf16=False).eval()
    export = FeatureStage(base, fold_batchnorm=True, channels_last=False, bf16=False).eval()
    x = normalize_image(onnx_backend.check_input((3, size, size), batch=1))
    return current, export, x, ("classification", "layer2", "layer3")


def outputs(module, x, names):
    with torch.no_grad():
        out = module(x)
    return [out[n].numpy() for n in names] if isinstance(out, dict) else [t.numpy() for t in out]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--runtimes", default=",".join(RUNTIMES))
    args = ap.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    runtimes = [r for r in args.runtimes.split(",") if r]
    bad = [s for s in stages if s not in STAGES] + [r for r in runtimes if r not in RUNTIMES]
    if bad:
        ap.error(f"unknown {bad}; stages: {', '.join(STAGES)}; runtimes: {', '.join(RUNTIMES)}")
    torch.set_num_threads(args.threads)
    import onnxruntime as ort

    try:
        import openvino as ov
    except ImportError:
        ov = None
    print(f"# {args.threads} thread(s), torch {torch.__version__}, onnxruntime {ort.__version__}, "
          f"openvino {ov.__version__ if ov else 'not installed'}; median of {args.repeats} calls, batch 1")
    print(f"{'stage':14s} {'runtime':9s} {'ms':>8s} {'vs torch':>9s} {'max rel diff':>13s} {'export s':>9s}")
    for name in stages:
        current, export, x, names = stage(name)
        reference = outputs(current, x, names)
        t_torch = timed(lambda: current(x), args.repeats)
        if "torch" in runtimes:
            print(f"{name:14s} {'torch':9s} {1000 * t_torch:8.2f} {'1.00x':>9s} {'-':>13s} {'-':>9s}", flush=True)
        if not ({"onnx", "openvino"} & set(runtimes)):
            continue
        t0 = time.perf_counter()
        model = onnx_backend.export_model(export, tuple(x.shape[1:]), names)
        export_s = time.perf_counter() - t0
        feed = np.ascontiguousarray(x.numpy())
        if "onnx" in runtimes:
            network = onnx_backend.OnnxNetwork(model, names, None, exported=True, difference=None)
            session = network.session(args.threads)
            out = session.run(None, {"input": feed})
            diff = onnx_backend.max_relative_difference(reference, out)
            t = timed(lambda: session.run(None, {"input": feed}), args.repeats)
            print(f"{name:14s} {'onnx':9s} {1000 * t:8.2f} {t_torch / t:8.2f}x {diff:13.1e} {export_s:9.1f}",
                  flush=True)
        if "openvino" in runtimes:
            if ov is None:
                print(f"{name:14s} {'openvino':9s} {'(not installed)':>8s}")
                continue
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "stage.onnx"
                path.write_bytes(model)
                core = ov.Core()
                ov_model = core.read_model(str(path))
                ov_model.reshape({"input": list(x.shape)})
                compiled = core.compile_model(ov_model, "CPU", {"INFERENCE_NUM_THREADS": args.threads,
                                                                "PERFORMANCE_HINT": "LATENCY",
                                                                "INFERENCE_PRECISION_HINT": "f32"})
                request = compiled.create_infer_request()
                result = request.infer({"input": feed})
                out = [np.asarray(result[compiled.output(i)]) for i in range(len(names))]
                diff = onnx_backend.max_relative_difference(reference, out)
                t = timed(lambda: request.infer({"input": feed}), args.repeats)
            print(f"{name:14s} {'openvino':9s} {1000 * t:8.2f} {t_torch / t:8.2f}x {diff:13.1e} {export_s:9.1f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
