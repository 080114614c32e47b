"""Compile a loop-IR kernel to machine code with llvmlite and call it on numpy arrays."""

from __future__ import annotations

import ctypes
import functools
import threading

import numpy as np

from ..ir.loop_ir import PrimFunc
from .llvm_ir import REPEAT_SUFFIX, ModuleBuilder

_LOCK = threading.Lock()


@functools.cache
def _llvm():
    """Initialise LLVM once and load libgomp so generated code can call GOMP_parallel."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.load_library_permanently("libgomp.so.1")
    return llvm


def new_target_machine():
    """A fresh target machine for the host CPU (all its features), optimizing at -O3.

    An MCJIT engine takes ownership of the target machine it is given and frees it with
    itself, so every engine needs its own; sharing one crashes once a kernel is freed.
    """
    llvm = _llvm()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=3,
        reloc="default",
        codemodel="jitdefault",
    )


@functools.cache
def host_target_machine():
    """A shared target machine for optimizing and printing assembly (never given to an
    engine)."""
    return new_target_machine()


def generate_llvm_ir(func: PrimFunc, num_threads: int = 0) -> str:
    """The LLVM IR text of ``func`` before optimization."""
    return ModuleBuilder(func, num_threads).build()


class CompiledKernel:
    """Machine code for one kernel; call it with numpy arrays (outputs written in place).

    Attributes:
        source: the LLVM IR that was compiled (before optimization).
        func: the loop-IR kernel.
    """

    def __init__(self, func: PrimFunc, source: str, engine, address: int,
                 repeat_address: int):
        self.func = func
        self.source = source
        self._engine = engine  # keeps the machine code alive
        pointers = [ctypes.c_void_p] * len(func.args)
        self._cfunc = ctypes.CFUNCTYPE(None, *pointers)(address)
        self._repeat = ctypes.CFUNCTYPE(None, *pointers, ctypes.c_int64)(repeat_address)
        self._specs = [(b.name, b.shape, np.dtype(b.dtype)) for b in func.args]

    def __call__(self, *arrays: np.ndarray) -> None:
        self._cfunc(*self._pointers(arrays))

    def repeat(self, number: int, *arrays: np.ndarray) -> None:
        """Call the kernel ``number`` times on ``arrays``, back to back in machine code:
        what a timing loop should time."""
        self._repeat(*self._pointers(arrays), number)

    def _pointers(self, arrays) -> list[int]:
        if len(arrays) != len(self._specs):
            raise TypeError(f"kernel takes {len(self._specs)} arrays, got {len(arrays)}")
        ptrs = []
        for arr, (name, shape, dtype) in zip(arrays, self._specs):
            if not isinstance(arr, np.ndarray):
                raise TypeError(f"argument {name!r} must be a numpy array")
            if arr.shape != shape or arr.dtype != dtype:
                raise ValueError(
                    f"argument {name!r} must have shape {shape} and dtype {dtype}, "
                    f"got {arr.shape} {arr.dtype}"
                )
            if not arr.flags.c_contiguous:
                raise ValueError(f"argument {name!r} must be C-contiguous")
            ptrs.append(arr.ctypes.data)
        return ptrs

    @functools.cached_property
    def assembly(self) -> str:
        """Host assembly of the optimized kernel (compiled again, for inspection)."""
        llvm = _llvm()
        mod = llvm.parse_assembly(self.source)
        _optimize(mod)
        return host_target_machine().emit_assembly(mod)


def _optimize(mod) -> None:
    llvm = _llvm()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    # Off, both: the code generator already unrolls and vectorizes where the schedule says
    # so, and measured here neither pass made the benchmarks faster. With them on, LLVM 22
    # aborted on about 1 in 3,000 random programs (SLP after loop vectorization leaves an
    # instruction that does not dominate its uses) and took 90 s to compile one whose copy
    # loop it fully unrolled; a candidate's compile must stay in tens of milliseconds.
    pto.slp_vectorization = False
    pto.loop_unrolling = False
    pb = llvm.create_pass_builder(host_target_machine(), pto)
    pm = pb.getModulePassManager()
    pm.run(mod, pb)


def compile_func(func: PrimFunc, num_threads: int = 0) -> CompiledKernel:
    """Generate, optimize (-O3, host CPU) and JIT-compile ``func``.

    ``num_threads`` = 0 lets libgomp use every core.
    """
    source = generate_llvm_ir(func, num_threads)
    llvm = _llvm()
    with _LOCK:
        mod = _optimized_module(source)
        engine = llvm.create_mcjit_compiler(mod, new_target_machine())
        engine.finalize_object()
        address = engine.get_function_address(func.name)
        repeat_address = engine.get_function_address(func.name + REPEAT_SUFFIX)
    return CompiledKernel(func, source, engine, address, repeat_address)


def compile_object(func: PrimFunc, num_threads: int = 0) -> bytes:
    """Generate and optimize ``func`` like :func:`compile_func`, and return the host's
    object code instead of loading it: builds can run in other processes, and
    :func:`load_object` loads the result in the one that calls the kernel."""
    source = generate_llvm_ir(func, num_threads)
    with _LOCK:
        return host_target_machine().emit_object(_optimized_module(source))


def load_object(func: PrimFunc, object_code: bytes, source: str = "") -> CompiledKernel:
    """The kernel of ``func`` from object code made by :func:`compile_object` on this
    machine."""
    llvm = _llvm()
    with _LOCK:
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), new_target_machine())
        engine.add_object_file(llvm.ObjectFileRef.from_data(object_code))
        engine.finalize_object()
        address = engine.get_function_address(func.name)
        repeat_address = engine.get_function_address(func.name + REPEAT_SUFFIX)
    if not address or not repeat_address:
        raise ValueError(f"the object code has no function {func.name!r} or its "
                         f"{REPEAT_SUFFIX} loop")
    return CompiledKernel(func, source, engine, address, repeat_address)


def _optimized_module(source: str):
    mod = _llvm().parse_assembly(source)
    mod.verify()
    _optimize(mod)
    return mod
