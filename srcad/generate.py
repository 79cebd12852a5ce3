"""What the reverse and forward transformers share: names, helpers, comments, kinds."""
import gast
import numpy as np

from . import runtime
from .analysis import Analysis
from .syntax import name

COMMENT = "srcad-comment: "


def marker(text):
    """A statement that emit.py turns into a comment line."""
    return gast.Expr(value=gast.Constant(value=COMMENT + text, kind=None))


def is_marker(node):
    return isinstance(node, gast.Expr) and isinstance(node.value, gast.Constant) \
        and isinstance(node.value.value, str) and node.value.value.startswith(COMMENT)


def runtime_kind(value):
    """The kind of a run-time value, as analysis.py uses kinds."""
    if isinstance(value, (bool, int, float, np.number)):
        return "scalar"
    if isinstance(value, np.ndarray):
        return "scalar" if value.ndim == 0 else "array"
    return "other"


class Generator:
    """Base of the transformers of one user function."""

    forward = False

    def __init__(self, module, function, tree, wrt, param_kinds, is_callee):
        self.module = module
        self.function = function
        self.tree = tree
        self.namer = tree.namer
        self.analysis = Analysis(function, tree, wrt, param_kinds, is_callee, self.forward)
        self.active = self.analysis.active
        self.kinds = self.analysis.kinds
        self.wrt = wrt
        self.is_callee = is_callee
        self.helpers = {}        # name used in code -> object
        self.helper_names = {}   # id(object) -> name used in code
        self.gradients = {}      # variable -> the name of its gradient (or tangent)
        self.filename = function.filename.rsplit("/", 1)[-1]

    def helper(self, name_, obj):
        """The name generated code uses for a global object (a runtime helper, np...)."""
        if id(obj) in self.helper_names:
            return self.helper_names[id(obj)]
        namespace = self.function.namespace
        if name_ not in self.analysis.locals and namespace.get(name_, obj) is obj \
                and name_ not in self.helpers:
            used = name_
            self.namer.taken.add(used)
        else:
            used = self.namer.fresh(name_)
        self.helpers[used] = obj
        self.helper_names[id(obj)] = used
        return used

    def runtime(self, name_):
        return name(self.helper(name_, getattr(runtime, name_)))

    def grad(self, var):
        if var not in self.gradients:
            self.gradients[var] = self.namer.fresh("d" + var.rstrip("_"))
        return self.gradients[var]

    def node_kind(self, node):
        if isinstance(node, gast.Constant):
            return "scalar" if isinstance(node.value, (int, float)) else "other"
        if isinstance(node, gast.Name):
            return self.kinds.get(node.id, "other")
        return "other"

    def template_names(self, template):
        """Renames that bind a rule's global names to the objects the rule means."""
        import builtins
        renames = {}
        for free in template.free:
            obj = template.globals.get(free, getattr(builtins, free, None))
            used = self.helper(free, obj)
            if used != free:
                renames[free] = used
        return renames

    def same_shape(self, param, bindings):
        """Whether the argument bound to param has the result's shape, by kinds."""
        kinds = {p: self.node_kind(n) for p, n in bindings.items()
                 if not (isinstance(n, gast.Constant) and n.value is None)}
        others = [k for p, k in kinds.items() if p != param]
        return all(k == "scalar" for k in others) and kinds.get(param) in ("scalar", "array")

    def block(self, body):
        """Transform a block: each group of statements from one user line under a
        comment naming that line. The second output runs backwards (reverse mode)."""
        groups = []
        for node in body:
            first, second = self.statement(node)
            lineno = getattr(node, "lineno", None)
            if groups and groups[-1][0] == lineno:
                groups[-1][1].extend(first)
                groups[-1][2][:0] = second
            else:
                groups.append((lineno, first, second))
        out, back = [], []
        for lineno, first, second in groups:
            location = f"{self.filename}:{lineno}: {self.function.source_line(lineno).strip()}"
            if first:
                out += [marker(location)] + first
            if second:
                back[:0] = [marker("grad of " + location)] + second
        return out, back
