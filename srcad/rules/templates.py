"""Derivative rules as templates: small Python functions inlined into generated code.

A reverse rule is a function whose first parameter names the primitive's
result and whose other parameters mirror the primitive's own. Its body
assigns `d[arg] = expression` for each argument it differentiates, reading
`d[result]` for the gradient arriving at the result:

    @adjoint(np.tanh)
    def tanh(result, x):
        d[x] = d[result] * (1.0 - result * result)

A forward rule has the same parameters; it assigns `d[result]` from the
tangents `d[arg]` of the arguments:

    @tangent(np.tanh)
    def tanh(result, x):
        d[result] = d[x] * (1.0 - result * result)

The body is never run as it stands: the transformer parses it, substitutes
the caller's names and inlines the statements, so the generated derivative
reads like code written by hand. `d` below exists only so that rule modules
read as ordinary Python.
"""
import ast
import builtins
import functools
import inspect
import linecache
import textwrap
import warnings

import gast
import numpy as np

from ..errors import SrcadError
from ..syntax import const, copy, names_in, replace_names, walk


class _GradientMarker:
    """`d[x]` in a rule: the gradient (or tangent) of x."""

    def __getitem__(self, key):
        raise SrcadError("rules are templates: d[...] has no value outside generated code")


d = _GradientMarker()

ADJOINTS = {}          # primitive -> Template (reverse rule)
TANGENTS = {}          # primitive -> Template (forward rule)
NONDIFFERENTIABLE = {}  # primitive -> reason it has a zero derivative
GENERATION = object()   # replaced when a rule is registered: code generated before may differ


class Template:
    """A parsed rule: parameters, body, and the names its body needs. The body is parsed
    when first used: most rules of a run are never inlined."""

    def __init__(self, fn, source=None):
        self.fn = fn
        self.signature = inspect.signature(fn)
        params = list(self.signature.parameters)
        if not params:
            raise SrcadError(f"the rule {fn.__qualname__} has no parameters: its first names "
                             "the primitive's result, the others the primitive's arguments")
        self.result = params[0]
        self.params = params[1:]
        self.filename = fn.__code__.co_filename
        self.globals = fn.__globals__
        self.source = source
        self.names_checked = False

    @functools.cached_property
    def node(self):
        """The rule's def, parsed from its source, at its lines in its file."""
        first = 1
        source = self.source
        if source is None:
            try:
                lines, first = inspect.getsourcelines(self.fn)
            except (OSError, TypeError):
                raise SrcadError(f"cannot read the source of the rule {self.fn.__qualname__}: "
                                 "define it with def in a file") from None
            source = textwrap.dedent("".join(lines))
        tree = gast.parse(source)
        gast.increment_lineno(tree, first - 1)
        return tree.body[0]

    @functools.cached_property
    def body(self):
        return [s for s in self.node.body
                if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))]

    @functools.cached_property
    def differentiates(self):
        """The names whose gradient (or tangent) the body assigns or reads, but the result's."""
        module = gast.Module(body=self.body, type_ignores=[])
        written = {target_of(s) for s in self.body if target_of(s)}
        return (written | _tangents_in(module)) - {self.result}

    @functools.cached_property
    def locals(self):
        return names_in(gast.Module(body=self.body, type_ignores=[]), gast.Store) \
            - {self.result, *self.params}

    @functools.cached_property
    def free(self):
        return names_in(gast.Module(body=self.body, type_ignores=[])) \
            - {self.result, *self.params} - self.locals - {"d"}

    @functools.cached_property
    def conditional(self):
        """Whether each statement holds a conditional that a call site's constants may
        decide."""
        return [any(isinstance(n, gast.IfExp) for n in walk(s)) for s in self.body]

    @functools.cached_property
    def sequences(self):
        return self._sequence_params()

    def _sequence_params(self):
        """The parameters the body passes to a runtime helper that gives a sequence's
        gradient the sequence's structure (np.concatenate's `arrays`, np.array's
        `object`): they stay lists and tuples, where other parameters are read as
        arrays (`runtime.array_like`)."""
        from .. import runtime
        structural = (runtime.sequence_grad, runtime.concatenate_grad, runtime.unstack)
        found = set()
        for node in walk(gast.Module(body=self.body, type_ignores=[])):
            if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
                    and any(self.globals.get(node.func.id) is h for h in structural):
                found |= {a.id for a in node.args if isinstance(a, gast.Name)} & set(self.params)
        return found

    def check_names(self):
        """Refuse, once, a name the body reads that its module does not define."""
        if not self.names_checked:
            _check_free_names(self)
            self.names_checked = True

    def bind(self, args, keywords):
        """Map rule parameters to the call's argument nodes (defaults as constants).

        Returns None when the call's arguments do not fit the rule's signature,
        or when a parameter whose default is `only(...)` gets another value.
        """
        marker = object()
        try:
            bound = self.signature.bind(marker, *args, **keywords)
        except TypeError:
            return None
        bound.apply_defaults()
        result = {}
        for param, value in list(bound.arguments.items())[1:]:
            kind = self.signature.parameters[param].kind
            if kind == inspect.Parameter.VAR_KEYWORD:
                continue
            default = self.signature.parameters[param].default
            if isinstance(default, only):
                if value is default:
                    value = default.values[0]
                elif not (isinstance(value, gast.Constant) and value.value in default.values):
                    return None       # the rule holds only for these values
            if kind == inspect.Parameter.VAR_POSITIONAL:     # `*axes` reads as a tuple
                value = gast.Tuple(elts=[v if isinstance(v, gast.AST) else const(v)
                                         for v in value], ctx=gast.Load())
            result[param] = value if isinstance(value, gast.AST) else const(value)
        return result

    def expand(self, result, bindings, gradient_of, fresh, renames=None):
        """The rule's statements for one call site.

        result: the node standing for the primitive's result; bindings: rule
        parameter -> argument node; gradient_of(param) -> node for d[param],
        or None when that gradient is not wanted; fresh(name) -> a new name
        for a rule-local variable. Returns (statements, contributions) where
        contributions are (parameter, expression) pairs for `d[param] = ...`.
        """
        self.check_names()
        subs = dict(bindings)
        subs[self.result] = result
        subs.update({local: fresh(local) for local in self.locals})
        subs.update(renames or {})
        statements, contributions = [], []
        for stmt, conditional in zip(self.body, self.conditional):
            target = target_of(stmt)
            if target is not None:
                if gradient_of(target) is None:
                    continue
                value = _instantiate(stmt.value, subs, gradient_of)
                contributions.append((target, fold(value) if conditional else value))
            else:
                stmt = _instantiate(stmt, subs, gradient_of)
                statements.append(fold(stmt) if conditional else stmt)
        return statements, contributions


    def expand_tangent(self, result, bindings, tangent_of, fresh, renames=None):
        """A forward rule's statements for one call site, and the tangent expression.

        tangent_of(param) -> node for d[param], or None where that tangent is
        zero. A rule's expression is a sum of terms, each linear in the
        tangents it reads; terms whose tangents are all zero are left out,
        and a zero tangent inside a kept term reads as 0.0. Returns
        (statements, expression or None when every term is zero, whether
        terms were left out).
        """
        self.check_names()
        subs = dict(bindings)
        subs[self.result] = result
        subs.update({local: fresh(local) for local in self.locals})
        subs.update(renames or {})
        statements, expression, dropped = [], None, False
        or_zero = lambda p: tangent_of(p) or const(0.0)  # noqa: E731
        carried = {}    # a rule-local variable -> the tangents it was computed from

        def tangents_read(node):
            return _tangents_in(node).union(*[carried[n] for n in names_in(node, gast.Load)
                                              if n in carried])

        for stmt, conditional in zip(self.body, self.conditional):
            if target_of(stmt) != self.result:
                for local in names_in(stmt, gast.Store):
                    carried[local] = tangents_read(stmt)
                stmt = _instantiate(stmt, subs, or_zero)
                statements.append(fold(stmt) if conditional else stmt)
                continue
            terms = [(sign, term) for sign, term in _terms(stmt.value)
                     if any(tangent_of(p) is not None for p in tangents_read(term))]
            dropped = len(terms) < len(_terms(stmt.value))
            for sign, term in terms:
                term = _instantiate(term, subs, or_zero)
                term = fold(term) if conditional else term
                if expression is None:
                    expression = term if sign > 0 else gast.UnaryOp(op=gast.USub(), operand=term)
                else:
                    op = gast.Add() if sign > 0 else gast.Sub()
                    expression = gast.BinOp(left=expression, op=op, right=term)
        return statements, expression, dropped


class only:
    """A parameter default saying the rule holds only for these values (the first is
    the default): `mode=only("constant")`. A call passing anything else is refused."""

    def __init__(self, *values):
        self.values = values

    def __repr__(self):     # as a rule's signature shows it in a refusal
        return " or ".join(repr(v) for v in self.values) + " only"


class _Fold(gast.NodeTransformer):
    """`a if test else b` where the test is made of constants: the arm it picks."""

    def visit_IfExp(self, node):
        self.generic_visit(node)
        if all(isinstance(n, _STATIC) for n in walk(node.test)):
            test = ast.Expression(body=gast.gast_to_ast(node.test))
            with warnings.catch_warnings():     # `0 is None` is meant
                warnings.simplefilter("ignore", SyntaxWarning)
                code = compile(ast.fix_missing_locations(test), "<rule>", "eval")
            value = eval(code, {"__builtins__": {}})
            return node.body if value else node.orelse
        return node


_STATIC = (gast.Constant, gast.Tuple, gast.List, gast.Compare, gast.BoolOp, gast.UnaryOp,
           gast.BinOp, gast.Load, gast.cmpop, gast.boolop, gast.unaryop, gast.operator)


def fold(node):
    """Pick the arm of each conditional whose test a call site's constants decide.

    A rule can then read `np.transpose(d[result]) if axes is None else ...` and
    the generated code holds only the arm that applies.
    """
    return _Fold().visit(node)


def _terms(expr, sign=1):
    """The additive terms of an expression, with their signs."""
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, (gast.Add, gast.Sub)):
        right_sign = sign if isinstance(expr.op, gast.Add) else -sign
        return _terms(expr.left, sign) + _terms(expr.right, right_sign)
    return [(sign, expr)]


def _tangents_in(expr):
    return {n.slice.id for n in walk(expr) if _is_gradient(n)}


def target_of(stmt):
    """`p` for a statement `d[p] = ...`, else None."""
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if _is_gradient(target):
            return target.slice.id
    return None


def _is_gradient(node):
    return isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) \
        and node.value.id == "d" and isinstance(node.slice, gast.Name)


def _instantiate(node, subs, gradient_of):
    """A rule's node for one call site, made in one copy: each `d[p]` read is (a copy of)
    gradient_of(p), and each name in subs, there too, its value in subs (a new name
    for a str, else a copy of the expression)."""
    if isinstance(node, gast.Name):
        new = subs.get(node.id)
        if new is None:
            return copy(node)
        if isinstance(new, str):
            return gast.Name(id=new, ctx=copy(node.ctx), annotation=None, type_comment=None)
        return copy(new)
    if _is_gradient(node) and isinstance(node.ctx, gast.Load):
        gradient = gradient_of(node.slice.id)
        return None if gradient is None else replace_names(copy(gradient), subs)
    made = node.__class__.__new__(node.__class__)
    fields = made.__dict__
    for key, value in node.__dict__.items():
        if isinstance(value, gast.AST):
            value = _instantiate(value, subs, gradient_of)
        elif type(value) is list:
            value = [_instantiate(v, subs, gradient_of) if isinstance(v, gast.AST) else v
                     for v in value]
        fields[key] = value
    return made


def _register(table, primitives, since):
    def decorator(fn):
        global GENERATION
        template = Template(fn)
        validate(template, reverse=table is ADJOINTS)
        newer = _newer_parameters(template, since)
        for primitive in primitives:
            _check_parameters(template, primitive, newer)
        for primitive in primitives:
            table[primitive] = template
        GENERATION = object()
        return fn
    return decorator


def validate(template, reverse):
    """Refuse a rule body srcad would misread: every statement assigns a local name or
    one gradient; a reverse rule assigns d[arg] for arguments, each once, from d[result];
    a forward rule assigns d[result] once, from the arguments' d[arg]."""
    params = set(template.params)
    written = []
    for stmt in template.body:
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], gast.Name):
            local = stmt.targets[0].id
            if local == "d" or local == template.result or local in params:
                _refuse_rule(template, stmt, f"assigns to '{local}', a parameter of the "
                             "rule: give the value a name of its own")
        elif target_of(stmt) is not None:
            written.append(target_of(stmt))
        else:
            _refuse_rule(template, stmt, "has a statement other than 'd[...] = ...' or "
                         "'name = ...': its body is inlined into generated code, not run; "
                         f"write {_wanted(template, reverse)}")
        gradients = [n for n in walk(stmt) if _is_gradient(n)]
        if sum(isinstance(n, gast.Name) and n.id == "d" for n in walk(stmt)) \
                > len(gradients):
            _refuse_rule(template, stmt, "uses 'd' other than as d[name] (a parameter "
                         "of the rule)")
        for node in gradients:
            _check_gradient(template, stmt, node, reverse, params)
    if not written:
        _refuse_rule(template, template.node, f"assigns no gradient: write "
                     f"{_wanted(template, reverse)}")
    repeated = {p for p in written if written.count(p) > 1}
    if repeated:
        _refuse_rule(template, template.node, f"assigns d[{sorted(repeated)[0]}] twice: "
                     "assign it once, the sum of its terms")


def _check_free_names(template):
    """Refuse a name the rule reads that is none of its parameters or locals and not
    defined in its module (checked where the rule is first used, as a module may define
    names after its rules): inlined, it would mean whatever the call site calls it."""
    unknown = sorted(n for n in template.free
                     if n not in template.globals and not hasattr(builtins, n))
    if unknown:
        node = next(n for n in walk(template.node)
                    if isinstance(n, gast.Name) and n.id == unknown[0])
        _refuse_rule(template, node, f"reads '{unknown[0]}', which is neither a parameter "
                     "of the rule nor a name defined in its module: name the primitive's "
                     "arguments as its parameters")


def _check_gradient(template, stmt, node, reverse, params):
    """d[name] in a rule: a gradient the rule may read or assign."""
    key, store = node.slice.id, isinstance(node.ctx, gast.Store)
    result, listed = template.result, ", ".join(template.params)
    if reverse and store and key not in params:
        problem = f"assigns d[{key}]: a reverse rule assigns d[arg] for its parameters " \
                  f"({listed})"
    elif reverse and not store and key != result:
        problem = f"reads d[{key}]: a reverse rule reads d[{result}], the gradient " \
                  "arriving at the result"
    elif not reverse and store and key != result:
        problem = f"assigns d[{key}]: a forward rule assigns d[{result}], the tangent " \
                  "of the result"
    elif not reverse and not store and key not in params:
        problem = f"reads d[{key}]: a forward rule reads the tangents d[arg] of its " \
                  f"parameters ({listed})"
    else:
        return
    _refuse_rule(template, stmt, problem)


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _newer_parameters(template, since):
    """The rule's parameters that this NumPy is too old to have, from `since`:
    {parameter: the NumPy version that added it}. Whatever NumPy is installed, each
    names a parameter of the rule, and a positional one comes after those NumPy took
    before (an older NumPy passes its arguments to them by position)."""
    kinds = {n: p.kind for n, p in template.signature.parameters.items()}
    positional = [n for n in template.params if kinds[n] in _POSITIONAL]
    for param in since or {}:
        if param not in template.params:
            _refuse_rule(template, template.node, f"declares '{param}' in since=, but has no "
                         f"such parameter: since= names the rule's parameters that only a "
                         "newer NumPy takes")
        if param in positional and not set(positional[positional.index(param):]) <= set(since):
            _refuse_rule(template, template.node, f"declares '{param}' in since=, before "
                         "positional parameters that an older NumPy takes: a parameter added "
                         "later comes last, or is keyword-only")
    installed, newer = np.lib.NumpyVersion(np.__version__), set()
    for param, version in (since or {}).items():
        try:
            if installed < version:
                newer.add(param)
        except ValueError:
            _refuse_rule(template, template.node, f"declares '{param}' since {version!r}, "
                         "not a NumPy version: write one such as \"2.0.0\"")
    return newer


def _check_parameters(template, primitive, newer=()):
    """The rule's parameters fit the primitive's where its signature is known: no more
    positional parameters than it takes, keyword-only ones among its own. `newer`: those
    this NumPy does not have yet, which a call cannot pass here."""
    try:
        signature = inspect.signature(primitive)
    except (TypeError, ValueError):
        return
    kinds = [p.kind for p in signature.parameters.values()]
    rule = [p for p in list(template.signature.parameters.values())[1:] if p.name not in newer]
    label = getattr(primitive, "__qualname__", None) or repr(primitive)
    if inspect.Parameter.VAR_POSITIONAL not in kinds:
        taken = sum(kind in _POSITIONAL for kind in kinds)
        extra = [p.name for p in rule if p.kind in _POSITIONAL][taken:]
        if extra:
            _refuse_rule(template, template.node, f"has the parameter '{extra[0]}', but "
                         f"{label}{signature} takes {taken} positional argument(s): name the "
                         "result, then the primitive's own parameters")
    if inspect.Parameter.VAR_KEYWORD not in kinds:
        for p in rule:
            if p.kind == inspect.Parameter.KEYWORD_ONLY and p.name not in signature.parameters:
                _refuse_rule(template, template.node, f"has the keyword parameter "
                             f"'{p.name}', which {label}{signature} does not have: name the "
                             "result, then the primitive's own parameters")


def _wanted(template, reverse):
    """What a rule's body assigns, in words."""
    result = template.result
    if reverse:
        return f"d[arg] = <gradient from d[{result}]> for each parameter arg it differentiates"
    return f"d[{result}] = <tangent from the parameters' d[arg]>"


def _refuse_rule(template, node, problem):
    lineno = getattr(node, "lineno", None)
    line = linecache.getline(template.filename, lineno).rstrip() if lineno else None
    raise SrcadError(f"the rule {template.fn.__qualname__} {problem}", template.filename,
                     lineno, line)


def rule_table(table, rules, namespace, elementwise=False):
    """Register one-line rules given as text: {primitive: "d[x] = ..."}.

    Each rule's parameters are (result, x); `namespace` supplies the names
    the expressions use. An elementwise function's Jacobian is diagonal, so
    its forward rule is its reverse rule read the other way round
    (`d[result] = d[x] * f'(x)`); with elementwise=True both are registered.
    """
    for primitive, line in rules.items():
        table[primitive] = _one_line_rule(primitive, line, namespace)
        if elementwise:
            lhs, rhs = line.split("=", 1)
            forward = "d[result] =" + rhs.replace("d[result]", "d[x]")
            TANGENTS[primitive] = _one_line_rule(primitive, forward, namespace)


def _one_line_rule(primitive, line, namespace):
    source = f"def rule(result, x):\n    {line}\n"
    scope = dict(namespace)
    exec(compile(source, f"<rule for {getattr(primitive, '__name__', primitive)}>", "exec"), scope)
    return Template(scope["rule"], source)


def adjoint(*primitives, since=None):
    """Register the decorated template as the reverse rule of each primitive.

    since: {parameter: NumPy version} for the rule's parameters that NumPy takes from
    that version on (`since={"stable": "2.0.0"}` for np.sort); an older NumPy's
    primitive may lack them.
    """
    return _register(ADJOINTS, primitives, since)


def tangent(*primitives, since=None):
    """Register the decorated template as the forward rule of each primitive (`since`:
    as for adjoint)."""
    return _register(TANGENTS, primitives, since)


def nondifferentiable(*primitives, reason="piecewise constant or integer-valued"):
    """Declare primitives whose derivative is zero wherever it exists."""
    for primitive in primitives:
        NONDIFFERENTIABLE[primitive] = reason
