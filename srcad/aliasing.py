"""Part of stage 4: in-place writes seen through a second name.

After `a = x[0:2]`, `a` and `x` share memory, and `x[0] = v` changes `a`
too, without any statement saying so. srcad follows values by name, so a
read of `a` after the write would take its gradient to `x` instead of `v`:
a wrong gradient. This check walks the normalized function in program order
and refuses exactly those reads. Reads made before the write are fine: the
backward pass restores every written element in reverse order, so each
name sees the memory it saw in the forward run.

The walk follows memory, not names: each name may be (or view) some pieces
of memory, each named after the statement that made it; a container's
memory holds the memory put into it. A write through a name changes its
memory, and every other name that reaches that memory is stale until it is
bound again. The walk is flow-sensitive: assigning a new value to a name
ends its sharing (`x = s[i]` after `x` was an argument is a new value),
branches join their facts, and a loop body is walked until its facts stop
growing, so that a value shared in one iteration and read in the next is
caught too. Memory made again by a statement in a loop is new memory: what
the statement made before is renamed as older memory.
"""
import builtins
import inspect
import math
import operator
from collections import Counter

import gast
import numpy as np

from .errors import SrcadError, UnsupportedSyntaxError
from .normalize import local_names
from .rules.numpy import returns_fresh
from .runtime import stop_gradient
from .syntax import name, names_in

FRESH_MODULES = {math.__name__, operator.__name__, "_operator", builtins.__name__}
# builtins whose result holds the items of what they iterate over: an array's rows
ITERATING = {list, tuple, sorted, reversed, zip, enumerate, iter, next, map, filter, dict,
             set, frozenset}


def may_share(op):
    """Whether an operation's result may share memory with one of its inputs."""
    if op.kind in ("copy", "subscript", "field", "call", "literal", "unknown"):
        return True
    if op.kind != "rule":
        return False
    primitive = op.primitive
    return not (returns_fresh(primitive, op.keywords)
                or getattr(primitive, "__module__", None) in FRESH_MODULES)


class Facts:
    """Which memory each name may be, what memory holds, and which names a write changed.

    Memory is named `<argument p>` for a parameter's (the caller's), `<outer n>`
    for a module-level or closure value's, and after the statement that made
    it otherwise. A container's memory holds the memory of what is put into it
    (`xs = [a]`, `xs.append(a)`). A write changes the written name's memory:
    every name reaching it, itself or through containers, changes; a container's
    elements do not.
    """

    def __init__(self, memory=None, holds=None, stale=None):
        self.memory = memory or {}  # name -> the memory it may be, or be a view of
        self.holds = holds or {}    # memory -> the memory held in it
        self.stale = stale or {}    # name -> (write statement, name written through)

    def copy(self):
        return Facts({k: set(v) for k, v in self.memory.items()},
                     {k: set(v) for k, v in self.holds.items()}, dict(self.stale))

    def join(self, other):
        joined = self.copy()
        for mine, theirs in ((joined.memory, other.memory), (joined.holds, other.holds)):
            for k, v in theirs.items():
                mine.setdefault(k, set()).update(v)
        for k, v in other.stale.items():
            joined.stale.setdefault(k, v)
        return joined

    def same(self, other):
        return self.memory == other.memory and self.holds == other.holds \
            and self.stale.keys() == other.stale.keys()

    def bind(self, var, memory):
        """var gets a new value, which may be (or view) this memory."""
        self.memory[var] = set(memory)
        self.stale.pop(var, None)

    def renew(self, made):
        """A statement makes its memory again: what it made before is older memory."""
        older = made + "'"
        for sets in (self.memory.values(), self.holds.values()):
            for s in sets:
                if made in s:
                    s.discard(made)
                    s.add(older)
        if made in self.holds:
            self.holds.setdefault(older, set()).update(self.holds.pop(made))

    def reach(self, var):
        """The memory var's value may be or view, and all memory held in that."""
        found = set(self.memory.get(var, ()))
        todo = list(found)
        while todo:
            for m in self.holds.get(todo.pop(), ()):
                if m not in found:
                    found.add(m)
                    todo.append(m)
        return found

    def reach_all(self, names):
        return set().union(*[self.reach(n) for n in names])

    def changed_by_write(self, var):
        """Names whose value a write through var changes, var excluded."""
        written = self.memory.get(var, set())
        return {n for n in self.memory if n != var and self.reach(n) & written}


def _outer(name):
    """The name of the memory of a module-level or closure value."""
    return f"<outer {name}>"


def _caller(param):
    """The name of the caller's memory behind a parameter."""
    return f"<argument {param}>"


class SharingCheck:
    """recording: note what a run of the function writes (`writes`) and whether srcad
    would refuse it (`refused`) instead of refusing."""

    def __init__(self, analysis, is_callee=False, recording=False):
        self.analysis = analysis
        self.function = analysis.function
        self.locals = analysis.locals
        self.user_names = local_names(self.function.node)
        self.containers = _containers(analysis)
        self.is_callee = is_callee
        self.returned = set()       # the memory the function's results may reach
        self.made = set()           # the memory statements bound so far have made
        self.recording = recording
        self.reads = _loads(analysis.tree)
        self.writes = set()         # the memory written so far
        self.refused = False
        # reverse mode: the memory differentiated statements read so far, which the
        # adjoint reads again after the whole function has run
        self.derivative_reads = set()
        self.follows = not recording and not analysis.forward

    def refuse(self, node, message):
        if not self.recording:
            raise self.function.error(UnsupportedSyntaxError, node, message)
        self.refused = True

    def start(self):
        """The facts on entry: each parameter is its caller's memory, which in a called
        function the caller goes on reading by its own name."""
        facts = Facts()
        for p in self.analysis.params:
            kind = self.analysis.param_kinds.get(p)
            if kind != "scalar":
                facts.bind(p, {_caller(p)})
            if kind not in ("scalar", "array"):     # a list's items: its own memory
                facts.holds[_caller(p)] = {_caller(p)}
        return facts

    def block(self, body, facts):
        for stmt in body:
            facts = self.statement(stmt, facts)
        return facts

    def statement(self, stmt, facts):
        if isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            self.check_reads(stmt, names_in(stmt.value) | names_in(target, gast.Load), facts)
            if self.follows and isinstance(target, gast.Name) \
                    and target.id in self.analysis.active:
                self.derivative_reads |= self.memory_of(names_in(stmt.value), facts)
            self.call_writes(stmt, facts)
            if isinstance(target, gast.Name):
                if getattr(stmt, "augmented", False) \
                        and self.analysis.kinds.get(target.id) != "scalar":
                    # `v += e` on an array writes into v's memory (normalized to a
                    # rebinding): names sharing it change, and v no longer does
                    self.written(target.id, stmt, facts, augmented=True)
                self.bind(target.id, stmt, facts)
            else:
                base = target.value.id
                self.written(base, stmt, facts)
                if isinstance(stmt.value, gast.Name) and stmt.value.id in self.locals \
                        and self.analysis.kinds.get(base) != "array":   # arrays copy it in
                    self.put(facts.memory.get(stmt.value.id, ()), base, facts)
        elif isinstance(stmt, gast.Expr):
            self.check_reads(stmt, names_in(stmt.value), facts)
            self.call_writes(stmt, facts)
            op = getattr(stmt, "op", None)
            if self.follows and op is not None and op.kind in ("method", "unknown", "rule"):
                self.effect_on_derivative(stmt, op, facts)
            if op is not None and op.kind == "append":
                receiver = stmt.value.func.value.id
                self.written(receiver, stmt, facts)
                for n in names_in(stmt.value.args[0]) & self.locals if stmt.value.args else ():
                    self.put(facts.memory.get(n, ()), receiver, facts)
        elif isinstance(stmt, gast.If):
            self.check_reads(stmt, names_in(stmt.test), facts)
            return self.block(stmt.body, facts.copy()).join(self.block(stmt.orelse, facts))
        elif isinstance(stmt, (gast.For, gast.While)):
            head = stmt.iter if isinstance(stmt, gast.For) else stmt.test
            self.check_reads(stmt, names_in(head), facts)
            while True:     # (and until the reads the derivative makes stop growing)
                reads = len(self.derivative_reads)
                after = self.block(stmt.body, facts.copy()).join(facts)
                if after.same(facts) and len(self.derivative_reads) == reads:
                    return after
                facts = after
        elif isinstance(stmt, gast.Return):
            self.check_reads(stmt, names_in(stmt), facts)
            self.returned |= facts.reach_all(names_in(stmt))
        return facts

    def put(self, memory, container, facts):
        """The container's memory now holds this memory too."""
        for m in facts.memory.get(container, ()):
            facts.holds.setdefault(m, set()).update(memory)

    def bind(self, var, stmt, facts):
        op = stmt.op
        made = f"<made by {id(stmt)}>"
        if made in self.made:       # (only then may facts hold it: a loop's body again)
            facts.renew(made)
        self.made.add(made)
        node = op.node
        fresh = self.fresh(op)
        shared = set()
        if op.kind == "copy" and node.id in self.locals:
            memory = set(facts.memory.get(node.id, ()))
        elif op.kind == "literal":
            memory = {made}
            held = set()
            for n in names_in(node) & self.locals:
                held |= facts.memory.get(n, set())
            facts.holds[made] = held | self.outer_memory(node)
        elif op.kind == "subscript" and isinstance(node.value, gast.Name) \
                and node.value.id in self.containers:
            # an element: memory put into the container, or one of its own
            base = node.value.id
            memory = {made} | set().union(*[facts.holds.get(m, set())
                                             for m in facts.memory.get(base, ())])
            self.put({made}, base, facts)
        elif op.kind == "call":
            memory = {made} | self.call_memory(op, facts)
        elif fresh:
            memory = {made}
            if op.kind == "rule" and not returns_fresh(op.primitive, op.keywords):
                facts.holds[made] = self.items(     # not an array's
                    node, facts, iterated=op.primitive in ITERATING)
        else:
            memory = {made} | facts.reach_all(names_in(node) & self.locals)
        if op.kind != "literal" and (not fresh or op.kind == "zero" and isinstance(
                node, (gast.Name, gast.Attribute, gast.Subscript))):
            shared = self.outer_memory(node)
        facts.bind(var, memory | shared)

    def fresh(self, op):
        """Whether an operation's result is new memory: a value without a derivative (but
        what stop_gradient returns: its argument), a NumPy function's result in new
        memory, or a result of math, operator and builtins (but what max and min return:
        one of their arguments), which holds at most the items of its operands."""
        if op.kind == "zero":
            return op.primitive is not stop_gradient
        if op.kind != "rule":
            return False
        primitive = op.primitive
        return returns_fresh(primitive, op.keywords) or \
            getattr(primitive, "__module__", None) in FRESH_MODULES \
            and primitive not in (builtins.max, builtins.min)

    def items(self, node, facts, iterated=False):
        """The memory held in the values node names: `list(xs)` and `xs + ys` hold it too.
        The items of an argument or a module-level value that is not an array are its own
        memory, as far as srcad knows; where node iterates over an array (iterated),
        they are views of its memory too (`list(W)[0]` is W's first row)."""
        held = set()
        for n in names_in(node) & self.locals:
            for m in facts.memory.get(n, ()):
                held |= facts.holds.get(m, set())
            if iterated and n not in self.containers and self.analysis.kinds.get(n) != "scalar":
                held |= facts.memory.get(n, set())
        return held | {m for m in self.outer_memory(node) if iterated or not isinstance(
            self.function.namespace.get(m[7:-1]), np.ndarray)}

    def outer_memory(self, node):
        """The memory of the module-level or closure values node names that can change."""
        return {_outer(n) for n in names_in(node) - self.locals
                if hasattr(type(self.function.namespace.get(n)), "__setitem__")}

    def call_memory(self, op, facts):
        """The memory a call of the user's function may return: its arguments' for the
        parameters whose memory the function's result reaches (all where that is not
        proven), and the module-level values it returns."""
        names = [n for a in list(op.args) + list(op.keywords.values())
                 for n in names_in(a) & self.locals]
        everything = facts.reach_all(names)
        if not everything:
            return set()
        try:
            bound = inspect.signature(op.callee).bind(*op.args, **op.keywords).arguments
        except (TypeError, ValueError):
            return everything
        kinds = {p: _node_kind(a, self.analysis) for p, a in bound.items()}
        returned = summarize(op.callee, kinds, self.analysis.forward)[0]
        if returned is None:
            return everything
        memory = {m for m in returned if m.startswith("<outer ")}
        for p in inspect.signature(op.callee).parameters:
            if _caller(p) not in returned:
                continue
            if p not in bound:      # a default value: the function's own, kept between calls
                memory.add(_outer(p))
                continue
            arg = bound[p]
            args = arg if isinstance(arg, (tuple, list)) else \
                arg.values() if isinstance(arg, dict) else [arg]
            memory |= facts.reach_all(set().union(*[names_in(a) for a in args]) & self.locals)
        return memory

    def call_writes(self, stmt, facts):
        """A call that may write into what it is passed: a write like the function's own.
        A call of the user's function runs as it is where its result is not
        differentiated, and there its `v += e` changes the caller's memory where srcad's
        code would rebind v, and nothing undoes its writes: they are refused unless they
        go into a value made for the call alone (`g(x * 2)`). Recording, other calls
        srcad does not know are taken to write all they read."""
        op = getattr(stmt, "op", None)
        if op is not None and op.kind in ("unknown", "method", "pop") and self.recording:
            for n in sorted(names_in(stmt.value) & self.locals):
                self.written(n, stmt, facts)
        if op is None or op.kind != "call":
            return
        as_is = self.analysis.runs_as_is(stmt)
        if as_is and self.follows:
            self.outer_writes(stmt, op)
        for param, names in updated_arguments(op, self.analysis):
            for n in sorted(names):
                if as_is and not self.private(n, stmt, facts):
                    self.refuse(stmt, self.call_write_message(op, param, n, facts))
                self.written(n, stmt, facts)

    def outer_writes(self, stmt, op):
        """Reverse mode: a call of the user's function run as it is may write into a
        module-level value; refused where a differentiated statement read it before."""
        written = written_memory(op, self.analysis)
        outer = {m for m in self.derivative_reads if m.startswith("<outer ")}
        changed = outer if written is None else outer & written
        if changed:
            callee = getattr(op.callee, "__name__", "the function")
            self.refuse(stmt,
                f"cannot differentiate this call of '{callee}': it may change the "
                f"module-level value '{min(changed)[7:-1]}' in place, which the derivative "
                "reads as it was before the call, and srcad does not undo updates made by "
                f"calls; pass the value to '{callee}' and have it return the new one")

    def memory_of(self, names, facts):
        """The memory names (locals, or module-level values) may reach."""
        return facts.reach_all(names & self.locals) | self.outer_memory(
            gast.Tuple(elts=[name(n) for n in sorted(names - self.locals)], ctx=gast.Load()))

    def effect_on_derivative(self, stmt, op, facts):
        """Reverse mode: a call made for its effect (`W.sort()`, `np.copyto(W, v)`) may
        change what it is passed in place, which nothing undoes: refused where that is
        memory a differentiated statement read before (the adjoint reads it again)."""
        from .rules.runtime import MUTATING
        if op.kind == "rule" and op.primitive in MUTATING:
            return          # srcad's own helpers: analysis.py refuses them or follows them
        call = stmt.value
        passed = set().union(*[names_in(a) for a in list(call.args)
                               + [k.value for k in call.keywords]])
        if isinstance(call.func, gast.Attribute):
            passed |= names_in(call.func.value)
        for n in sorted(passed):
            if self.memory_of({n}, facts) & self.derivative_reads:
                what = f"method '.{call.func.attr}()'" if op.kind == "method" and \
                    isinstance(call.func, gast.Attribute) else (op.description or "this call")
                self.refuse(stmt,
                    f"cannot differentiate {what} called for its effect: it may change "
                    f"'{n}' in place, which the derivative reads as it was before the call, "
                    "and srcad does not undo updates made by calls; work on a new value "
                    "instead (`W = np.sort(W)`, not `W.sort()`)")

    def private(self, var, stmt, facts):
        """Whether var is a value made for the call in stmt alone: in memory of its own,
        and read by no other statement."""
        if var not in self.locals or self.reads[var] != _loads(stmt.value)[var]:
            return False
        memory = facts.reach(var)
        return bool(memory) and all(m.startswith("<made by ") for m in memory) \
            and not any(facts.reach(n) & memory for n in facts.memory if n != var)

    def call_write_message(self, op, param, var, facts):
        callee = getattr(op.callee, "__name__", "the function")
        memory = facts.reach(var) if var in self.locals else {_outer(var)}
        shared = [f"'{n}'" for n in sorted(facts.memory) if n != var and n in self.user_names
                  and facts.reach(n) & memory]
        shared += [f"the caller's '{m[10:-1]}'" for m in sorted(memory)
                   if m.startswith("<argument ") and f"'{m[10:-1]}'" not in shared]
        shared += [f"the module-level value '{m[7:-1]}'" for m in sorted(memory)
                   if m.startswith("<outer ")]
        passed = f"'{var}'" if var in self.user_names else "the value passed"
        shares = f", which shares memory with {', '.join(shared)}" if shared else ""
        return (f"cannot differentiate this call of '{callee}': it updates "
                f"{f'its parameter {param!r}' if param else 'its arguments'} in place, "
                f"changing {passed}{shares}; srcad does not follow in-place updates made "
                f"inside called functions: make '{callee}' return the new value (write "
                "`v = v + e`, not `v += e`), or pass it a copy (np.copy(v))")

    def written(self, var, stmt, facts, augmented=False):
        written = facts.memory.get(var, set()) if var in self.locals else \
            self.outer_memory(name(var))    # passed to a call
        self.writes |= written
        for p in self.analysis.params if self.is_callee else ():
            # A called function changing its caller's array: a direct `p[i] = v` is
            # handled by the transformers (refused in reverse mode where p is
            # differentiated); through another name, or by `p += v` (which srcad
            # rebinds), the caller would not see the change.
            # (a differentiated value written into a constant argument is lost alike)
            varied = self.analysis.varied
            if _caller(p) in written and (augmented or var != p and (p in varied
                                                                      or var in varied)):
                self.refuse(stmt,
                    f"cannot differentiate this in-place update of the argument '{p}' "
                    f"{'' if var == p else f'through {var!r} '}inside a called function: "
                    "return the new value instead (write `v = v + e`, not `v += e`)")
        for m in sorted(written):
            if m.startswith("<outer "):
                self.refuse(stmt,
                    f"cannot differentiate this in-place write into '{var}': it changes "
                    f"the module-level or closure value '{m[7:-1]}', whose memory it "
                    "shares, and srcad would undo that when taking the derivative; take a "
                    f"copy (np.copy({m[7:-1]})) and write into it")
        for n in facts.changed_by_write(var):
            facts.stale.setdefault(n, (stmt, var))

    def check_reads(self, stmt, names, facts):
        for var in sorted(names & facts.stale.keys()):
            write, through = facts.stale[var]
            _, read_line, _ = self.function.location(stmt)
            shown = f"'{var}'" if var in self.user_names else "a value"
            op = getattr(write, "op", None)
            if op is not None and op.kind == "call":
                callee = getattr(op.callee, "__name__", "the function")
                self.refuse(write,
                    f"cannot differentiate this call of '{callee}': it updates what it is "
                    f"passed in place, and so changes {shown}, which shares memory with it "
                    f"and is read after the call, on line {read_line}; srcad follows values "
                    f"by name, not by memory: pass a copy (np.copy(v)), or make '{callee}' "
                    "return the new value")
                continue
            self.refuse(write,
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


def written_memory(op, analysis):
    """The memory a run of the user's function op calls may write into (None where not
    proven), as summarize gives it."""
    try:
        bound = inspect.signature(op.callee).bind(*op.args, **op.keywords).arguments
    except (TypeError, ValueError):
        return None
    kinds = {p: _node_kind(a, analysis) for p, a in bound.items()}
    return summarize(op.callee, kinds, analysis.forward)[1]


def updated_arguments(op, analysis):
    """(parameter, the names in its argument) for each parameter of the user's function
    op calls that a run of it may write into (None for the parameter where the call
    does not bind)."""
    try:
        bound = inspect.signature(op.callee).bind(*op.args, **op.keywords).arguments
    except (TypeError, ValueError):
        return [(None, set().union(*[names_in(a) for a in list(op.args)
                                     + list(op.keywords.values())]))]
    kinds = {p: _node_kind(a, analysis) for p, a in bound.items()}
    written = written_memory(op, analysis)
    updated = []
    for p, arg in bound.items():
        if kinds[p] != "scalar" and (written is None or _caller(p) in written):
            args = arg if isinstance(arg, (tuple, list)) else \
                arg.values() if isinstance(arg, dict) else [arg]
            updated.append((p, set().union(*[names_in(a) for a in args])))
    return updated


def _loads(node):
    """How many times node reads each name."""
    return Counter(n.id for n in gast.walk(node)
                   if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load))


def _node_kind(node, analysis):
    """The kind of a call's argument, as the called function's parameter gets it."""
    if isinstance(node, gast.Constant):
        return "scalar" if type(node.value) in (int, float, bool) else "other"
    if isinstance(node, gast.Name) and node.id in analysis.locals:
        return analysis.kinds.get(node.id, "other")
    return "other"


_SUMMARIZED = set()     # functions being summarized: a recursive call proves nothing
_summaries = None       # {(function, kinds, mode): its summary}, during one check
_recording = False      # summarizing: Analysis leaves the check to the summary


def summarize(fn, param_kinds, forward):
    """(returned, written) for a user's function: the memory its result may reach (None
    where srcad refuses the function) and the memory a run of it may write into (None
    where not proven), as `<argument p>` for its parameters' and `<outer n>` for
    module-level values'."""
    global _recording
    from .analysis import Analysis
    from .normalize import normalize
    from .parse import parse_function
    key = (fn, tuple(sorted(param_kinds.items(), key=str)), forward)
    try:
        return _summaries[key]
    except (KeyError, TypeError):   # not found, or kinds that do not hash
        pass
    if fn in _SUMMARIZED:
        return None, None
    _SUMMARIZED.add(fn)
    recording, _recording = _recording, True
    try:
        function = parse_function(fn)
        analysis = Analysis(function, normalize(function), [], param_kinds, True, forward)
        check = SharingCheck(analysis, is_callee=True, recording=True)
        check.block(analysis.tree.body, check.start())
        returned = {m for m in check.returned if m.startswith(("<argument ", "<outer "))}
        written = {m for m in check.writes if m.startswith(("<argument ", "<outer "))}
        summary = None if check.refused else returned, written
    except SrcadError:      # refused where the call is transformed, if it is
        summary = None, None
    finally:
        _SUMMARIZED.discard(fn)
        _recording = recording
    try:
        _summaries[key] = summary
    except TypeError:
        pass
    return summary


def check_sharing(analysis, is_callee=False):
    """Refuse reads of memory changed in place through another name. Functions called
    are summarized once per check (nothing they depend on changes during it)."""
    global _summaries
    if _recording:
        return
    outermost = _summaries is None
    if outermost:
        _summaries = {}
    try:
        check = SharingCheck(analysis, is_callee)
        check.block(analysis.tree.body, check.start())
    finally:
        if outermost:
            _summaries = None
