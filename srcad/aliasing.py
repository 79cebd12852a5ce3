"""Part of stage 4: in-place writes seen through a second name.

After `a = x[0:2]`, `a` and `x` share memory, and `x[0] = v` changes `a`
too, without any statement saying so. srcad follows values by name, so a
read of `a` after the write would take its gradient to `x` instead of `v`:
a wrong gradient. This check walks the normalized function in program order
and refuses exactly those reads. Reads made before the write are fine: the
backward pass restores every written element in reverse order, so each
name sees the memory it saw in the forward run.

The walk is flow-sensitive: assigning a new value to `a` ends its sharing,
branches join their facts, and a loop body is walked until its facts stop
growing, so that a value shared in one iteration and read in the next is
caught too.
"""
import builtins
import math
import operator

import gast
import numpy as np

from .errors import UnsupportedSyntaxError
from .normalize import local_names
from .syntax import names_in

# Primitives whose result is new memory, never a view of an argument.
FRESH = {np.dot, np.matmul, np.outer, np.inner, np.tensordot, np.kron, np.copy, np.array,
         np.concatenate, np.stack, np.hstack, np.vstack, np.where, np.clip, np.sum, np.mean,
         np.prod, np.max, np.min, np.amax, np.amin, np.cumsum, np.cumprod,
         "ndarray.copy", "ndarray.astype"}
FRESH_MODULES = {math.__name__, operator.__name__, "_operator", builtins.__name__}


def may_share(op):
    """Whether an operation's result may share memory with one of its inputs."""
    if op.kind in ("copy", "subscript", "call", "literal", "unknown"):
        return True
    if op.kind != "rule":
        return False
    primitive = op.primitive
    return not (isinstance(primitive, np.ufunc) or primitive in FRESH
                or getattr(primitive, "__module__", None) in FRESH_MODULES)


class Facts:
    """Which names may share memory, and which have been changed through another name.

    Two names are linked when they may be views of the same memory (or the
    same object); a name is inside a container when the container holds it
    (`xs = [a]`, `xs.append(a)`). A write changes what is linked to the
    written name and the containers holding it, not the container's elements.
    """

    def __init__(self, links=None, inside=None, stale=None):
        self.links = links or {}    # name -> names it may share memory with directly
        self.inside = inside or {}  # name -> containers that hold it
        self.stale = stale or {}    # name -> (write statement, name written through)

    def copy(self):
        return Facts({k: set(v) for k, v in self.links.items()},
                     {k: set(v) for k, v in self.inside.items()}, dict(self.stale))

    def join(self, other):
        joined = self.copy()
        for mine, theirs in ((joined.links, other.links), (joined.inside, other.inside)):
            for k, v in theirs.items():
                mine.setdefault(k, set()).update(v)
        for k, v in other.stale.items():
            joined.stale.setdefault(k, v)
        return joined

    def same(self, other):
        return self.links == other.links and self.inside == other.inside \
            and self.stale.keys() == other.stale.keys()

    def rebind(self, var):
        """var gets a new value; what it connected stays connected without it."""
        neighbours = self.links.pop(var, set())
        for n in neighbours:
            self.links[n].discard(var)
            self.links[n] |= neighbours - {n}
        holders = self.inside.pop(var, set())
        for n in neighbours:
            self.inside.setdefault(n, set()).update(holders)
        for held in self.inside.values():
            if var in held:
                held.discard(var)
                held |= neighbours
        self.stale.pop(var, None)

    def link(self, a, b):
        if a != b:
            self.links.setdefault(a, set()).add(b)
            self.links.setdefault(b, set()).add(a)

    def put(self, element, container):
        if element != container:
            self.inside.setdefault(element, set()).add(container)

    def changed_by_write(self, var):
        """Names whose value a write through var changes, var excluded."""
        seen, todo = {var}, [var]
        while todo:
            v = todo.pop()
            for n in self.links.get(v, set()) | self.inside.get(v, set()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen - {var}


def _outer(name):
    """A name (never a variable's) for the memory of a module-level or closure value."""
    return f"<outer {name}>"


def _caller(param):
    """A name (never a variable's) for the caller's memory behind a callee's parameter."""
    return f"<argument {param}>"


class SharingCheck:
    def __init__(self, analysis, is_callee=False):
        self.analysis = analysis
        self.function = analysis.function
        self.locals = analysis.locals
        self.user_names = local_names(self.function.node)
        self.containers = _containers(analysis)
        self.is_callee = is_callee

    def start(self):
        """The facts on entry: in a called function each parameter shares memory with
        the caller's argument, which the caller goes on reading by its own name."""
        facts = Facts()
        if self.is_callee:
            for p in self.analysis.params:
                if self.analysis.param_kinds.get(p) != "scalar":
                    facts.link(p, _caller(p))
        return facts

    def block(self, body, facts):
        for stmt in body:
            facts = self.statement(stmt, facts)
        return facts

    def statement(self, stmt, facts):
        if isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            self.check_reads(stmt, names_in(stmt.value) | names_in(target, gast.Load), facts)
            if isinstance(target, gast.Name):
                if getattr(stmt, "augmented", False) \
                        and self.analysis.kinds.get(target.id) != "scalar":
                    # `v += e` on an array writes into v's memory (normalized to a
                    # rebinding): names sharing it change, and v no longer does
                    self.written(target.id, stmt, facts, augmented=True)
                self.bind(target.id, stmt.op, facts)
            else:
                self.written(target.value.id, stmt, facts)
                if isinstance(stmt.value, gast.Name) and stmt.value.id in self.locals:
                    facts.put(stmt.value.id, target.value.id)
        elif isinstance(stmt, gast.Expr):
            self.check_reads(stmt, names_in(stmt.value), facts)
            op = getattr(stmt, "op", None)
            if op is not None and op.kind == "append":
                receiver = stmt.value.func.value.id
                self.written(receiver, stmt, facts)
                for n in names_in(stmt.value.args[0]) & self.locals if stmt.value.args else ():
                    facts.put(n, receiver)
        elif isinstance(stmt, gast.If):
            self.check_reads(stmt, names_in(stmt.test), facts)
            return self.block(stmt.body, facts.copy()).join(self.block(stmt.orelse, facts))
        elif isinstance(stmt, (gast.For, gast.While)):
            head = stmt.iter if isinstance(stmt, gast.For) else stmt.test
            self.check_reads(stmt, names_in(head), facts)
            while True:
                after = self.block(stmt.body, facts.copy()).join(facts)
                if after.same(facts):
                    return after
                facts = after
        elif isinstance(stmt, gast.Return):
            self.check_reads(stmt, names_in(stmt), facts)
        return facts

    def bind(self, var, op, facts):
        facts.rebind(var)
        if op.kind == "literal":
            for n in names_in(op.node) & self.locals:
                facts.put(n, var)
        elif op.kind == "subscript" and isinstance(op.node.value, gast.Name):  # not "abc"[1:]
            base = op.node.value.id
            if base in self.containers:
                facts.put(var, base)     # an element, held by the container
                for n in [n for n, held in facts.inside.items() if base in held]:
                    facts.link(var, n)   # and maybe one of the values put into it
            elif base in self.locals:
                facts.link(var, base)
        elif may_share(op):
            for n in names_in(op.node) & self.locals:
                facts.link(var, n)
        if may_share(op) or op.kind == "zero" and isinstance(op.node, (
                gast.Name, gast.Attribute, gast.Subscript)):
            for n in names_in(op.node) - self.locals:   # a module-level or closure value
                if hasattr(type(self.function.namespace.get(n)), "__setitem__"):
                    facts.link(var, _outer(n))

    def written(self, var, stmt, facts, augmented=False):
        changed = facts.changed_by_write(var)
        for p in self.analysis.params if self.is_callee else ():
            # A called function changing its caller's array: a direct `p[i] = v` is
            # handled by the transformers (refused in reverse mode where p is
            # differentiated); through another name, or by `p += v` (which srcad
            # rebinds), the caller would not see the change.
            if _caller(p) in changed and (augmented or var != p and p in self.analysis.varied):
                raise self.function.error(UnsupportedSyntaxError, stmt,
                    f"cannot differentiate this in-place update of the argument '{p}' "
                    f"{'' if var == p else f'through {var!r} '}inside a called function: "
                    "return the new value instead (write `v = v + e`, not `v += e`)")
        for n in changed:
            if n.startswith("<outer "):
                raise self.function.error(UnsupportedSyntaxError, stmt,
                    f"cannot differentiate this in-place write into '{var}': it changes "
                    f"the module-level or closure value '{n[7:-1]}', whose memory it "
                    "shares, and srcad would undo that when taking the derivative; take a "
                    f"copy (np.copy({n[7:-1]})) and write into it")
            facts.stale.setdefault(n, (stmt, var))

    def check_reads(self, stmt, names, facts):
        for var in sorted(names & facts.stale.keys()):
            write, through = facts.stale[var]
            _, read_line, _ = self.function.location(stmt)
            shown = f"'{var}'" if var in self.user_names else "a value"
            raise self.function.error(
                UnsupportedSyntaxError, write,
                f"cannot differentiate this in-place write into '{through}': it also changes "
                f"{shown}, which shares memory with '{through}' (a view or the same object) "
                f"and is read after the write, on line {read_line}; srcad follows values by "
                "name, not by memory: take a .copy() where the two come to share memory")


def _containers(analysis):
    """Names that only ever hold a list, tuple or dict display."""
    kinds = {}
    for s in analysis.statements:
        if not s.write:
            kinds.setdefault(s.target, set()).add(s.op.kind)
    return {v for v, k in kinds.items() if k == {"literal"} and v not in analysis.params}


def check_sharing(analysis, is_callee=False):
    """Refuse reads of memory changed in place through another name."""
    check = SharingCheck(analysis, is_callee)
    check.block(analysis.tree.body, check.start())
