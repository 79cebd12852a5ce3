"""Stage 2: rewrite a function into one primitive operation per statement.

After this stage a function body holds only:

    name = <simple>            simple: atom, one operator, call, subscript,
                               attribute or container literal over atoms
    name[index] = atom         a subscript write (index parts are atoms)
    receiver.method(atoms)     a method call statement (list.append, ...)
    if atom: ... else: ...     (or `if not atom:`)
    for name in atom: ...      always over a range object
    while atom: ...            the condition recomputed at the end of the body
    break                      only as `if flag: break` at the end of a body
    return atom                once, at the end

Atoms are names, constants and dotted global paths (`math.pi`). Augmented
assignment, unpacking, chained comparisons, `and`/`or`, conditional
expressions, comprehensions, `enumerate`/`zip` loops, `continue`, `break`
and early `return` are all desugared into that form, so the later stages
handle a handful of statement kinds. Every new statement carries the line
number of the user's statement it came from.
"""
import builtins

import gast

from . import runtime
from .errors import UnsupportedSyntaxError
from .nested import lift_nested_defs
from .syntax import Namer, assign, call, const, copy, name, names_in, replace_names, walk

OPERATOR_NAMES = {
    gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "div",
    gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.Pow: "pow",
    gast.MatMult: "matmul", gast.USub: "neg", gast.UAdd: "pos",
    gast.Not: "not", gast.Invert: "invert", gast.BitAnd: "bitand",
    gast.BitOr: "bitor", gast.BitXor: "bitxor", gast.LShift: "lshift",
    gast.RShift: "rshift",
}

REFUSED_STATEMENTS = {
    gast.Try: "'try' statement",
    gast.With: "'with' statement",
    gast.AsyncWith: "'async with' statement",
    gast.AsyncFor: "'async for' statement",
    gast.AsyncFunctionDef: "'async def'",
    gast.Global: "'global' statement",
    gast.Nonlocal: "'nonlocal' statement",
    gast.Delete: "'del' statement",
    gast.ClassDef: "class definition",
    gast.Import: "'import' inside the function",
    gast.ImportFrom: "'import' inside the function",
    gast.FunctionDef: "'def' inside a loop or branch",
}
REFUSED_EXPRESSIONS = {
    gast.Lambda: "lambda",
    gast.Yield: "'yield' (generators)",
    gast.YieldFrom: "'yield from' (generators)",
    gast.Await: "'await'",
    gast.NamedExpr: "':=' assignment expression",
    gast.GeneratorExp: "generator expression",
    gast.SetComp: "set comprehension",
    gast.DictComp: "dict comprehension",
}
ADVICE = {
    "'try' statement": "move the try/except outside the differentiated function",
    "'with' statement": "only 'with srcad.grad_of(x) as g:' is supported inside",
    "'global' statement": "pass the value in as an argument and return the new one",
    "'nonlocal' statement": "pass the value in as an argument and return the new one",
    "'yield' (generators)": "build and return a list instead",
    "generator expression": "use a list comprehension",
    "'def' inside a loop or branch": "define the helper at the top of the function, or at "
                                     "module level",
    "lambda": "define the function with def",
}


def local_names(func_node):
    """Parameters and every name the function assigns."""
    args = func_node.args
    params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
    stored = set()
    for n in walk(func_node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            stored.add(n.id)
    return set(params) | stored


class Normalizer:
    def __init__(self, function):
        self.function = function
        node = function.node
        self.locals = local_names(node)
        self.namer = Namer(names_in(node), reserved=function.namespace)
        self.emitted = []
        self.loops = []          # enclosing loops' flags, innermost last
        self.returned = None     # flag set by an early return
        self.result = None       # variable holding the return value
        self.added = {}          # object -> fresh name bound to it, where its own is taken

    # -- errors -------------------------------------------------------------

    def refuse(self, node, construct, advice=None):
        advice = advice or ADVICE.get(construct)
        msg = f"cannot differentiate {construct}"
        if advice:
            msg += f": {advice}"
        raise self.function.error(UnsupportedSyntaxError, node, msg)

    # -- entry ----------------------------------------------------------------

    def run(self):
        node = self.function.node
        args = node.args
        if args.vararg or args.kwarg:
            self.refuse(node, "'*args' or '**kwargs' parameters",
                        "list the parameters explicitly")
        body = [s for s in node.body if not _is_docstring(s)]
        self.locals = local_names(gast.FunctionDef(
            name=node.name, args=args, decorator_list=[], returns=None, type_comment=None,
            type_params=[], body=[s for s in body if not isinstance(s, gast.FunctionDef)]))
        body, lifted = lift_nested_defs(self.function, body, self.locals)
        self.function.namespace.update(lifted)
        body = [Eager(self).visit(stmt) for stmt in body]
        self.check(gast.Module(body=body, type_ignores=[]))
        if not body:
            body = [gast.Return(value=None)]
        body = self.eliminate_jumps(body)
        statements = self.block(body)
        if not (statements and isinstance(statements[-1], gast.Return)):
            statements.append(self.located(gast.Return(value=const(None)), node))
        new = gast.FunctionDef(name=node.name, args=node.args, body=statements,
                               decorator_list=[], returns=None, type_comment=None,
                               type_params=[])
        gast.copy_location(new, node)
        new.namer = self.namer
        new.lifted = dict(lifted)   # objects the new code names that the user's did not
        new.lifted.update({fresh: value for value, fresh in self.added.items()})
        return new

    def check(self, node):
        for n in walk(node):
            if n is node:
                continue
            for kind, construct in REFUSED_STATEMENTS.items():
                if isinstance(n, kind):
                    if isinstance(n, gast.With) and self.is_grad_of(n):
                        break
                    self.refuse(n, construct)
            for kind, construct in REFUSED_EXPRESSIONS.items():
                if isinstance(n, kind):
                    self.refuse(n, construct)
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) \
                    and n.func.id in ("exec", "eval") and n.func.id not in self.locals:
                self.refuse(n, f"'{n.func.id}'", "write the code out in the function")
            if isinstance(n, gast.For) and n.orelse or isinstance(n, gast.While) and n.orelse:
                self.refuse(n, "'else' clause of a loop", "use a flag variable")
            if isinstance(n, getattr(gast, "Match", ())):
                self.refuse(n, "'match' statement", "use if/elif")

    def is_grad_of(self, node):
        """`with srcad.grad_of(x) as g:` (the only `with` srcad accepts)."""
        from .runtime import grad_of
        if len(node.items) != 1:
            return False
        item = node.items[0]
        expr = item.context_expr
        if not (isinstance(expr, gast.Call) and len(expr.args) == 1 and not expr.keywords
                and isinstance(expr.args[0], gast.Name)
                and isinstance(item.optional_vars, gast.Name)):
            return False
        func, path = expr.func, []
        while isinstance(func, gast.Attribute):
            path.append(func.attr)
            func = func.value
        if not isinstance(func, gast.Name) or func.id in self.locals:
            return False
        target = self.function.namespace.get(func.id)
        for attr in reversed(path):
            target = getattr(target, attr, None)
        if target is not grad_of:
            return False
        if any(isinstance(n, (gast.Return, gast.Break, gast.Continue, gast.Yield))
               for n in walk(node)):
            self.refuse(node, "jump out of 'with srcad.grad_of(...)'",
                        "the block only runs on the gradient; keep return/break outside it")
        return True

    def visit_With(self, stmt):
        return [stmt]

    # -- jumps: break, continue and early return become flags ----------------

    def eliminate_jumps(self, body):
        """Rewrite early `return`, `break` and `continue` into flag assignments.

        The rest of a block after a statement that may jump is guarded by
        `if not flag:`, and a loop ends with `if broke: break`, so every
        statement that starts an iteration also finishes it. The backward
        sweep can then replay iterations whole.
        """
        returns = [n for n in walk(gast.Module(body=body, type_ignores=[]))
                   if isinstance(n, gast.Return)]
        last = body[-1]
        if len(returns) == 1 and returns[0] is last or not returns:
            return self.jumps_in_block(body, top=True)
        self.returned = self.namer.fresh("returned")
        self.result = self.namer.fresh("result")
        start = [assign(self.returned, const(False)), assign(self.result, const(None))]
        self.located(start, body[0])
        body = self.jumps_in_block(body, top=True)
        end = self.located(gast.Return(value=name(self.result)), last)
        return start + body + [end]

    def jumps_in_block(self, body, top=False):
        out = []
        for i, stmt in enumerate(body):
            jumps = self.may_jump(stmt)
            out.extend(self.jumps_in_statement(stmt))
            rest = body[i + 1:]
            if rest and jumps:
                flag = self.loops[-1]["skip"] if self.loops else self.returned
                guarded = self.jumps_in_block(rest, top)
                test = gast.UnaryOp(op=gast.Not(), operand=name(flag))
                out.append(self.located(gast.If(test=test, body=guarded, orelse=[]), rest[0]))
                return out
        return out

    def may_jump(self, stmt):
        for n in _walk_outside_loops(stmt):
            if isinstance(n, (gast.Break, gast.Continue)) and self.loops:
                return True
        return any(isinstance(n, gast.Return) for n in walk(stmt))

    def jumps_in_statement(self, stmt):
        if isinstance(stmt, gast.Return):
            if self.returned is None:       # the single, final return
                return [stmt]
            value = stmt.value or const(None)
            new = [assign(self.result, value), assign(self.returned, const(True))]
            for loop in self.loops:
                new += [assign(loop["skip"], const(True)), assign(loop["broke"], const(True))]
            return self.located(new, stmt)
        if isinstance(stmt, (gast.Break, gast.Continue)):
            loop = self.loops[-1]
            new = [assign(loop["skip"], const(True))]
            if isinstance(stmt, gast.Break):
                new.append(assign(loop["broke"], const(True)))
            return self.located(new, stmt)
        if isinstance(stmt, gast.If):
            stmt.body = self.jumps_in_block(stmt.body) or [gast.Pass()]
            stmt.orelse = self.jumps_in_block(stmt.orelse)
            return [stmt]
        if isinstance(stmt, (gast.For, gast.While)):
            return self.jumps_in_loop(stmt)
        return [stmt]

    def jumps_in_loop(self, loop):
        jumps = [n for n in _walk_outside_loops_body(loop.body)
                 if isinstance(n, (gast.Break, gast.Continue))]
        has_return = any(isinstance(n, gast.Return) for n in walk(loop))
        if not jumps and not has_return:
            self.loops.append(None)
            loop.body = self.jumps_in_block(loop.body)
            self.loops.pop()
            return [loop]
        flags = {"skip": self.namer.fresh("skip_rest"), "broke": self.namer.fresh("break_loop")}
        self.loops.append(flags)
        body = self.jumps_in_block(loop.body)
        self.loops.pop()
        reset = self.located([assign(flags["skip"], const(False))], loop)
        end = gast.If(test=name(flags["broke"]), body=[gast.Break()], orelse=[])
        loop.body = reset + body + [self.located(end, loop)]
        before = self.located([assign(flags["broke"], const(False))], loop)
        return before + [loop]

    # -- statements -----------------------------------------------------------

    def block(self, body):
        out = []
        for stmt in body:
            out.extend(self.statement(stmt))
        return out

    def statement(self, stmt):
        method = getattr(self, "visit_" + type(stmt).__name__, None)
        if method is None:
            self.refuse(stmt, f"'{type(stmt).__name__}' statement")
        saved, self.emitted = self.emitted, []
        result = self.emitted + (method(stmt) or [])
        self.emitted = saved
        return self.located(result, stmt)

    def emit(self, stmt):
        self.emitted.append(stmt)

    def visit_Pass(self, stmt):
        return []

    def visit_Expr(self, stmt):
        if _is_docstring(stmt):
            return []
        return [gast.Expr(value=self.simple(stmt.value))]

    def visit_Raise(self, stmt):
        return [stmt]

    def visit_Assert(self, stmt):
        return [stmt]

    def visit_Return(self, stmt):
        return [gast.Return(value=self.atom(stmt.value) if stmt.value else const(None))]

    def visit_Break(self, stmt):
        return [stmt]

    def visit_AnnAssign(self, stmt):
        if stmt.value is None:
            return []
        return self.visit_Assign(gast.Assign(targets=[stmt.target], value=stmt.value,
                                             type_comment=None))

    def visit_Assign(self, stmt):
        if len(stmt.targets) > 1:
            value = self.atom(stmt.value)
            out = []
            for target in stmt.targets:
                out += self.assign_to(target, value)
            return out
        return self.assign_to(stmt.targets[0], stmt.value)

    def assign_to(self, target, value):
        if isinstance(target, gast.Name):
            simple = self.simple(value, hint=target.id)
            if isinstance(simple, gast.Name) and simple.id == target.id:
                return []   # `v = v` does nothing (as a copy it would zero v's gradient)
            if not _is_atom(simple) and target.id in names_in(simple):
                temp = self.namer.fresh(self.hint(value, target.id))
                self.emit(assign(temp, simple))
                simple = name(temp)
            return [assign(target.id, simple)]
        if isinstance(target, (gast.Tuple, gast.List)):
            source = self.atom(value, hint="values")
            out = []
            for i, element in enumerate(target.elts):
                if isinstance(element, gast.Starred):
                    self.refuse(target, "starred assignment", "index the sequence instead")
                item = gast.Subscript(value=copy(source), slice=const(i), ctx=gast.Load())
                out += self.assign_to(element, item)
            return out
        if isinstance(target, gast.Subscript):
            if not isinstance(target.value, gast.Name):
                self.refuse(target, "assignment into a nested subscript or attribute",
                            "write x[i, j] = v, or assign to a local first")
            index = self.index(target.slice)
            atom = self.atom(value)
            store = gast.Subscript(value=name(target.value.id), slice=index, ctx=gast.Store())
            return [gast.Assign(targets=[store], value=atom, type_comment=None)]
        self.refuse(target, "assignment to an attribute", "assign to a local variable")

    def visit_AugAssign(self, stmt):
        target = stmt.target
        if isinstance(target, gast.Name):
            load = name(target.id)
            value = gast.BinOp(left=load, op=stmt.op, right=stmt.value)
            out = self.assign_to(target, value)
            # `v += e` rebinds v here, but on an array Python updates v's memory in
            # place, changing every name that shares it: aliasing.py checks that
            out[-1].augmented = True
            return out
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
            index = self.index(target.slice)
            base = target.value.id
            old = gast.Subscript(value=name(base), slice=copy(index), ctx=gast.Load())
            value = gast.BinOp(left=old, op=stmt.op, right=stmt.value)
            atom = self.atom(value)
            store = gast.Subscript(value=name(base), slice=index, ctx=gast.Store())
            return [gast.Assign(targets=[store], value=atom, type_comment=None)]
        self.refuse(stmt, "augmented assignment to an attribute or nested subscript",
                    "assign to a local variable")

    def visit_If(self, stmt):
        test = self.test(stmt.test)
        body = self.block(stmt.body) or [gast.Pass()]
        orelse = self.block(stmt.orelse)
        return [gast.If(test=test, body=body, orelse=orelse)]

    def visit_While(self, stmt):
        test = self.test(stmt.test)
        recompute = self.located([copy(s) for s in self.emitted], stmt)
        body = self.block(stmt.body)
        return [gast.While(test=test, body=body + recompute, orelse=[])]

    def visit_For(self, stmt):
        iterator = stmt.iter
        if isinstance(iterator, gast.Call) and self.builtin_called(iterator.func) is range:
            return self.range_loop(stmt.target, self.atom(iterator), stmt.body)
        index = self.namer.fresh("k")
        seqs = []
        rebound = names_in(gast.Module(body=stmt.body, type_ignores=[]), gast.Store)
        item = self.loop_item(iterator, name(index), seqs, rebound)
        head = _bind(stmt.target, item)
        return self.range_loop(name(index, store=True), self.length_range(seqs), head + stmt.body)

    def loop_item(self, iterator, index, seqs, rebound=()):
        """The k-th item of a loop's iterable as an expression of index k; the
        sequences whose common length bounds the loop are added to seqs. A name the
        body assigns again is read through a name of its own: Python's loop goes on
        over the object the name held when the loop began."""
        func = iterator.func if isinstance(iterator, gast.Call) else None
        builtin = self.builtin_called(func)
        if builtin is enumerate and len(iterator.args) in (1, 2) and not iterator.keywords:
            count = copy(index) if len(iterator.args) == 1 else gast.BinOp(
                left=copy(index), op=gast.Add(), right=self.atom(iterator.args[1]))
            item = self.loop_item(iterator.args[0], index, seqs, rebound)
            return gast.Tuple(elts=[count, item], ctx=gast.Load())
        if builtin is zip and iterator.args and not iterator.keywords:
            items = [self.loop_item(a, index, seqs, rebound) for a in iterator.args]
            return gast.Tuple(elts=items, ctx=gast.Load())
        if not _is_atom(iterator) and not isinstance(iterator, (gast.List, gast.Tuple)):
            iterator = call(self.builtin("list"), iterator)
        seq = self.atom(iterator, hint="items")
        if isinstance(seq, gast.Name) and seq.id in rebound:
            held = self.namer.fresh("items")
            self.emit(assign(held, seq))
            seq = name(held)
        seqs.append(seq)
        return gast.Subscript(value=seq, slice=copy(index), ctx=gast.Load())

    def length_range(self, seqs):
        length = self.bound(runtime.loop_length)
        lengths = [self.atom(call(length, copy(s)), hint="n") for s in seqs]
        count = lengths[0] if len(lengths) == 1 else \
            self.atom(call(self.builtin("min"), *lengths), hint="n")
        return self.atom(call(self.builtin("range"), count))

    def range_loop(self, target, loop_range, body):
        if not isinstance(target, gast.Name):
            self.refuse(target, "unpacking in a 'for' over range", "unpack inside the loop")
        new_body = self.block(body)
        return [gast.For(target=name(target.id, store=True), iter=loop_range,
                         body=new_body or [gast.Pass()], orelse=[], type_comment=None)]

    def builtin(self, id_):
        return self.bound(getattr(builtins, id_))

    def bound(self, value):
        """A name for an object in code srcad adds (`len`, or one of srcad's run-time
        functions, in a loop over a list): its own name where the function sees it by
        that name, else a fresh name bound to it (after `from numpy import *`, `min` is
        NumPy's)."""
        id_ = value.__name__
        if id_ not in self.locals and self.function.namespace.get(id_) is value:
            return name(id_)
        if value not in self.added:
            self.added[value] = self.namer.fresh(id_)
            self.function.namespace[self.added[value]] = value
        return name(self.added[value])

    def builtin_called(self, func):
        if isinstance(func, gast.Name) and func.id not in self.locals:
            value = self.function.namespace.get(func.id)
            if value in (range, enumerate, zip):
                return value
        return None

    # -- expressions ----------------------------------------------------------

    def test(self, expr):
        if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.Not):
            return gast.UnaryOp(op=gast.Not(), operand=self.atom(expr.operand, hint="cond"))
        return self.atom(expr, hint="cond")

    def atom(self, expr, hint=None):
        """An atom for expr, emitting statements that compute its parts."""
        if _is_atom(expr) or self.is_global_path(expr):
            return expr
        simple = self.simple(expr)
        if _is_atom(simple):
            return simple
        temp = self.namer.fresh(hint or self.hint(expr, None))
        self.emit(assign(temp, simple))
        return name(temp)

    def is_global_path(self, expr):
        while isinstance(expr, gast.Attribute):
            expr = expr.value
        return isinstance(expr, gast.Name) and expr.id not in self.locals

    def simple(self, expr, hint=None):
        """expr as one operation whose operands are atoms."""
        if _is_atom(expr) or self.is_global_path(expr):
            return expr
        if isinstance(expr, gast.BinOp):
            return gast.BinOp(left=self.atom(expr.left), op=expr.op, right=self.atom(expr.right))
        if isinstance(expr, gast.UnaryOp):
            return gast.UnaryOp(op=expr.op, operand=self.atom(expr.operand))
        if isinstance(expr, gast.Compare):
            return self.compare(expr)
        if isinstance(expr, gast.BoolOp):
            return self.bool_op(expr, hint)
        if isinstance(expr, gast.IfExp):
            return self.if_exp(expr, hint)
        if isinstance(expr, gast.Call):
            return self.call(expr)
        if isinstance(expr, gast.Subscript):
            return gast.Subscript(value=self.atom(expr.value), slice=self.index(expr.slice),
                                  ctx=gast.Load())
        if isinstance(expr, gast.Attribute):
            return gast.Attribute(value=self.atom(expr.value), attr=expr.attr, ctx=gast.Load())
        if isinstance(expr, (gast.Tuple, gast.List, gast.Set)):
            for e in expr.elts:
                if isinstance(e, gast.Starred):
                    self.refuse(e, "starred element in a literal", "build it with concatenation")
            return type(expr)(elts=[self.atom(e) for e in expr.elts],
                              **({"ctx": gast.Load()} if not isinstance(expr, gast.Set) else {}))
        if isinstance(expr, gast.Dict):
            if any(k is None for k in expr.keys):
                self.refuse(expr, "'**' in a dict literal", "add the items one by one")
            return gast.Dict(keys=[self.atom(k) for k in expr.keys],
                             values=[self.atom(v) for v in expr.values])
        if isinstance(expr, gast.ListComp):
            return self.list_comp(expr, hint)
        if isinstance(expr, (gast.JoinedStr, gast.Slice)):
            return expr
        self.refuse(expr, f"'{type(expr).__name__}' expression")

    def index(self, index):
        if isinstance(index, gast.Slice):
            return gast.Slice(**{part: self.atom(getattr(index, part))
                                 if getattr(index, part) is not None else None
                                 for part in ("lower", "upper", "step")})
        if isinstance(index, gast.Tuple):
            return gast.Tuple(elts=[self.index(e) for e in index.elts], ctx=gast.Load())
        return self.atom(index, hint="index")

    def call(self, expr):
        func = expr.func
        if not self.is_global_path(func):
            if isinstance(func, gast.Attribute):
                func = gast.Attribute(value=self.atom(func.value), attr=func.attr, ctx=gast.Load())
            else:
                func = self.atom(func)
        args = [gast.Starred(value=self.atom(a.value), ctx=gast.Load())
                if isinstance(a, gast.Starred) else self.atom(a) for a in expr.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in expr.keywords]
        return gast.Call(func=func, args=args, keywords=keywords)

    def compare(self, expr):
        left = self.atom(expr.left)
        pairs = list(zip(expr.ops, expr.comparators))
        if len(pairs) == 1:
            op, right = pairs[0]
            return gast.Compare(left=left, ops=[op], comparators=[self.atom(right)])
        # a < b < c  ->  cond = a < b; if cond: cond = b < c
        flag = self.namer.fresh("cond")
        op, right = pairs[0]
        right = self.atom(right)
        self.emit(assign(flag, gast.Compare(left=left, ops=[op], comparators=[right])))
        rest = gast.Compare(left=right, ops=[p[0] for p in pairs[1:]],
                            comparators=[p[1] for p in pairs[1:]])
        self.emit(gast.If(test=name(flag), body=self.branch(flag, rest), orelse=[]))
        return name(flag)

    def bool_op(self, expr, hint):
        # a and b  ->  t = a; if t: t = b        a or b  ->  t = a; if not t: t = b
        flag = self.namer.fresh(hint or "cond")
        first, rest = expr.values[0], expr.values[1:]
        self.emit(assign(flag, self.simple(first)))
        remaining = rest[0] if len(rest) == 1 else gast.BoolOp(op=expr.op, values=rest)
        test = name(flag)
        if isinstance(expr.op, gast.Or):
            test = gast.UnaryOp(op=gast.Not(), operand=test)
        self.emit(gast.If(test=test, body=self.branch(flag, remaining), orelse=[]))
        return name(flag)

    def if_exp(self, expr, hint):
        result = self.namer.fresh(hint or self.hint(expr.body, None))
        test = self.test(expr.test)
        self.emit(gast.If(test=test, body=self.branch(result, expr.body),
                          orelse=self.branch(result, expr.orelse)))
        return name(result)

    def branch(self, target, expr):
        """Statements computing expr into target, inside a branch of their own."""
        saved = self.emitted
        self.emitted = []
        value = self.simple(expr, hint=target)
        stmts = self.emitted + [assign(target, value)]
        self.emitted = saved
        return stmts

    def list_comp(self, expr, hint):
        # [elt for v in seq if c]  ->  out = []; for v in seq: if c: out.append(elt)
        result = self.namer.fresh(hint or "items")
        self.emit(assign(result, gast.List(elts=[], ctx=gast.Load())))
        renames = {}
        for gen in expr.generators:
            for n in names_in(gen.target):
                renames[n] = self.namer.fresh(n)
        append = gast.Expr(value=call(gast.Attribute(value=name(result), attr="append",
                                                     ctx=gast.Load()), expr.elt))
        inner = [append]
        for gen in reversed(expr.generators):
            for cond in reversed(gen.ifs):
                inner = [gast.If(test=cond, body=inner, orelse=[])]
            inner = [gast.For(target=gen.target, iter=gen.iter, body=inner, orelse=[],
                              type_comment=None)]
        loop = replace_names(inner[0], renames)
        self.locals |= set(renames.values()) | {result}
        self.emitted.extend(self.visit_For(loop))
        return name(result)

    # -- names and locations --------------------------------------------------

    def hint(self, expr, fallback):
        if isinstance(expr, (gast.BinOp, gast.UnaryOp)):
            return OPERATOR_NAMES.get(type(expr.op), "value")
        if isinstance(expr, gast.Call):
            func = expr.func
            if isinstance(func, gast.Attribute):
                return func.attr
            if isinstance(func, gast.Name):
                return func.id
        if isinstance(expr, gast.Subscript):
            base = expr.value.id if isinstance(expr.value, gast.Name) else self.hint(expr.value, "value")
            index = expr.slice
            if isinstance(index, gast.Name):
                return f"{base}_{index.id}"
            if isinstance(index, gast.Constant) and isinstance(index.value, int):
                return f"{base}_{index.value}".replace("-", "m")
            return f"{base}_part"
        if isinstance(expr, gast.Attribute) and isinstance(expr.value, gast.Name):
            return f"{expr.value.id}_{expr.attr}"
        if isinstance(expr, gast.Compare):
            return "cond"
        return fallback or "value"

    def located(self, stmts, origin):
        lineno = getattr(origin, "lineno", None)
        single = not isinstance(stmts, list)
        for stmt in [stmts] if single else stmts:
            for n in walk(stmt):
                if isinstance(n, (gast.stmt, gast.expr)) and getattr(n, "lineno", None) is None:
                    n.lineno = lineno
        return stmts


class Eager(gast.NodeTransformer):
    """Lists where a function consumes an iterator whole: a generator expression passed
    as a call's only argument (`sum(v * v for v in xs)`) becomes a list comprehension,
    and `map(f, xs, ys)` becomes `[f(v, w) for v, w in zip(xs, ys)]` (a lambda's body
    inlined). The items, and what the call makes of them, are the same."""

    def __init__(self, normalizer):
        self.normalizer = normalizer

    def visit_Call(self, node):
        self.generic_visit(node)
        if len(node.args) == 1 and not node.keywords \
                and isinstance(node.args[0], gast.GeneratorExp):
            generator = node.args[0]
            node.args[0] = gast.copy_location(
                gast.ListComp(elt=generator.elt, generators=generator.generators), generator)
            return node
        func = node.func
        normalizer = self.normalizer
        if isinstance(func, gast.Name) and func.id not in normalizer.locals \
                and normalizer.function.namespace.get(func.id) is builtins.map \
                and len(node.args) >= 2 and not node.keywords \
                and not any(isinstance(a, gast.Starred) for a in node.args):
            return gast.copy_location(self.comprehension(node.args[0], node.args[1:]), node)
        return node

    def comprehension(self, fn, iterables):
        namer = self.normalizer.namer
        items = [namer.fresh("item") for _ in iterables]
        args = fn.args if isinstance(fn, gast.Lambda) else None
        if args is not None and not (args.vararg or args.kwarg or args.kwonlyargs
                                     or args.defaults or args.posonlyargs) \
                and len(args.args) == len(items):
            elt = replace_names(copy(fn.body), {a.id: v for a, v in zip(args.args, items)})
        else:
            elt = call(fn, *[name(v) for v in items])
        if len(items) == 1:
            target, source = name(items[0], store=True), iterables[0]
        else:
            target = gast.Tuple(elts=[name(v, store=True) for v in items], ctx=gast.Store())
            source = call(self.normalizer.builtin("zip"), *iterables)
        return gast.ListComp(elt=elt, generators=[gast.comprehension(
            target=target, iter=source, ifs=[], is_async=0)])


def _bind(target, value):
    """Assignments binding a loop target to its item, unpacking tuples directly."""
    if isinstance(target, (gast.Tuple, gast.List)) and isinstance(value, gast.Tuple) \
            and len(target.elts) == len(value.elts):
        return [a for t, v in zip(target.elts, value.elts) for a in _bind(t, v)]
    return [gast.Assign(targets=[target], value=value, type_comment=None)]


def _is_atom(expr):
    return isinstance(expr, (gast.Name, gast.Constant))


def _is_docstring(stmt):
    return isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant) \
        and isinstance(stmt.value.value, str)


def _walk_outside_loops(stmt):
    """Nodes of stmt, not descending into nested loops' bodies."""
    yield stmt
    if isinstance(stmt, (gast.For, gast.While)):
        return
    for child in gast.iter_child_nodes(stmt):
        yield from _walk_outside_loops(child)


def _walk_outside_loops_body(body):
    for stmt in body:
        yield from _walk_outside_loops(stmt)


def normalize(function):
    return Normalizer(function).run()
