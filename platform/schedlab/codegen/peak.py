"""Measure the host's fp32 peak: a generated kernel of independent vector FMAs on every core.

Benchmarks report results as a fraction of this number, measured in the same run, because
the machine's speed drifts over minutes.
"""

from __future__ import annotations

import ctypes
import statistics
import time

from .cpu import _llvm, new_target_machine

ACCUMULATORS = 12  # independent FMA chains: enough to cover FMA latency x throughput


def _peak_ir(lanes: int, iterations: int) -> str:
    vec = f"<{lanes} x float>"
    fma = f"@llvm.fma.v{lanes}f32"
    lines = [
        "declare void @GOMP_parallel(ptr, ptr, i32, i32)",
        f"declare {vec} {fma}({vec}, {vec}, {vec})",
        "define internal void @peak_body(ptr %out) {",
        "entry:",
        f"  %x = insertelement {vec} poison, float 0x3FEFFFFFE0000000, i32 0",
        f"  %y = shufflevector {vec} %x, {vec} poison, <{lanes} x i32> zeroinitializer",
        "  br label %loop",
        "loop:",
        "  %i = phi i64 [0, %entry], [%next, %loop]",
    ]
    for a in range(ACCUMULATORS):
        lines.append(f"  %a{a} = phi {vec} [zeroinitializer, %entry], [%b{a}, %loop]")
    for a in range(ACCUMULATORS):
        lines.append(f"  %b{a} = call {vec} {fma}({vec} %a{a}, {vec} %y, {vec} %y)")
    lines += [
        "  %next = add i64 %i, 1",
        f"  %more = icmp slt i64 %next, {iterations}",
        "  br i1 %more, label %loop, label %exit",
        "exit:",
    ]
    acc = "%b0"
    for a in range(1, ACCUMULATORS):
        lines.append(f"  %s{a} = fadd {vec} {acc}, %b{a}")
        acc = f"%s{a}"
    lines += [
        # The result is stored so the loop cannot be optimized away.
        f"  store volatile {vec} {acc}, ptr %out, align 4",
        "  ret void",
        "}",
        "define void @peak(ptr %out, i32 %threads) {",
        "  call void @GOMP_parallel(ptr @peak_body, ptr %out, i32 %threads, i32 0)",
        "  ret void",
        "}",
    ]
    return "\n".join(lines)


def measure_peak_gflops(
    num_threads: int, lanes: int = 16, iterations: int = 20_000_000, repeat: int = 5
) -> float:
    """Median fp32 GFLOP/s of ``num_threads`` threads each running independent FMAs."""
    llvm = _llvm()
    mod = llvm.parse_assembly(_peak_ir(lanes, iterations))
    mod.verify()
    engine = llvm.create_mcjit_compiler(mod, new_target_machine())
    engine.finalize_object()
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int)(engine.get_function_address("peak"))
    out = (ctypes.c_float * lanes)()
    fn(ctypes.addressof(out), num_threads)  # warm-up: starts the threads
    flops = 2 * lanes * ACCUMULATORS * iterations * num_threads
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(ctypes.addressof(out), num_threads)
        rates.append(flops / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)
