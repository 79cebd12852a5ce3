"""The stages of a transform, in order: the one place that lists them.

    1. parse      parse.parse_function: the def's source as a gast tree, with the
                  namespace its names are read in.
    2. normalize  normalize.normalize: one operation per statement, on names and
                  constants; nested defs lifted (nested.py).
    3. analysis   analysis.Analysis: what each statement computes (resolve.py's Op),
                  which variables carry derivatives, their kinds; shapes.py: their
                  shapes where the call's arrays fix them.
    4. reverse    reverse.py: the primal, which records what the adjoint needs, and the
       (forward)  adjoint, which walks the statements backwards (forward.py: the
                  Jacobian-vector product, statement by statement).
    5. optimize   optimize.py: constants folded, first contributions assigned, copies
                  propagated, dead stores removed, scalar factors gathered; for grad, a
                  primal without the work only the value needs (lean_primal), and
                  f_grad running it and the adjoint as one where both run straight
                  through; in the primals and such an f_grad, single-use temporaries
                  nested back (renest.py). Forward
                  code: constants folded and dead tangents removed (optimize_forward).
    6. emit       emit.compile_module: source text, compiled, with its lines mapped
                  back to the user's.

Stages 1 to 4 (and 5 for an adjoint) run for the function transformed and for each
function it calls (generate.GeneratedModule.add). `reverse` and `forward` below run
a whole transform; with trace=True (`verbose=2`) they print the code after each stage
as it is made (`GeneratedModule.after`), up to the emitted source, which the transform
prints as verbose=True does.
"""
import gast

from .emit import compile_module, to_source
from .forward import ForwardModule
from .renest import renest
from .reverse import ReverseModule

STAGES = ("parse", "normalize", "analysis", "reverse", "forward", "optimize", "emit")
# what `show` prints: every stage but emit (the source the transform prints itself)


def show(stage, title, code):
    """Print code (gast statements or definitions, or text) as it is after stage."""
    assert stage in STAGES, stage
    if not isinstance(code, str):
        code = to_source([_as_definition(title, code)] if not isinstance(code, list)
                         or not code or not isinstance(code[0], gast.FunctionDef) else code)
    print(f"# ---- after {stage}: {title} ----\n{code.rstrip()}\n", flush=True)


def _as_definition(title, code):
    if isinstance(code, gast.FunctionDef):
        return code
    body = code if isinstance(code, list) else [code]
    return gast.FunctionDef(name=title.split()[0].split(".")[-1], body=body or [gast.Pass()],
                            args=gast.arguments(args=[], posonlyargs=[], vararg=None,
                                                kwonlyargs=[], kw_defaults=[], kwarg=None,
                                                defaults=[]),
                            decorator_list=[], returns=None, type_comment=None,
                            type_params=[])


class Made:
    """What a transform made: the source, the compiled functions by name, `current(fn)`
    (whether the code may still run for fn: emit.watch), and the generated functions'
    names (the transformed function's is first in module.functions)."""

    def __init__(self, module, top, units, title):
        self.module, self.top = module, top
        self.source, self.functions, self.current = compile_module(units, title)


def reverse(fn, wrt, kinds, shapes, real=False, trace=False):
    """Stages 1 to 6 in reverse mode: a Made whose `top` has primal_name and
    adjoint_name, and whose `lean` is the name of the primal grad runs (None where
    it is the primal itself)."""
    module = ReverseModule()
    module.trace = show if trace else None
    top = module.add(fn, wrt, kinds, shapes=shapes, real=real)
    units = [(g.function, list(g.definitions), g.helpers) for g in module.functions]
    lean = top.lean_def
    for g, (_, definitions, _) in zip(module.functions, units):
        primals = (g.primal_name, lean.name if lean is not None and g is top else None,
                   module.gradient_name if g is top and top.fused else None)
        definitions[:] = [renest(d, g.stack) if d.name in primals else d for d in definitions]
    for unit in units:
        module.after("optimize", unit[0].node.name, unit[1])
    made = Made(module, top, units, f"reverse mode of {fn.__qualname__}")
    made.lean = lean.name if lean is not None else None
    for g in module.functions:  # which primal records what an adjoint pops (forward.py)
        made.functions[g.adjoint_name].srcad_primal = made.functions[g.primal_name]
    if top.seeded_def is not None:
        made.functions[top.seeded_name].srcad_primal = made.functions[made.lean or top.primal_name]
    return made


def forward(fn, wrt, kinds, trace=False):
    """Stages 1 to 6 in forward mode: a Made whose `top` has jvp_name."""
    module = ForwardModule()
    module.trace = show if trace else None
    top = module.add(fn, wrt, kinds)
    module.narrow_records()
    units = [(g.function, g.definitions, g.helpers) for g in module.functions]
    for unit in units:
        module.after("optimize", unit[0].node.name, unit[1])
    return Made(module, top, units, f"forward mode of {fn.__qualname__}")
