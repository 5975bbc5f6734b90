"""Where a PyTorch step's device time goes, for the baselines in bench/.

top_ops() runs a step a few times under torch.profiler and lists the operators
with the most self time on the device (on a CPU: on the CPU) per step. Runs on
PyTorch 1.13 (Debian) and 2.x.
"""
import torch


def top_ops(step, steps, sync, cuda, top):
    """step(k) for k in steps, profiled: [{op, ms_per_step, calls_per_step, share}], largest first."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as profiler:
        for k in steps:
            step(k)
        sync()
    # PyTorch 2.x names it self_device_time_total; 1.13 self_cuda_time_total.
    device_key = next(key for key in ("self_device_time_total", "self_cuda_time_total")
                      if hasattr(profiler.key_averages()[0], key)) if cuda else "self_cpu_time_total"
    # Operators only: on CUDA their self device time is that of the kernels they
    # launched, which are listed again as events of their own.
    events = [e for e in profiler.key_averages()
              if e.device_type == torch.autograd.DeviceType.CPU and getattr(e, device_key) > 0]
    total_us = sum(getattr(e, device_key) for e in events) or 1.0
    events.sort(key=lambda e: -getattr(e, device_key))
    return [{"op": e.key, "ms_per_step": getattr(e, device_key) / 1e3 / len(steps),
             "calls_per_step": e.count / len(steps), "share": getattr(e, device_key) / total_us}
            for e in events[:top]]
