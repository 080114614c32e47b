"""Loop IR -> LLVM IR text for x86 CPUs.

Design choices:
- Index arithmetic is done in i64; int32 data is widened on load and narrowed on store.
- A ``vectorize`` loop whose body is straight-line code (stores, conditions, no loops)
  becomes explicit LLVM vector code: loads with unit stride are vector loads, loop-invariant
  loads are broadcasts, loads and stores at another constant stride are one scalar access
  per lane, others are gathers and scatters; conditions that vary across lanes become masks
  (an int32 store under a mask is one guarded scalar store per lane: see ``store``).
  Any other ``vectorize`` loop is a scalar loop with LLVM's vectorizer forced on.
- ``unroll`` loops are unrolled here (constant indices let LLVM keep tiles in registers).
- A ``parallel`` loop is outlined into a function run by libgomp's ``GOMP_parallel``; each
  thread takes one contiguous chunk. Captured loop variables and buffers travel in a struct.
- Buffers are allocated in the entry block of the function that uses them: on the stack
  when small, with malloc otherwise.
- Beside the kernel, ``<name>_repeat`` takes the kernel's arguments and a count and calls the
  kernel that many times, so that a timing loop costs no Python call per run (a few
  microseconds, a visible share of a sub-millisecond kernel). The kernel is ``noinline``:
  the code timed through the loop is the code called on its own.
"""

from __future__ import annotations

import struct

from ..ir.loop_ir import Allocate, Buffer, For, IfThen, PrimFunc, Seq, Stmt, Store, iter_stmts
from ..te.expr import BinOp, Call, Cast, Cmp, Const, Expr, Load, Logic, Select, Var
from ..te.visit import collect_vars, walk

LLVM_TYPES = {"float32": "float", "float64": "double", "int32": "i64", "int64": "i64",
              "bool": "i1"}
MEMORY_TYPES = {"float32": "float", "float64": "double", "int32": "i32", "int64": "i64",
                "bool": "i8"}
ELEM_BYTES = {"float32": 4, "float64": 8, "int32": 4, "int64": 8, "bool": 1}
STACK_LIMIT_BYTES = 64 * 1024
MAX_VECTOR_LANES = 64
MAX_UNROLL_NODES = 4096
REPEAT_SUFFIX = "_repeat"


def float_literal(value: float, dtype: str) -> str:
    """LLVM's hexadecimal spelling of a float constant (exact for float32 values)."""
    if dtype == "float32":
        value = struct.unpack("<f", struct.pack("<f", value))[0]
    return f"0x{struct.unpack('<Q', struct.pack('<d', value))[0]:016X}"


class _Value:
    """An SSA value: ``ref`` (like ``%t3`` or a literal), its scalar dtype, and lanes."""

    __slots__ = ("ref", "dtype", "lanes")

    def __init__(self, ref: str, dtype: str, lanes: int = 1):
        self.ref, self.dtype, self.lanes = ref, dtype, lanes

    @property
    def ty(self) -> str:
        base = LLVM_TYPES[self.dtype]
        return base if self.lanes == 1 else f"<{self.lanes} x {base}>"


class _Function:
    """Text of one LLVM function under construction."""

    def __init__(self, name: str, params: str, module: ModuleBuilder):
        self.name, self.params, self.module = name, params, module
        self.entry: list[str] = []
        self.lines: list[str] = []
        self.exit: list[str] = []
        self.block = "body"
        self.env: dict[Var, _Value] = {}
        self.ptrs: dict[int, str] = {}  # id(buffer) -> pointer ref

    def tmp(self) -> str:
        return self.module.fresh("%t")

    def emit(self, text: str) -> str:
        ref = self.tmp()
        self.lines.append(f"  {ref} = {text}")
        return ref

    def label(self, name: str) -> None:
        self.lines.append(f"{name}:")
        self.block = name

    def text(self) -> str:
        return "\n".join(
            [f"define {self.params} {{", "entry:"] + self.entry + ["  br label %body", "body:"]
            + self.lines + self.exit + ["  ret void", "}"]
        )


class ModuleBuilder:
    """Builds an LLVM module for one :class:`PrimFunc`."""

    def __init__(self, func: PrimFunc, num_threads: int = 0):
        self.func = func
        self.num_threads = num_threads
        self.counter = 0
        self.functions: list[_Function] = []
        self.declares: set[str] = set()
        self.metadata: list[str] = []

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def declare(self, text: str) -> None:
        self.declares.add(text)

    def build(self) -> str:
        params = ", ".join(f"ptr noalias %arg{i}" for i in range(len(self.func.args)))
        fn = _Function(self.func.name, f"void @{self.func.name}({params}) noinline", self)
        for i, buf in enumerate(self.func.args):
            fn.ptrs[id(buf)] = f"%arg{i}"
        _Emitter(fn).stmt(self.func.body)
        self.functions.append(fn)
        parts = (sorted(self.declares) + [f.text() for f in self.functions]
                 + [self.repeat_loop()] + self.metadata)
        return "\n\n".join(parts) + "\n"

    def repeat_loop(self) -> str:
        """``<name>_repeat(args..., i64 n)``: the kernel called ``n`` times."""
        name = self.func.name
        args = [f"ptr %arg{i}" for i in range(len(self.func.args))]
        return "\n".join([
            f"define void @{name}{REPEAT_SUFFIX}({', '.join(args + ['i64 %n'])}) {{",
            "entry:",
            "  %any = icmp sgt i64 %n, 0",
            "  br i1 %any, label %loop, label %done",
            "loop:",
            "  %i = phi i64 [0, %entry], [%next, %loop]",
            f"  call void @{name}({', '.join(args)})",
            "  %next = add i64 %i, 1",
            "  %again = icmp slt i64 %next, %n",
            "  br i1 %again, label %loop, label %done",
            "done:",
            "  ret void",
            "}",
        ])


class _Emitter:
    """Emits statements and expressions into one function."""

    def __init__(self, fn: _Function):
        self.fn = fn
        self.vec_var: Var | None = None
        self.lanes = 1
        self.mask: _Value | None = None

    # -- statements -------------------------------------------------------------------------
    def stmt(self, s: Stmt) -> None:
        if isinstance(s, Seq):
            for sub in s.stmts:
                self.stmt(sub)
        elif isinstance(s, For):
            self.loop(s)
        elif isinstance(s, Store):
            self.store(s)
        elif isinstance(s, IfThen):
            self.if_then(s)
        elif isinstance(s, Allocate):
            self.allocate(s.buffer)
            self.stmt(s.body)
        else:
            raise TypeError(f"cannot generate code for {s!r}")

    def allocate(self, buf: Buffer) -> None:
        fn = self.fn
        elem = MEMORY_TYPES[buf.dtype]
        nbytes = buf.size * ELEM_BYTES[buf.dtype]
        ref = fn.module.fresh("%buf")
        if nbytes <= STACK_LIMIT_BYTES:
            # An array type, not an element count: SROA only splits allocas of a fixed type,
            # and splitting is what turns a local accumulator tile into registers.
            fn.entry.append(f"  {ref} = alloca [{buf.size} x {elem}], align 64")
        else:
            fn.module.declare("declare ptr @malloc(i64)")
            fn.module.declare("declare void @free(ptr)")
            fn.entry.append(f"  {ref} = call ptr @malloc(i64 {nbytes + 64})")
            fn.exit.append(f"  call void @free(ptr {ref})")
        fn.ptrs[id(buf)] = ref

    def loop(self, s: For) -> None:
        # One-trip loops (common once bounds inference shrinks outer tiles) become constant
        # indices, which lets LLVM split small local buffers into registers early.
        if s.extent == 1 or (s.kind == "unroll" and _size(s.body) * s.extent <= MAX_UNROLL_NODES):
            for i in range(s.extent):
                self.fn.env[s.var] = _Value(str(i), "int64")
                self.stmt(s.body)
            del self.fn.env[s.var]
            return
        if s.kind == "vectorize" and self.vec_var is None and _vectorizable(s):
            self.vector_loop(s)
            return
        if s.kind == "parallel" and not self.fn.name.startswith(self.fn.module.func.name + "_par"):
            self.parallel_loop(s)
            return
        # No hint for a loop too big to unroll here: LLVM's unroller is off (see codegen.cpu),
        # and it would only warn that it could not follow one.
        hint = {"vectorize": "llvm.loop.vectorize.enable"}
        self.serial_loop(s.var, 0, str(s.extent), s.body, hint.get(s.kind))

    def serial_loop(self, var: Var, start, stop: str, body: Stmt, hint: str | None = None):
        fn = self.fn
        head, loop_body, done = (fn.module.fresh(p) for p in ("loop", "body", "done"))
        before = fn.block
        fn.lines.append(f"  br label %{head}")
        fn.label(head)
        iv = fn.tmp()
        nxt = fn.tmp()
        phi_index = len(fn.lines)
        fn.lines.append("")  # phi placeholder: the latch block is known only after the body
        cond = fn.emit(f"icmp slt i64 {iv}, {stop}")
        fn.lines.append(f"  br i1 {cond}, label %{loop_body}, label %{done}")
        fn.label(loop_body)
        fn.env[var] = _Value(iv, "int64")
        self.stmt(body)
        del fn.env[var]
        latch = fn.block
        meta = ""
        if hint:
            node = fn.module.fresh("!")
            sub = fn.module.fresh("!")
            fn.module.metadata.append(f"{node} = distinct !{{{node}, {sub}}}")
            fn.module.metadata.append(f'{sub} = !{{!"{hint}", i1 true}}')
            meta = f", !llvm.loop {node}"
        fn.lines.append(f"  {nxt} = add nsw i64 {iv}, 1")
        fn.lines.append(f"  br label %{head}{meta}")
        fn.lines[phi_index] = f"  {iv} = phi i64 [{start}, %{before}], [{nxt}, %{latch}]"
        fn.label(done)

    def parallel_loop(self, s: For) -> None:
        fn = self.fn
        module = fn.module
        module.declare("declare void @GOMP_parallel(ptr, ptr, i32, i32)")
        module.declare("declare i32 @omp_get_thread_num()")
        module.declare("declare i32 @omp_get_num_threads()")
        free_vars = sorted(
            (v for v in _stmt_vars(s.body) if v in fn.env and v is not s.var),
            key=lambda v: v.name,
        )
        bufs = [b for b in _stmt_buffers(s.body) if id(b) in fn.ptrs]
        name = module.fresh(f"{module.func.name}_par")
        sub = _Function(name, f"internal void @{name}(ptr %ctx)", module)
        slot = 0
        ctx = module.fresh("%ctx")
        nslots = max(1, len(free_vars) + len(bufs))
        fn.entry.append(f"  {ctx} = alloca [{nslots} x i64], align 8")
        for v in free_vars:
            p = fn.emit(f"getelementptr [{nslots} x i64], ptr {ctx}, i64 0, i64 {slot}")
            fn.lines.append(f"  store i64 {fn.env[v].ref}, ptr {p}")
            q = sub.emit(f"getelementptr [{nslots} x i64], ptr %ctx, i64 0, i64 {slot}")
            sub.env[v] = _Value(sub.emit(f"load i64, ptr {q}"), "int64")
            slot += 1
        for b in bufs:
            p = fn.emit(f"getelementptr [{nslots} x i64], ptr {ctx}, i64 0, i64 {slot}")
            fn.lines.append(f"  store ptr {fn.ptrs[id(b)]}, ptr {p}")
            q = sub.emit(f"getelementptr [{nslots} x i64], ptr %ctx, i64 0, i64 {slot}")
            sub.ptrs[id(b)] = sub.emit(f"load ptr, ptr {q}")
            slot += 1
        tid = sub.emit("call i32 @omp_get_thread_num()")
        nth = sub.emit("call i32 @omp_get_num_threads()")
        tid64 = sub.emit(f"sext i32 {tid} to i64")
        nth64 = sub.emit(f"sext i32 {nth} to i64")
        plus = sub.emit(f"add i64 {s.extent}, {nth64}")
        minus = sub.emit(f"sub i64 {plus}, 1")
        chunk = sub.emit(f"sdiv i64 {minus}, {nth64}")
        start = sub.emit(f"mul i64 {tid64}, {chunk}")
        end0 = sub.emit(f"add i64 {start}, {chunk}")
        less = sub.emit(f"icmp slt i64 {end0}, {s.extent}")
        end = sub.emit(f"select i1 {less}, i64 {end0}, i64 {s.extent}")
        _Emitter(sub).serial_loop(s.var, start, end, s.body)
        module.functions.append(sub)
        fn.lines.append(
            f"  call void @GOMP_parallel(ptr @{name}, ptr {ctx}, "
            f"i32 {fn.module.num_threads}, i32 0)"
        )

    def vector_loop(self, s: For) -> None:
        self.vec_var, self.lanes = s.var, s.extent
        lanes = ", ".join(f"i64 {i}" for i in range(s.extent))
        self.fn.env[s.var] = _Value(f"<{lanes}>", "int64", s.extent)
        try:
            self.stmt(s.body)
        finally:
            del self.fn.env[s.var]
            self.vec_var, self.lanes, self.mask = None, 1, None

    def if_then(self, s: IfThen) -> None:
        cond = self.expr(s.cond)
        if cond.lanes > 1:
            outer = self.mask
            self.mask = cond if outer is None else self.binary("and", outer, cond, "i1")
            self.stmt(s.body)
            self.mask = outer
            return
        fn = self.fn
        then, done = fn.module.fresh("then"), fn.module.fresh("endif")
        fn.lines.append(f"  br i1 {cond.ref}, label %{then}, label %{done}")
        fn.label(then)
        self.stmt(s.body)
        fn.lines.append(f"  br label %{done}")
        fn.label(done)

    def store(self, s: Store) -> None:
        value = self.expr(s.value)
        buf = s.buffer
        if self.vec_var is None:
            ptr = self.address(buf, self.expr(s.index))
            self.fn.lines.append(
                f"  store {MEMORY_TYPES[buf.dtype]} {self.to_memory(value, buf.dtype).ref}, "
                f"ptr {ptr}, align {ELEM_BYTES[buf.dtype]}"
            )
            return
        value = self.broadcast(value)
        mem = self.to_memory(value, buf.dtype)
        vty = f"<{self.lanes} x {MEMORY_TYPES[buf.dtype]}>"
        align = ELEM_BYTES[buf.dtype]
        if _stride(s.index, self.vec_var) == 1:
            if self.mask is not None and buf.dtype == "int32":
                # Not llvm.masked.store: LLVM 22's x86 backend turns a masked store of a
                # truncated value, once it knows only lane 0 is on, into a store of the
                # untruncated 64-bit lane, which writes past the element (found by the
                # differential test: wrong minima, and a corrupted heap where the element
                # was a buffer's last).
                self.strided_store(buf, s.index, 1, mem, guard=self.mask)
                return
            ptr = self.address(buf, self.scalar_at_zero(s.index))
            if self.mask is None:
                self.fn.lines.append(f"  store {vty} {mem.ref}, ptr {ptr}, align {align}")
            else:
                self.fn.module.declare(
                    f"declare void @llvm.masked.store.{_vsuffix(vty)}.p0({vty}, ptr, i32, "
                    f"<{self.lanes} x i1>)"
                )
                self.fn.lines.append(
                    f"  call void @llvm.masked.store.{_vsuffix(vty)}.p0({vty} {mem.ref}, "
                    f"ptr {ptr}, i32 {align}, <{self.lanes} x i1> {self.mask.ref})"
                )
            return
        stride = _stride(s.index, self.vec_var)
        if self.mask is None and stride is not None:
            self.strided_store(buf, s.index, stride, mem)
            return
        ptrs = self.vector_address(buf, s.index)
        mask = self.mask.ref if self.mask else _all_true(self.lanes)
        self.fn.module.declare(
            f"declare void @llvm.masked.scatter.{_vsuffix(vty)}.v{self.lanes}p0({vty}, "
            f"<{self.lanes} x ptr>, i32, <{self.lanes} x i1>)"
        )
        self.fn.lines.append(
            f"  call void @llvm.masked.scatter.{_vsuffix(vty)}.v{self.lanes}p0({vty} {mem.ref}, "
            f"<{self.lanes} x ptr> {ptrs}, i32 {align}, <{self.lanes} x i1> {mask})"
        )

    # -- memory -----------------------------------------------------------------------------
    def address(self, buf: Buffer, index: _Value) -> str:
        return self.fn.emit(
            f"getelementptr inbounds {MEMORY_TYPES[buf.dtype]}, ptr {self.fn.ptrs[id(buf)]}, "
            f"i64 {index.ref}"
        )

    def vector_address(self, buf: Buffer, index: Expr) -> str:
        idx = self.broadcast(self.expr(index))
        return self.fn.emit(
            f"getelementptr inbounds {MEMORY_TYPES[buf.dtype]}, ptr {self.fn.ptrs[id(buf)]}, "
            f"<{self.lanes} x i64> {idx.ref}"
        )

    def scalar_at_zero(self, index: Expr) -> _Value:
        saved = self.fn.env[self.vec_var]
        self.fn.env[self.vec_var] = _Value("0", "int64")
        try:
            return self.expr(index)
        finally:
            self.fn.env[self.vec_var] = saved

    def to_memory(self, value: _Value, dtype: str) -> _Value:
        """Convert a register value to the buffer's element type."""
        if dtype == "int32":
            return self.convert(value, "i64", "i32", "trunc")
        if dtype == "bool":
            return self.convert(value, "i1", "i8", "zext")
        return value

    def convert(self, value: _Value, src: str, dst: str, op: str) -> _Value:
        if value.lanes > 1:
            src, dst = f"<{value.lanes} x {src}>", f"<{value.lanes} x {dst}>"
        return _Value(self.fn.emit(f"{op} {src} {value.ref} to {dst}"), value.dtype, value.lanes)

    def load(self, e: Load) -> _Value:
        buf = e.buffer
        elem = MEMORY_TYPES[buf.dtype]
        align = ELEM_BYTES[buf.dtype]
        stride = None if self.vec_var is None else _stride(e.index, self.vec_var)
        if self.vec_var is None or stride == 0:
            if self.mask is not None and self.vec_var is not None:
                # A lane-invariant load under a lane mask: read it only if some lane is on.
                return self.guarded_scalar_load(e)
            ptr = self.address(buf, self.expr(e.index))
            raw = _Value(self.fn.emit(f"load {elem}, ptr {ptr}, align {align}"), buf.dtype)
            return self.from_memory(raw, buf.dtype)
        vty = f"<{self.lanes} x {elem}>"
        if stride == 1:
            ptr = self.address(buf, self.scalar_at_zero(e.index))
            if self.mask is None:
                ref = self.fn.emit(f"load {vty}, ptr {ptr}, align {align}")
            else:
                self.fn.module.declare(
                    f"declare {vty} @llvm.masked.load.{_vsuffix(vty)}.p0(ptr, i32, "
                    f"<{self.lanes} x i1>, {vty})"
                )
                ref = self.fn.emit(
                    f"call {vty} @llvm.masked.load.{_vsuffix(vty)}.p0(ptr {ptr}, i32 {align}, "
                    f"<{self.lanes} x i1> {self.mask.ref}, {vty} zeroinitializer)"
                )
        elif self.mask is None and stride is not None:
            ref = self.strided_load(buf, e.index, stride)
        else:
            ptrs = self.vector_address(buf, e.index)
            mask = self.mask.ref if self.mask else _all_true(self.lanes)
            self.fn.module.declare(
                f"declare {vty} @llvm.masked.gather.{_vsuffix(vty)}.v{self.lanes}p0("
                f"<{self.lanes} x ptr>, i32, <{self.lanes} x i1>, {vty})"
            )
            ref = self.fn.emit(
                f"call {vty} @llvm.masked.gather.{_vsuffix(vty)}.v{self.lanes}p0("
                f"<{self.lanes} x ptr> {ptrs}, i32 {align}, <{self.lanes} x i1> {mask}, "
                f"{vty} zeroinitializer)"
            )
        return self.from_memory(_Value(ref, buf.dtype, self.lanes), buf.dtype)

    def strided_load(self, buf: Buffer, index: Expr, stride: int) -> str:
        """A vector of lanes ``stride`` elements apart, one scalar load per lane.

        Not a gather: LLVM's alias analysis cannot see where a vector of pointers points,
        so a gather in a loop keeps LICM from holding an accumulator in a register across
        that loop (measured: a dense 8x16 register tile ran 3x slower). The backend turns
        a gather into these scalar loads anyway on CPUs without fast gathers."""
        elem = MEMORY_TYPES[buf.dtype]
        align = ELEM_BYTES[buf.dtype]
        ref = "poison"
        for lane, ptr in enumerate(self.lane_pointers(buf, index, stride)):
            value = self.fn.emit(f"load {elem}, ptr {ptr}, align {align}")
            ref = self.fn.emit(
                f"insertelement <{self.lanes} x {elem}> {ref}, {elem} {value}, i32 {lane}")
        return ref

    def strided_store(self, buf: Buffer, index: Expr, stride: int, value: _Value,
                      guard: _Value | None = None) -> None:
        """Store the lanes of ``value`` ``stride`` elements apart, one scalar store per
        lane, in lane order as a scatter orders overlapping lanes (see ``strided_load``).
        With ``guard`` (a lane mask), each lane's store is behind a branch on its bit."""
        fn = self.fn
        elem = MEMORY_TYPES[buf.dtype]
        align = ELEM_BYTES[buf.dtype]
        for lane, ptr in enumerate(self.lane_pointers(buf, index, stride)):
            if guard is not None:
                on = fn.emit(f"extractelement <{self.lanes} x i1> {guard.ref}, i32 {lane}")
                then, done = fn.module.fresh("st"), fn.module.fresh("stdone")
                fn.lines.append(f"  br i1 {on}, label %{then}, label %{done}")
                fn.label(then)
            lane_value = fn.emit(
                f"extractelement <{self.lanes} x {elem}> {value.ref}, i32 {lane}")
            fn.lines.append(f"  store {elem} {lane_value}, ptr {ptr}, align {align}")
            if guard is not None:
                fn.lines.append(f"  br label %{done}")
                fn.label(done)

    def lane_pointers(self, buf: Buffer, index: Expr, stride: int) -> list[str]:
        """One scalar pointer per lane: lane 0's element of ``index``, then ``stride``
        elements further for each next lane."""
        elem = MEMORY_TYPES[buf.dtype]
        base = self.address(buf, self.scalar_at_zero(index))
        return [self.fn.emit(f"getelementptr inbounds {elem}, ptr {base}, i64 {lane * stride}")
                for lane in range(self.lanes)]

    def guarded_scalar_load(self, e: Load) -> _Value:
        fn = self.fn
        buf = e.buffer
        elem = MEMORY_TYPES[buf.dtype]
        mask_bits = fn.emit(f"bitcast <{self.lanes} x i1> {self.mask.ref} to i{self.lanes}")
        any_on = fn.emit(f"icmp ne i{self.lanes} {mask_bits}, 0")
        then, done = fn.module.fresh("ld"), fn.module.fresh("lddone")
        before = fn.block
        fn.lines.append(f"  br i1 {any_on}, label %{then}, label %{done}")
        fn.label(then)
        vec, mask = self.vec_var, self.mask
        self.vec_var, self.mask = None, None
        ptr = self.address(buf, self.expr(e.index))
        self.vec_var, self.mask = vec, mask
        raw = fn.emit(f"load {elem}, ptr {ptr}, align {ELEM_BYTES[buf.dtype]}")
        loaded_block = fn.block
        fn.lines.append(f"  br label %{done}")
        fn.label(done)
        zero = "0.0" if buf.dtype in ("float32", "float64") else "0"
        ref = fn.emit(f"phi {elem} [{raw}, %{loaded_block}], [{zero}, %{before}]")
        return self.from_memory(_Value(ref, buf.dtype), buf.dtype)

    def from_memory(self, value: _Value, dtype: str) -> _Value:
        if dtype == "int32":
            return self.convert(value, "i32", "i64", "sext")
        if dtype == "bool":
            return self.convert(value, "i8", "i1", "trunc")
        return value

    # -- expressions ------------------------------------------------------------------------
    def broadcast(self, value: _Value) -> _Value:
        if value.lanes == self.lanes or self.lanes == 1:
            return value
        base = LLVM_TYPES[value.dtype]
        one = self.fn.emit(f"insertelement <1 x {base}> poison, {base} {value.ref}, i32 0")
        ref = self.fn.emit(
            f"shufflevector <1 x {base}> {one}, <1 x {base}> poison, "
            f"<{self.lanes} x i32> zeroinitializer"
        )
        return _Value(ref, value.dtype, self.lanes)

    def expr(self, e: Expr) -> _Value:
        if isinstance(e, Const):
            return self.const(e)
        if isinstance(e, Var):
            if e not in self.fn.env:
                raise ValueError(f"variable {e.name!r} used outside its loop")
            return self.fn.env[e]
        if isinstance(e, Load):
            return self.load(e)
        if isinstance(e, BinOp):
            return self.binop(e)
        if isinstance(e, Cmp):
            return self.cmp(e)
        if isinstance(e, Logic):
            args = [self.expr(a) for a in e.args]
            if e.op == "not":
                a = args[0]
                return _Value(self.fn.emit(f"xor {a.ty} {a.ref}, {_splat('true', a)}"), "bool",
                              a.lanes)
            return self.binary(e.op, args[0], args[1], "i1")
        if isinstance(e, Select):
            return self.select(e)
        if isinstance(e, Call):
            return self.call(e)
        if isinstance(e, Cast):
            return self.cast(e)
        raise TypeError(f"cannot generate code for expression {e!r}")

    def const(self, e: Const) -> _Value:
        if e.dtype in ("float32", "float64"):
            return _Value(float_literal(e.value, e.dtype), e.dtype)
        if e.dtype == "bool":
            return _Value("true" if e.value else "false", "bool")
        return _Value(str(e.value), "int64")

    def binary(self, op: str, a: _Value, b: _Value, base: str, flags: str = "") -> _Value:
        if a.lanes != b.lanes:
            a, b = self.broadcast(a), self.broadcast(b)
        ty = base if a.lanes == 1 else f"<{a.lanes} x {base}>"
        ref = self.fn.emit(f"{op} {flags}{ty} {a.ref}, {b.ref}")
        is_bool = base == "i1" or op.startswith(("icmp", "fcmp"))
        return _Value(ref, "bool" if is_bool else a.dtype, a.lanes)

    def binop(self, e: BinOp) -> _Value:
        a, b = self.expr(e.a), self.expr(e.b)
        base = LLVM_TYPES[e.dtype]
        is_float = e.dtype in ("float32", "float64")
        if is_float:
            simple = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv"}
            if e.op in simple:
                return self.binary(simple[e.op], a, b, base, "contract ")
            if e.op in ("min", "max"):
                # The intrinsic, not fcmp + select: select uses the accumulator twice, and a
                # long unrolled max chain then sends LLVM's loop vectorizer into exponential
                # time. llvm.maximum also propagates NaN like numpy.
                return self.intrinsic("minimum" if e.op == "min" else "maximum", a, b)
            if e.op in ("floordiv", "floormod"):
                q = self.binary("fdiv", a, b, base)
                fq = self.intrinsic("floor", q)
                if e.op == "floordiv":
                    return fq
                return self.binary("fsub", a, self.binary("fmul", fq, b, base), base)
            if e.op == "pow":
                return self.intrinsic("pow", a, b)
        else:
            folded = _fold_int(e.op, a, b)
            if folded is not None:
                return folded
            simple = {"add": "add", "sub": "sub", "mul": "mul"}
            if e.op in simple:
                # nsw lets alias analysis split addresses into base + constant offsets, which
                # is what allows LLVM to keep an accumulator tile in registers.
                return self.binary(simple[e.op], a, b, base, "nsw ")
            if e.op in ("min", "max"):
                return self.intrinsic("smin" if e.op == "min" else "smax", a, b)  # see above
            if e.op in ("floordiv", "floormod"):
                if _nonneg(e.a) and _nonneg(e.b):
                    return self.binary("udiv" if e.op == "floordiv" else "urem", a, b, base)
                return self.floor_divmod(e.op, a, b, base)
        raise TypeError(f"unsupported operator {e.op} on {e.dtype}")

    def floor_divmod(self, op: str, a: _Value, b: _Value, base: str) -> _Value:
        q = self.binary("sdiv", a, b, base)
        r = self.binary("srem", a, b, base)
        zero = _Value(_splat("0", r), r.dtype, r.lanes)
        rneg = self.binary("icmp slt", r, zero, base)
        bneg = self.binary("icmp slt", b, _Value(_splat("0", b), b.dtype, b.lanes), base)
        nz = self.binary("icmp ne", r, zero, base)
        differ = self.binary("xor", rneg, bneg, "i1")
        adjust = self.binary("and", differ, nz, "i1")
        if op == "floordiv":
            one = self.convert(adjust, "i1", "i64", "zext")
            return self.binary("sub", q, one, base)
        fixed = self.binary("add", r, b, base)
        return self._select(adjust, fixed, r)

    def _select(self, cond: _Value, a: _Value, b: _Value) -> _Value:
        lanes = max(cond.lanes, a.lanes, b.lanes)
        if lanes > 1:
            cond, a, b = self.broadcast(cond), self.broadcast(a), self.broadcast(b)
        ref = self.fn.emit(f"select {cond.ty} {cond.ref}, {a.ty} {a.ref}, {b.ty} {b.ref}")
        return _Value(ref, a.dtype, lanes)

    def cmp(self, e: Cmp) -> _Value:
        a, b = self.expr(e.a), self.expr(e.b)
        base = LLVM_TYPES[e.a.dtype]
        if e.a.dtype in ("float32", "float64"):
            pred = {"lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge", "eq": "oeq", "ne": "une"}
            return self.binary(f"fcmp {pred[e.op]}", a, b, base)
        pred = {"lt": "slt", "le": "sle", "gt": "sgt", "ge": "sge", "eq": "eq", "ne": "ne"}
        return self.binary(f"icmp {pred[e.op]}", a, b, base)

    def select(self, e: Select) -> _Value:
        has_load = any(isinstance(n, Load) for n in walk(e.true_value)) or any(
            isinstance(n, Load) for n in walk(e.false_value)
        )
        cond = self.expr(e.cond)
        if not has_load:
            return self._select(cond, self.expr(e.true_value), self.expr(e.false_value))
        if cond.lanes > 1:
            # Lane-varying condition: read each side only in the lanes that take it.
            outer = self.mask
            on = cond if outer is None else self.binary("and", outer, cond, "i1")
            self.mask = on
            t = self.expr(e.true_value)
            inv = self.binary("xor", cond, _Value(_splat("true", cond), "bool", cond.lanes), "i1")
            self.mask = inv if outer is None else self.binary("and", outer, inv, "i1")
            f = self.expr(e.false_value)
            self.mask = outer
            return self._select(cond, t, f)
        fn = self.fn
        tl, fl, done = (fn.module.fresh(p) for p in ("sel_t", "sel_f", "sel_end"))
        fn.lines.append(f"  br i1 {cond.ref}, label %{tl}, label %{fl}")
        fn.label(tl)
        t = self.broadcast(self.expr(e.true_value)) if self.lanes > 1 else self.expr(e.true_value)
        t_end = fn.block
        fn.lines.append(f"  br label %{done}")
        fn.label(fl)
        f = self.broadcast(self.expr(e.false_value)) if self.lanes > 1 else self.expr(e.false_value)
        f_end = fn.block
        fn.lines.append(f"  br label %{done}")
        fn.label(done)
        if t.lanes != f.lanes:
            raise AssertionError("select branches with different lane counts")
        ref = fn.emit(f"phi {t.ty} [{t.ref}, %{t_end}], [{f.ref}, %{f_end}]")
        return _Value(ref, t.dtype, t.lanes)

    def intrinsic(self, name: str, *args: _Value) -> _Value:
        lanes = max(a.lanes for a in args)
        args = tuple(self.broadcast(a) for a in args) if lanes > 1 else args
        ty = args[0].ty
        suffix = _vsuffix(ty)
        self.fn.module.declare(
            f"declare {ty} @llvm.{name}.{suffix}({', '.join(ty for _ in args)})"
        )
        ref = self.fn.emit(
            f"call {ty} @llvm.{name}.{suffix}({', '.join(f'{ty} {a.ref}' for a in args)})"
        )
        return _Value(ref, args[0].dtype, lanes)

    def call(self, e: Call) -> _Value:
        x = self.expr(e.arg)
        if e.func in ("exp", "log", "sqrt", "tanh"):
            return self.intrinsic(e.func, x)
        if e.func == "abs":
            if e.dtype in ("float32", "float64"):
                return self.intrinsic("fabs", x)
            zero = _Value(_splat("0", x), x.dtype, x.lanes)
            neg = self.binary("sub", zero, x, "i64")
            return self._select(self.binary("icmp slt", x, zero, "i64"), neg, x)
        if e.func == "sigmoid":
            base = LLVM_TYPES[e.dtype]
            zero = _Value(_splat(float_literal(0.0, e.dtype), x), x.dtype, x.lanes)
            one = _Value(_splat(float_literal(1.0, e.dtype), x), x.dtype, x.lanes)
            ex = self.intrinsic("exp", self.binary("fsub", zero, x, base))
            return self.binary("fdiv", one, self.binary("fadd", one, ex, base), base)
        raise TypeError(f"unsupported intrinsic {e.func}")

    def cast(self, e: Cast) -> _Value:
        x = self.expr(e.value)
        src, dst = e.value.dtype, e.dtype
        fl = ("float32", "float64")
        s_ty, d_ty = LLVM_TYPES[src], LLVM_TYPES[dst]
        if s_ty == d_ty:
            return _Value(x.ref, dst, x.lanes)
        if src in fl and dst in fl:
            op = "fpext" if dst == "float64" else "fptrunc"
        elif src in fl:
            if dst == "bool":
                zero = _Value(_splat(float_literal(0.0, src), x), src, x.lanes)
                return self.binary("fcmp une", x, zero, s_ty)
            op = "fptosi"
        elif dst in fl:
            op = "uitofp" if src == "bool" else "sitofp"
        elif dst == "bool":
            zero = _Value(_splat("0", x), src, x.lanes)
            return self.binary("icmp ne", x, zero, s_ty)
        else:
            op = "zext"
        out = self.convert(x, s_ty, d_ty, op)
        return _Value(out.ref, dst, out.lanes)


def _splat(scalar: str, like: _Value) -> str:
    if like.lanes == 1:
        return scalar
    base = LLVM_TYPES[like.dtype]
    return "<" + ", ".join(f"{base} {scalar}" for _ in range(like.lanes)) + ">"


def _all_true(lanes: int) -> str:
    return "<" + ", ".join("i1 true" for _ in range(lanes)) + ">"


def _vsuffix(vty: str) -> str:
    """Overload suffix of an intrinsic: float -> f32, <8 x float> -> v8f32."""
    names = {"float": "f32", "double": "f64", "i32": "i32", "i64": "i64", "i8": "i8", "i1": "i1"}
    if vty.startswith("<"):
        lanes, _, base = vty[1:-1].split(" ")
        return f"v{lanes}{names[base]}"
    return names[vty]


def _stride(index: Expr, var: Var) -> int | None:
    """Coefficient of ``var`` if ``index`` is affine in it, else None."""
    if var not in collect_vars(index):
        return 0
    if index is var:
        return 1
    if isinstance(index, BinOp):
        a, b = _stride(index.a, var), _stride(index.b, var)
        if a is None or b is None:
            return None
        if index.op == "add":
            return a + b
        if index.op == "sub":
            return a - b
        if index.op == "mul":
            if isinstance(index.b, Const) and b == 0:
                return a * index.b.value
            if isinstance(index.a, Const) and a == 0:
                return b * index.a.value
    return None


def _nonneg(e: Expr) -> bool:
    if isinstance(e, Const):
        return e.value >= 0
    if isinstance(e, Var):
        return True  # loop variables start at zero
    if isinstance(e, BinOp) and e.op in ("add", "mul", "floordiv", "floormod", "min", "max"):
        return _nonneg(e.a) and _nonneg(e.b)
    return False


def _size(s: Stmt) -> int:
    if isinstance(s, Seq):
        return sum(_size(x) for x in s.stmts)
    if isinstance(s, For):
        return s.extent * _size(s.body)
    if isinstance(s, (IfThen, Allocate)):
        return 1 + _size(s.body)
    return 1


def _int_literal(v: _Value) -> int | None:
    ref = v.ref
    if v.lanes == 1 and (ref.isdigit() or (ref[:1] == "-" and ref[1:].isdigit())):
        return int(ref)
    return None


def _fold_int(op: str, a: _Value, b: _Value) -> _Value | None:
    """``a op b`` without an instruction when constants decide it. Unrolled loops turn loop
    variables into constants, and folding their index arithmetic here keeps the IR of a
    big unrolled tile several times smaller, which LLVM then parses and optimizes faster."""
    x, y = _int_literal(a), _int_literal(b)
    if x is not None and y is not None:
        if op in ("add", "sub", "mul", "min", "max"):
            value = {"add": x + y, "sub": x - y, "mul": x * y, "min": min(x, y),
                     "max": max(x, y)}[op]
            return _Value(str(value), a.dtype)
        if op in ("floordiv", "floormod") and y != 0:
            return _Value(str(x // y if op == "floordiv" else x % y), a.dtype)
        return None
    if op == "add" and x == 0 or op == "mul" and x == 1:
        return b
    if op in ("add", "sub") and y == 0 or op == "mul" and y == 1:
        return a
    if op == "mul" and (x == 0 or y == 0) and a.lanes == b.lanes == 1:
        return _Value("0", a.dtype)
    return None


def _vectorizable(s: For) -> bool:
    """Straight-line bodies of constant, moderate extent become explicit vector code."""
    if not 1 < s.extent <= MAX_VECTOR_LANES:
        return False

    def straight(x: Stmt) -> bool:
        if isinstance(x, Seq):
            return all(straight(y) for y in x.stmts)
        if isinstance(x, IfThen):
            return straight(x.body)
        if isinstance(x, Store):
            return True  # any address works: unit stride, broadcast, gather or scatter
        if isinstance(x, For):
            return x.kind == "unroll" and straight(x.body)
        return False

    return straight(s.body) and not _stores_collide(s)


def _stores_collide(s: For) -> bool:
    """A store whose address does not move with the vector lane would race across lanes."""
    for node in iter_stmts(s.body):
        if isinstance(node, Store) and _stride(node.index, s.var) == 0:
            return True
    return False


def _stmt_exprs(s: Stmt):
    for node in iter_stmts(s):
        if isinstance(node, Store):
            yield node.index
            yield node.value
        elif isinstance(node, IfThen):
            yield node.cond


def _stmt_vars(s: Stmt) -> set[Var]:
    found: set[Var] = set()
    for e in _stmt_exprs(s):
        found |= collect_vars(e)
    return found


def _stmt_buffers(s: Stmt) -> list[Buffer]:
    seen: dict[int, Buffer] = {}
    for node in iter_stmts(s):
        if isinstance(node, Store):
            seen.setdefault(id(node.buffer), node.buffer)
    for e in _stmt_exprs(s):
        for n in walk(e):
            if isinstance(n, Load):
                seen.setdefault(id(n.buffer), n.buffer)
    return list(seen.values())


__all__ = ["ModuleBuilder", "float_literal"]
