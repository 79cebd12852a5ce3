"""Part of stage 2: helpers defined with `def` inside the differentiated function.

Each such helper is lifted out into a function of its own, which srcad then
differentiates like any other function the user calls. The helper's free
variables that are locals of the enclosing function become keyword-only
parameters, and every call passes them: a closure reads its free variables
when it is called, so passing their values at the call keeps its meaning,
and gradients flow through them like through any argument.

Lifted functions are compiled from the user's own tree (same file, same line
numbers); `parse_function` finds their trees in `LIFTED` since their source
text differs from the file's.
"""
import ast
import inspect
import linecache
import types
import weakref

import gast

from .errors import UnsupportedSyntaxError
from .syntax import copy, name, names_in

LIFTED = weakref.WeakKeyDictionary()   # lifted function -> (FunctionDef tree, filename)


def lift_nested_defs(function, body, outer_locals):
    """body without its top-level defs, calls passing the free variables; returns
    (body, {helper name: lifted function}). A lambda assigned to a name, or passed to a
    user's function, is lifted as the def it stands for (outer_locals loses its name)."""
    body = _lambdas_as_defs(function, body, outer_locals)
    lifted = {}     # helper name -> (function, names of its extra parameters)
    kept = []
    # the helpers see each other, and what the enclosing function's closure holds, in cells
    cells = dict(zip(function.fn.__code__.co_freevars, function.fn.__closure__ or ()))
    cells.update({stmt.name: types.CellType() for stmt in body
                  if isinstance(stmt, gast.FunctionDef)})
    for stmt in body:
        if isinstance(stmt, gast.FunctionDef):
            if stmt.name in lifted or stmt.name in outer_locals:
                _refuse(function, stmt, "a nested 'def' whose name is assigned twice")
            lifted[stmt.name] = _lift(function, stmt, outer_locals, lifted, cells)
            cells[stmt.name].cell_contents = lifted[stmt.name][0]
        else:
            kept.append(_PassFreeVariables(function, lifted).visit(stmt))
    return kept, {n: fn for n, (fn, _) in lifted.items()}


def _lift(function, node, outer_locals, lifted, cells):
    if node.decorator_list or node.args.vararg or node.args.kwarg or any(
            not isinstance(d, gast.Constant) for d in node.args.defaults + node.args.kw_defaults
            if d is not None):
        _refuse(function, node, "a nested 'def' with decorators, '*args' or computed defaults")
    for n in gast.walk(node):
        if isinstance(n, (gast.Nonlocal, gast.Global)):   # a lifted helper has no enclosing scope
            kind = "nonlocal" if isinstance(n, gast.Nonlocal) else "global"
            raise function.error(UnsupportedSyntaxError, n,
                f"cannot differentiate a '{kind}' statement in a nested 'def': pass the "
                "value in as an argument and return the new one")
    node = copy(node)
    node.body = [_PassFreeVariables(function, lifted).visit(s) for s in node.body]
    free = sorted(free_names(node) & outer_locals)
    node.args.kwonlyargs += [gast.Name(id=v, ctx=gast.Param(), annotation=None,
                                       type_comment=None) for v in free]
    node.args.kw_defaults += [None] * len(free)
    lifted[node.name] = (None, free)        # recursive calls pass them too
    node.body = [_PassFreeVariables(function, lifted, only=node.name).visit(s)
                 for s in node.body]
    try:
        fn = _compile(function, node, cells)
    except SyntaxError as e:    # what Python accepts in place but not lifted out
        raise function.error(UnsupportedSyntaxError, node,
            f"cannot differentiate this nested 'def' lifted out of {function.name} "
            f"({e.msg}, line {e.lineno}): define the helper at module level") from None
    LIFTED[fn] = (node, function.filename)
    return fn, free


_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)


def free_names(node):
    """The names a def, lambda or comprehension reads from the scopes around it, as
    Python resolves them: those it reads, or its nested scopes read from it, that it
    neither binds nor takes as parameters. (The first iterable of a comprehension is
    read in the scope around it.)"""
    if isinstance(node, _COMPREHENSIONS):
        first, *rest = node.generators
        parts = [first.target, *first.ifs] + [n for g in rest for n in (g.iter, g.target, *g.ifs)]
        parts += [node.key, node.value] if isinstance(node, gast.DictComp) else [node.elt]
        loads, stores = _scope_names(parts)
        return loads - stores
    args = node.args
    params = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs
              + [a for a in (args.vararg, args.kwarg) if a is not None]}
    loads, stores = _scope_names(node.body if isinstance(node, gast.FunctionDef)
                                 else [node.body])
    return loads - stores - params


def _scope_names(nodes):
    """(names read, names bound) by nodes in their own scope: a nested scope adds the
    names it reads from around it, and a def its name; what is evaluated where it is
    defined (defaults, decorators, a comprehension's first iterable) is read here."""
    loads, stores = set(), set()
    todo = list(nodes)
    while todo:
        n = todo.pop()
        if isinstance(n, (gast.FunctionDef, gast.Lambda)):
            loads |= free_names(n)
            todo += [d for d in n.args.defaults + n.args.kw_defaults if d is not None]
            if isinstance(n, gast.FunctionDef):
                stores.add(n.name)
                todo += n.decorator_list
            continue
        if isinstance(n, _COMPREHENSIONS):
            loads |= free_names(n)
            todo.append(n.generators[0].iter)
            continue
        if isinstance(n, gast.Name):
            (loads if isinstance(n.ctx, gast.Load) else stores).add(n.id)
        todo.extend(gast.iter_child_nodes(n))
    return loads, stores


def _compile(function, node, cells):
    """The lifted helper as a function with the enclosing function's globals, live, and
    the cells it reads: compiled inside a scope that binds those names, then given the
    cells themselves."""
    free = sorted(names_in(node, gast.Load) & cells.keys())
    scope = gast.FunctionDef(
        name="srcad_scope", args=gast.arguments(
            args=[], posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
            defaults=[]),
        body=[gast.Assign(targets=[name(v, store=True)], value=gast.Constant(None, None),
                          type_comment=None) for v in free]
        + [node, gast.Return(value=name(node.name))],
        decorator_list=[], returns=None, type_comment=None, type_params=[])
    module = gast.gast_to_ast(gast.Module(body=[gast.copy_location(scope, node)],
                                          type_ignores=[]))
    ast.fix_missing_locations(module)
    globals_ = function.fn.__globals__
    namespace = dict(globals_)      # where annotations are evaluated
    exec(compile(module, function.filename, "exec"), namespace)
    made = namespace["srcad_scope"]()
    fn = types.FunctionType(made.__code__, globals_, node.name, made.__defaults__,
                            tuple(cells[v] for v in made.__code__.co_freevars))
    fn.__kwdefaults__ = made.__kwdefaults__
    fn.__qualname__ = f"{function.fn.__qualname__}.<locals>.{node.name}"
    return fn


class _PassFreeVariables(gast.NodeTransformer):
    """Calls of lifted helpers get their free variables as keyword arguments."""

    def __init__(self, function, lifted, only=None):
        self.function = function
        self.lifted = lifted
        self.only = only

    def visit_Call(self, node):
        func = node.func
        lifted = isinstance(func, gast.Name) and func.id in self.lifted \
            and (self.only is None or func.id == self.only)
        if lifted:
            func.srcad_lifted_call = True
        self.generic_visit(node)
        if lifted:
            node.keywords += [gast.keyword(arg=v, value=name(v))
                              for v in self.lifted[func.id][1]]
        return node

    def visit_Name(self, node):
        if node.id in self.lifted and isinstance(node.ctx, gast.Load) \
                and not getattr(node, "srcad_lifted_call", False) and self.only is None \
                and self.lifted[node.id][1]:
            free = ", ".join(f"'{v}'" for v in self.lifted[node.id][1])
            raise self.function.error(UnsupportedSyntaxError, node,
                f"cannot differentiate the nested function '{node.id}' used as a value: it "
                f"reads {free} of {self.function.name}, which a call through the value "
                f"would not pass; make them parameters of '{node.id}' and pass them where "
                "it is called, or define it at module level")
        return node

    def visit_FunctionDef(self, node):
        return node     # checked where it is lifted


def _lambdas_as_defs(function, body, outer_locals):
    """body with `name = lambda ...: v` and a lambda passed to a user's function as defs
    (`def name(...): return v`) before their statement, so that they are lifted as defs
    are; other lambdas stay, refused where the function is normalized."""
    from .resolve import is_user_function
    stored = {}
    for n in gast.walk(gast.Module(body=body, type_ignores=[])):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            stored[n.id] = stored.get(n.id, 0) + 1
    taken = names_in(gast.Module(body=body, type_ignores=[])) | set(function.namespace)
    defs = {stmt.name for stmt in body if isinstance(stmt, gast.FunctionDef)}
    out = []
    for stmt in body:
        if isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.Lambda) \
                and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name) \
                and stored[stmt.targets[0].id] == 1:
            outer_locals.discard(stmt.targets[0].id)
            out.append(_as_def(stmt.targets[0].id, stmt.value))
            continue
        for call in [n for n in gast.walk(stmt) if isinstance(n, gast.Call)]:
            func = call.func
            if not isinstance(func, gast.Name) or func.id in outer_locals - defs \
                    or not (func.id in defs or is_user_function(function.namespace.get(func.id))):
                continue
            for i, arg in enumerate(call.args):
                if isinstance(arg, gast.Lambda):
                    fresh, n = f"{func.id}_lambda", 1
                    while fresh in taken:
                        n += 1
                        fresh = f"{func.id}_lambda{n}"
                    taken.add(fresh)
                    out.append(_as_def(fresh, arg))
                    call.args[i] = gast.copy_location(name(fresh), arg)
        out.append(stmt)
    return out


def _as_def(name_, lambda_):
    """The def a lambda stands for, at the lambda's line."""
    node = gast.FunctionDef(name=name_, args=lambda_.args, decorator_list=[], returns=None,
                            type_comment=None, type_params=[],
                            body=[gast.copy_location(gast.Return(value=lambda_.body), lambda_)])
    return gast.copy_location(node, lambda_)


_TWINS = weakref.WeakKeyDictionary()     # lambda -> the def it stands for


def as_def(fn):
    """(the def a lambda object stands for, None), or (None, why not): a function with the
    lambda's globals, closure cells and defaults, its tree the lambda's (lifted like a
    nested def), so that srcad can name and transform it."""
    if fn in _TWINS:
        return _TWINS[fn], None
    code = fn.__code__
    filename = inspect.getsourcefile(code) or code.co_filename
    try:
        tree = gast.parse("".join(linecache.getlines(filename)))
    except (SyntaxError, ValueError):
        tree = None
    names = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    found = [n for n in gast.walk(tree) if isinstance(n, gast.Lambda)
             and n.lineno == code.co_firstlineno
             and [a.id for a in n.args.posonlyargs + n.args.args + n.args.kwonlyargs] == names
             and not n.args.vararg and not n.args.kwarg] if tree is not None else []
    if len(found) != 1:
        why = "its source cannot be read" if not found else \
            "its line holds more than one lambda of its parameters"
        return None, f"srcad cannot read the lambda {fn!r} ({why}): write it as a def"
    node = _as_def(f"lambda_{code.co_firstlineno}", copy(found[0]))
    node.args.defaults = [gast.Constant(None, None) for _ in node.args.defaults]
    node.args.kw_defaults = [None if d is None else gast.Constant(None, None)
                             for d in node.args.kw_defaults]
    owner = types.SimpleNamespace(fn=fn, filename=filename, name=node.name)
    twin = _compile(owner, node, dict(zip(code.co_freevars, fn.__closure__ or ())))
    twin.__defaults__, twin.__kwdefaults__ = fn.__defaults__, fn.__kwdefaults__
    twin.__qualname__ = fn.__qualname__
    LIFTED[twin] = (node, filename)
    _TWINS[fn] = twin
    return twin, None


def _refuse(function, node, construct):
    raise function.error(UnsupportedSyntaxError, node,
        f"cannot differentiate {construct}: call the helper directly, or define it at "
        "module level")
