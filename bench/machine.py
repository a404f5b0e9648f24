"""The machine a benchmark ran on: cores, CPU, RAM, load average, and its measured matmul throughput."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np


def describe() -> dict[str, Any]:
    """nproc, the CPU model from /proc/cpuinfo, total RAM, Python and the load average now."""
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8") if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "simd": [flag for flag in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if flag in flags],
        "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "load_average": load_average(),
    }


def write_results(path: Path, results: dict[str, Any]) -> None:
    """A benchmark's results as indented JSON at path, its folder made when missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def wait_for_quiet(max_load: float, patience_seconds: float, poll_seconds: float = 20.0) -> bool:
    """Sleep until the 1-minute load average is at most max_load; False when patience ran out first."""
    deadline = time.monotonic() + patience_seconds
    while os.getloadavg()[0] > max_load:
        if time.monotonic() >= deadline:
            return False
        print(f"load average {os.getloadavg()[0]:.2f} > {max_load}: waiting", flush=True)
        time.sleep(poll_seconds)
    return True


def float32_gemm_flops(size: int = 1536, repeats: int = 5) -> float:
    """Best float32 GEMM rate (FLOP/s) of numpy and torch on all cores: 2·n³ per n×n product."""
    import torch

    rng = np.random.default_rng(0)
    left, right = rng.standard_normal((size, size), dtype=np.float32), rng.standard_normal((size, size), dtype=np.float32)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    tensors = torch.from_numpy(left), torch.from_numpy(right)
    rates = [2 * size**3 / _best_seconds(lambda: left @ right, repeats),
             2 * size**3 / _best_seconds(lambda: torch.mm(*tensors), repeats)]
    return max(rates)


def int8_gemm_ops(size: int = 1536, repeats: int = 5) -> float:
    """int8 GEMM rate (ops/s, a multiply-add counts 2) of onnxruntime's MatMulInteger, the kernel int8 models use."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = rng.integers(-127, 128, (size, size), dtype=np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])], "int8-gemm",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [size, size])],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [size, size])],
        [numpy_helper.from_array(weights, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    activations = rng.integers(0, 256, (size, size), dtype=np.uint8)
    onnx.checker.check_model(model)
    return 2 * size**3 / _best_seconds(lambda: session.run(None, {"a": activations}), repeats)


def _best_seconds(function: Any, repeats: int) -> float:
    """Fastest of several timed calls after one warm-up."""
    function()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best
