"""What this machine's CPU offers, and how many threads hfcolor runs on it.

One knob: torch's thread count (``torch.set_num_threads``, the CLI's ``--threads``, the Space's
share of the cores). The full-resolution colour steps spread over the same number of threads, and
OpenCV runs one thread inside each, so nothing is oversubscribed. ``import hfcolor`` also asks
OpenMP for passive waiting (``OMP_WAIT_POLICY=PASSIVE``, unless set) when torch is not imported
yet: torch's spinning idle threads made every call 30-46x slower whenever anything else used the
CPU.
"""

from __future__ import annotations

import functools
import os
import warnings

import torch


def cpu_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_threads() -> int:
    """Torch's thread setting, capped at the cores: the threads one colorization uses."""
    return max(1, min(torch.get_num_threads(), cpu_cores()))


def set_threads(threads: int) -> None:
    """Run torch, and hfcolor's colour steps, on ``threads`` threads."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    torch.set_num_threads(threads)


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 natively here (AVX512-BF16 or AMX); elsewhere it emulates it."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def warn_if_bfloat16_is_emulated(device: torch.device | str, dtype: torch.dtype | None) -> None:
    if dtype is torch.bfloat16 and torch.device(device).type == "cpu" and not cpu_has_native_bf16():
        warnings.warn(
            "this CPU has no native bfloat16 (no AVX512-BF16 or AMX): bfloat16 runs emulated, several "
            "times slower than float32 (benchmarks/bench_colour.py measures it); use float32 here",
            stacklevel=3,
        )
