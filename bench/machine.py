"""What the numbers were measured on: processor, cores, memory, threads, and how busy it was."""

from __future__ import annotations

import os
import platform


def describe() -> dict:
    """A short description of this machine and its current load."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(_memory_bytes() / 2**30, 1),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": load_average(),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def resident_bytes(field: str = "VmRSS") -> int:
    """This process's resident memory now (Linux; field 'VmHWM' for its peak), else its peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


GPU_LIBRARIES = ("cuda", "cublas", "cudnn", "cufft", "curand", "cusolver", "cusparse", "nvrtc", "nvjitlink", "nccl", "cupti", "nvshmem", "triton")


def gpu_library_resident_bytes() -> int:
    """Resident bytes of mapped GPU libraries (CUDA, Triton): dead weight in a CPU-only process."""
    total, counting = 0, False
    try:
        with open("/proc/self/smaps") as f:
            for line in f:
                head = line.split(maxsplit=6)
                if "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's header line
                    name = head[5].lower() if len(head) > 5 else ""
                    counting = any(lib in name.rsplit("/", 1)[-1] for lib in GPU_LIBRARIES)
                elif counting and line.startswith("Rss:"):
                    total += int(head[1]) * 1024
    except OSError:
        return 0
    return total


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
