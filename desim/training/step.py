"""One training step of an inference graph, as the primitives a training library executes.

PULP-TrainLib's structure (see docs/training.md): forward through every layer; the loss
and its gradient; backward in reverse order, each layer computing its weight gradient
first, then its input gradient; then the optimizer update of every trained layer.
Frozen layers compute no weight gradient, and no input gradient is computed below the
first trained layer. Each primitive carries the work as the library executes it:

    conv (CHW)      forward   matmul (C_out, K_h K_w C_in, H_out W_out), im2row of the input
                    weight    matmul (C_out, H_out W_out, K_h K_w C_in), im2row of the input
                    input     matmul (C_in, K_h K_w C_out, H_in W_in), im2row of the
                              zero-padded output gradient + block-transpose of W
    pointwise       forward (C_out, C_in, HW); weight (C_out, HW, C_in); input (C_in, C_out,
                    HW) + transpose of W
    depthwise       direct kernels: C x H_out W_out outputs of K_h K_w taps (forward), C x
                    K_h K_w of H_out W_out (weight), C x H_in W_in of K_h K_w (input)
    fully connected forward (C_out, C_in, 1); weight (C_out, 1, C_in), an outer product;
                    input (1, C_out, C_in), split over its columns

The input gradient's full convolution executes MACs on the padding zeros: ``macs`` counts
what runs, ``algorithmic_macs`` the forward-equivalent work. With ``batch`` B, samples
run one after another and weight gradients accumulate; with a replay buffer, samples
after the first are stored latents that enter at the first trained layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from desim.training.options import TrainOptions
from desim.workload.graph import Graph
from desim.workload.op import WEIGHTED, Activation, Op, OpKind
from desim.workload.tensor import Tensor

PHASES = ("forward", "loss", "backward_weight", "backward_input", "update", "aimc_write")

#: ops whose backward is a pass of gradients to their input(s), no arithmetic of its own
_PASS_THROUGH = frozenset({OpKind.RESHAPE})
#: ops whose gradient passes straight through a conversion pass (the straight-through
#: estimator of quantisation-aware training: rounding is taken as the identity)
_STRAIGHT_THROUGH = frozenset({OpKind.QUANTIZE, OpKind.DEQUANTIZE})


@dataclass(frozen=True)
class StepTensor:
    """A tensor of the step: its bytes and what it is, for the memory accounting."""

    name: str
    nbytes: int
    #: activation, weight, weight_grad, act_grad, optimizer_state, im2col, transpose,
    #: replay, chi (mixed-precision gradient buffer), label
    kind: str


@dataclass(frozen=True)
class Primitive:
    """One kernel of the step on one engine."""

    name: str
    layer: str
    phase: str
    #: FpJob kind (matmul, direct, an elementwise kind) or aimc_forward / aimc_write
    job: str
    n: int = 1
    k: int = 1
    m: int = 1
    axis: str = "n"
    #: elements copied by im2col / im2row / transposes before a matmul
    copies: int = 0
    macs: int = 0
    algorithmic_macs: int = 0
    #: tensors read (a matrix multiply's are its A and B of C = A B)
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    sample: int = 0
    engine: str = "cluster"


@dataclass
class TrainingStep:
    """The primitives of one step (in execution order) and the tensors they use."""

    graph: Graph
    options: TrainOptions
    trained: tuple[str, ...]
    loss: str
    primitives: list[Primitive] = field(default_factory=list)
    tensors: dict[str, StepTensor] = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return sum(p.macs for p in self.primitives)

    @property
    def algorithmic_macs(self) -> int:
        return sum(p.algorithmic_macs for p in self.primitives)

    def bytes_of(self, p: Primitive) -> int:
        """Bytes a primitive reads and writes (whole tensors; shared buffers aside)."""
        return sum(self.tensors[t].nbytes for t in (*p.reads, *p.writes)
                   if t in self.tensors)

    def table(self) -> str:
        """One line per primitive (shape, MACs executed and algorithmic, bytes), then
        totals per phase and the footprint by kind."""
        head = (f"{'#':>4}  {'primitive':<34} {'phase':<15} {'kernel':<12} "
                f"{'N x K x M':>20} {'MACs':>12} {'algorithmic':>12} {'bytes':>11}")
        lines = [head, "-" * len(head)]
        for i, p in enumerate(self.primitives):
            shape = f"{p.n}x{p.k}x{p.m}" if p.job in ("matmul", "direct") else f"{p.n}"
            lines.append(f"{i:>4}  {p.name[:34]:<34} {p.phase:<15} {p.job[:12]:<12} "
                         f"{shape:>20} {p.macs:>12,} {p.algorithmic_macs:>12,} "
                         f"{self.bytes_of(p):>11,}")
        lines.append("")
        for phase in PHASES:
            ps = [p for p in self.primitives if p.phase == phase]
            if ps:
                lines.append(f"{phase:<16} {len(ps):>4} primitives {sum(p.macs for p in ps):>14,}"
                             f" MACs ({sum(p.algorithmic_macs for p in ps):,} algorithmic)")
        lines.append(f"footprint {sum(self.footprint().values()):,} B: " + ", ".join(
            f"{k} {v:,}" for k, v in self.footprint().items()))
        return "\n".join(lines)

    def footprint(self) -> dict[str, int]:
        """Bytes per tensor kind (shared im2col / transpose buffers counted once)."""
        out: dict[str, int] = {}
        for t in self.tensors.values():
            out[t.kind] = out.get(t.kind, 0) + t.nbytes
        return dict(sorted(out.items()))


def _hw(t: Tensor) -> tuple[int, int, int]:
    s = t.shape
    if len(s) == 4:
        return s[1], s[2], s[3]
    return 1, 1, s[-1] if s else 1


class _Builder:
    def __init__(self, graph: Graph, options: TrainOptions, analog: frozenset[str]):
        self.g, self.o = graph, options
        self.e = options.elem_bytes
        self.trained = options.trained_layers(graph)
        self.analog = analog & set(self.trained) if options.aimc_training else frozenset()
        self.step = TrainingStep(graph, options, self.trained, options.loss_of(graph))
        self.order = graph.topological_order()
        first = min(i for i, op in enumerate(self.order) if op.name in self.trained)
        self.first = first
        self.alias: dict[str, str] = {}

    # -- tensors -------------------------------------------------------------------------

    def root(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def tensor(self, name: str, elements: int, kind: str) -> str:
        name = self.root(name)
        if name not in self.step.tensors:
            self.step.tensors[name] = StepTensor(name, elements * self.e, kind)
        return name

    def act(self, t: Tensor) -> str:
        return self.tensor(t.name, t.size, "activation")

    def grad(self, t: Tensor) -> str:
        return self.tensor(f"d:{self.root(t.name)}", t.size, "act_grad")

    def scratch(self, kind: str, elements: int) -> None:
        """Grow the shared ``kind`` buffer (im2col or transpose) to ``elements``."""
        cur = self.step.tensors.get(kind)
        if elements and (cur is None or cur.nbytes < elements * self.e):
            self.step.tensors[kind] = StepTensor(kind, elements * self.e, kind)

    def add(self, **kw: object) -> None:
        self.step.primitives.append(Primitive(**kw))  # type: ignore[arg-type]

    # -- the step ------------------------------------------------------------------------

    def build(self) -> TrainingStep:
        o, step = self.o, self.step
        for op in self.order:
            if op.kind in WEIGHTED and not self.in_array_only(op):
                self.tensor(op.weights.name, op.params, "weight")  # type: ignore[union-attr]
        replay = self.order[self.first].input
        for sample in range(o.batch):
            start = self.first if (o.replay and sample) else 0
            for op in self.order[start:]:
                self.forward(op, sample)
            self.loss(sample)
            for i in range(len(self.order) - 1, self.first - 1, -1):
                self.backward(self.order[i], i, sample)
        if o.replay:
            self.tensor("replay", o.replay * replay.size, "replay")
            self.add(name=f"{replay.name}.replay_store", layer=self.order[self.first].name,
                     phase="update", job="copy", n=replay.size, reads=(self.act(replay),),
                     writes=("replay",))
        for name in self.trained:
            self.update(self.g.op(name))
        return step

    def in_array_only(self, op: Op) -> bool:
        """Whether ``op``'s weights live only on the crossbars: updated in place, and
        read transposed there for the input gradient (no digital copy needed)."""
        return (op.name in self.analog and self.o.aimc_training != "forward-only"
                and self.o.transposed_read)

    def forward(self, op: Op, sample: int) -> None:
        x = op.input
        if op.kind is OpKind.RESHAPE:
            self.alias[op.output.name] = self.root(x.name)
            return
        ins = tuple(self.act(t) for t in op.inputs if not t.const)
        y = self.act(op.output)
        w = (op.weights.name,) if op.weights is not None else ()
        common = {"layer": op.name, "phase": "forward", "reads": ins + w, "writes": (y,),
                  "sample": sample}
        name = f"{op.name}.forward"
        ho, wo, co = _hw(op.output)
        hi, wi, ci = _hw(x)
        kind = op.kind
        if op.name in self.analog:
            # float activations to the DAC's integers and the ADC's integers back
            self.add(name=f"{op.name}.to_int", job="convert", n=x.size,
                     **{**common, "reads": ins, "writes": ins})
            self.add(name=name, job="aimc_forward", engine="aimc", macs=op.macs,
                     algorithmic_macs=op.macs, **common)
            self.add(name=f"{op.name}.to_float", job="convert", n=op.output.size,
                     **{**common, "reads": (y,)})
        elif kind is OpKind.CONV2D:
            kh, kw = op.kernel
            pointwise = (kh, kw) == (1, 1) and op.stride == (1, 1)
            copies = 0 if pointwise else kh * kw * ci * ho * wo
            self.scratch("im2col", copies)
            self.add(name=name, job="matmul", n=co, k=kh * kw * ci, m=ho * wo, copies=copies,
                     macs=op.macs, algorithmic_macs=op.macs, **{**common, "reads": w + ins})
        elif kind is OpKind.DEPTHWISE_CONV2D:
            self.add(name=name, job="direct", n=co, k=op.kernel[0] * op.kernel[1],
                     m=ho * wo, macs=op.macs, algorithmic_macs=op.macs, **common)
        elif kind is OpKind.FULLY_CONNECTED:
            self.add(name=name, job="matmul", n=co, k=op.weights.shape[1], m=1,  # type: ignore[union-attr]
                     macs=op.macs, algorithmic_macs=op.macs, **{**common, "reads": w + ins})
        elif kind in (OpKind.AVG_POOL2D, OpKind.MAX_POOL2D):
            self.add(name=name, job="pool", n=ho * wo * co * op.kernel[0] * op.kernel[1],
                     **common)
        elif kind is OpKind.ADD:
            self.add(name=name, job="add", n=op.output.size, **common)
        elif kind is OpKind.SOFTMAX:
            if op is not self.order[-1]:
                self.add(name=name, job="loss", n=op.output.size, **common)
        elif kind in (OpKind.QUANTIZE, OpKind.DEQUANTIZE):
            self.add(name=name, job="convert", n=op.output.size, **common)
        else:  # pad, concat: data movement
            self.add(name=name, job="copy", n=op.output.size, **common)
        if op.activation is not Activation.NONE:
            self.add(name=f"{op.name}.activation", job="act", n=op.output.size,
                     **{**common, "reads": (y,)})

    def loss(self, sample: int) -> None:
        last = self.order[-1]
        y = self.act(last.output)
        self.tensor("label", last.output.size, "label")
        self.add(name=f"loss.{self.step.loss}", layer=last.name, phase="loss", job="loss",
                 n=last.output.size, reads=(y, "label"), writes=(self.grad(last.output),),
                 sample=sample)

    def backward(self, op: Op, i: int, sample: int) -> None:
        """Op ``i``'s weight gradient (trained layers), then its input gradient (when a
        trained layer lies before it)."""
        if op.kind in _PASS_THROUGH:
            self.alias[f"d:{op.output.name}"] = f"d:{self.root(op.input.name)}"
            return
        last = op is self.order[-1]
        if op.kind is OpKind.SOFTMAX and last:
            return  # fused into the loss gradient (p - y)
        needs_input = i > self.first
        trained = op.name in self.step.trained
        dy = self.grad(op.output)
        x = op.input
        common = {"layer": op.name, "sample": sample}
        if op.activation is not Activation.NONE:
            self.add(name=f"{op.name}.activation_grad", phase="backward_input",
                     job="act_grad", n=op.output.size, reads=(self.act(op.output), dy),
                     writes=(dy,), **common)
        ho, wo, co = _hw(op.output)
        hi, wi, ci = _hw(x)
        analog_sgd = op.name in self.analog and self.o.aimc_training == "analog-sgd"
        dw = None
        if trained and not analog_sgd:  # analog SGD applies its outer product in the array
            dw = self.tensor(f"d:{op.weights.name}", op.params, "weight_grad")  # type: ignore[union-attr]
        wname = op.weights.name if op.weights is not None else ""
        if analog_sgd and trained:
            self.add(name=f"{op.name}.pulse_update", phase="aimc_write", job="aimc_write",
                     engine="aimc_write", reads=(self.act(x), dy), **common)
        if op.name in self.analog and needs_input and self.o.transposed_read:
            if trained and not analog_sgd:
                self.weight_grad(op, dy, dw, common)
            self.add(name=f"{op.name}.to_int_grad", phase="backward_input", job="convert",
                     n=op.output.size, reads=(dy,), writes=(dy,), **common)
            self.add(name=f"{op.name}.input_grad", phase="backward_input", job="aimc_backward",
                     engine="aimc", macs=op.macs, algorithmic_macs=op.macs, reads=(dy,),
                     writes=(self.grad(x),), **common)
            self.add(name=f"{op.name}.to_float_grad", phase="backward_input", job="convert",
                     n=x.size, reads=(self.grad(x),), writes=(self.grad(x),), **common)
        elif op.kind is OpKind.CONV2D:
            kh, kw = op.kernel
            pointwise = (kh, kw) == (1, 1) and op.stride == (1, 1)
            if trained and not analog_sgd:
                copies = 0 if pointwise else kh * kw * ci * ho * wo
                self.scratch("im2col", copies)
                self.add(name=f"{op.name}.weight_grad", phase="backward_weight", job="matmul",
                         n=co, k=ho * wo, m=kh * kw * ci, copies=copies, macs=op.macs,
                         algorithmic_macs=op.macs, reads=(dy, self.act(x)), writes=(dw,),
                         **common)
            if needs_input:
                im2row = 0 if pointwise else co * kh * kw * hi * wi
                self.scratch("im2col", im2row)
                self.scratch("transpose", co * kh * kw * ci)
                self.add(name=f"{op.name}.input_grad", phase="backward_input", job="matmul",
                         n=ci, k=kh * kw * co, m=hi * wi, copies=im2row + co * kh * kw * ci,
                         macs=ci * kh * kw * co * hi * wi, algorithmic_macs=op.macs,
                         reads=(wname, dy), writes=(self.grad(x),), **common)
        elif op.kind is OpKind.DEPTHWISE_CONV2D:
            taps = op.kernel[0] * op.kernel[1]
            if trained and not analog_sgd:
                self.add(name=f"{op.name}.weight_grad", phase="backward_weight", job="direct",
                         n=co, k=ho * wo, m=taps, macs=op.macs, algorithmic_macs=op.macs,
                         reads=(self.act(x), dy), writes=(dw,), **common)
            if needs_input:
                self.add(name=f"{op.name}.input_grad", phase="backward_input", job="direct",
                         n=ci, k=taps, m=hi * wi, macs=ci * taps * hi * wi,
                         algorithmic_macs=op.macs, reads=(dy, wname), writes=(self.grad(x),),
                         **common)
        elif op.kind is OpKind.FULLY_CONNECTED:
            cin = op.weights.shape[1]  # type: ignore[union-attr]
            if trained and not analog_sgd:
                self.add(name=f"{op.name}.weight_grad", phase="backward_weight", job="matmul",
                         n=co, k=1, m=cin, macs=op.macs, algorithmic_macs=op.macs,
                         reads=(dy, self.act(x)), writes=(dw,), **common)
            if needs_input:
                self.add(name=f"{op.name}.input_grad", phase="backward_input", job="matmul",
                         n=1, k=co, m=cin, axis="m", macs=op.macs, algorithmic_macs=op.macs,
                         reads=(dy, wname), writes=(self.grad(x),), **common)
        elif needs_input:
            self.backward_data(op, dy, common)
        if trained and self.o.batch > 1 and sample and not analog_sgd:
            self.tensor(f"acc:{op.weights.name}", op.params, "weight_grad")  # type: ignore[union-attr]
            self.add(name=f"{op.name}.accumulate", phase="backward_weight", job="accumulate",
                     n=op.params, reads=(dw,), writes=(f"acc:{op.weights.name}",),  # type: ignore[union-attr]
                     **common)

    def weight_grad(self, op: Op, dy: str, dw: str | None, common: dict[str, object]) -> None:
        """The digital weight gradient of a crossbar layer whose input gradient the array
        computes (a conv's or a fully connected layer's, as in :meth:`backward`)."""
        ho, wo, co = _hw(op.output)
        x = op.input
        if op.kind is OpKind.FULLY_CONNECTED:
            n, k, m, copies = co, 1, op.weights.shape[1], 0  # type: ignore[union-attr]
        else:
            kh, kw = op.kernel
            ci = x.shape[-1]
            pointwise = (kh, kw) == (1, 1) and op.stride == (1, 1)
            n, k, m = co, ho * wo, kh * kw * ci
            copies = 0 if pointwise else kh * kw * ci * ho * wo
            self.scratch("im2col", copies)
        self.add(name=f"{op.name}.weight_grad", phase="backward_weight", job="matmul", n=n,
                 k=k, m=m, copies=copies, macs=op.macs, algorithmic_macs=op.macs,
                 reads=(dy, self.act(x)), writes=(dw,), **common)

    def backward_data(self, op: Op, dy: str, common: dict[str, object]) -> None:
        """Input gradients of ops without weights."""
        name, phase = f"{op.name}.input_grad", "backward_input"
        if op.kind in (OpKind.AVG_POOL2D, OpKind.MAX_POOL2D):
            ho, wo, co = _hw(op.output)
            reads = (dy, self.act(op.input)) if op.kind is OpKind.MAX_POOL2D else (dy,)
            self.add(name=name, phase=phase, job="pool_grad",
                     n=ho * wo * co * op.kernel[0] * op.kernel[1], reads=reads,
                     writes=(self.grad(op.input),), **common)
        elif op.kind is OpKind.ADD:
            # the gradient flows unchanged to both operands: one copy, the other aliases
            a, b = (t for t in op.inputs if not t.const)
            self.alias.setdefault(f"d:{self.root(a.name)}", dy)
            self.add(name=name, phase=phase, job="copy", n=op.output.size, reads=(dy,),
                     writes=(self.grad(b),), **common)
        elif op.kind is OpKind.SOFTMAX:
            self.add(name=name, phase=phase, job="loss", n=op.output.size, reads=(dy,),
                     writes=(self.grad(op.input),), **common)
        elif op.kind in _STRAIGHT_THROUGH:
            self.add(name=name, phase=phase, job="convert", n=op.input.size, reads=(dy,),
                     writes=(self.grad(op.input),), **common)
        else:  # pad, concat: slice the gradient back
            for t in op.inputs:
                if not t.const:
                    self.add(name=name, phase=phase, job="copy", n=t.size, reads=(dy,),
                             writes=(self.grad(t),), **common)

    def update(self, op: Op) -> None:
        o = self.o
        w = op.weights.name  # type: ignore[union-attr]
        for s in range(o.state_tensors):
            self.tensor(f"{o.optimizer}{s}:{w}", op.params, "optimizer_state")
        mode = o.aimc_training if op.name in self.analog else None
        if mode == "analog-sgd":
            return  # each sample's update happened in the array (pulse_update)
        if mode == "mixed-precision":
            self.tensor(f"chi:{w}", op.params, "chi")
            if o.optimizer != "sgd":  # its update is computed digitally, then fed to chi
                self.add(name=f"{op.name}.{o.optimizer}", layer=op.name, phase="update",
                         job=o.optimizer, n=op.params, reads=(f"d:{w}",), writes=(f"d:{w}",))
            self.add(name=f"{op.name}.chi", layer=op.name, phase="update", job="accumulate",
                     n=op.params, reads=(f"d:{w}",), writes=(f"chi:{w}",))
            self.add(name=f"{op.name}.transfer", layer=op.name, phase="aimc_write",
                     job="aimc_write", engine="aimc_write", reads=(f"chi:{w}",))
            return
        self.add(name=f"{op.name}.{o.optimizer}", layer=op.name, phase="update",
                 job=o.optimizer, n=op.params, reads=(w, f"d:{w}"), writes=(w,))
        if mode == "forward-only":
            self.add(name=f"{op.name}.reprogram", layer=op.name, phase="aimc_write",
                     job="aimc_write", engine="aimc_write", reads=(w,))


def build_step(graph: Graph, options: TrainOptions,
               analog: frozenset[str] = frozenset()) -> TrainingStep:
    """The training step of ``graph``; ``analog`` names the layers whose weights live on
    crossbars (used with ``options.aimc_training``)."""
    return _Builder(graph, options, analog).build()
