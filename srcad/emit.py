"""Stage 7: generated trees to source text, compiled and registered with linecache.

Source text comes from the standard library's `ast.unparse` (gast trees are
converted with `gast.gast_to_ast`). Comment markers left by the transformers
become `# file.py:12: source line` comments. The text is registered with
`linecache` under a readable file name, so tracebacks and pdb show it.

Generated functions run with a plain dict as globals, so that CPython's fast
global lookup applies: it binds the helpers srcad inlines (runtime
functions, `np`) and the modules, functions and classes the code names;
module-level data is read live, as `module.NAME` (and a free variable as
`NAME_cell.cell_contents`), so that rebinding it after the transform is seen
just as by the user's own function (see `bind_globals`).
"""
import ast
import builtins
import itertools
import linecache
import sys
import types

import gast
import numpy as np

from .generate import COMMENT

_counter = itertools.count(1)


class ModuleGlobals:
    """A module's globals read by attribute, live: what `module.NAME` reads in generated
    code when the user's function has no importable module (code run with exec)."""

    def __init__(self, globals_):
        object.__setattr__(self, "_globals", globals_)

    def __getattr__(self, key):
        try:
            return self._globals[key]
        except KeyError:
            raise NameError(f"name {key!r} is not defined") from None


SNAPSHOT = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type,
            np.ufunc, types.MethodType)


def _stored_names(definition):
    names = {a.arg for a in ast.walk(definition) if isinstance(a, ast.arg)}
    names |= {n.id for n in ast.walk(definition)
              if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    return names


def bind_globals(fn, nodes, helpers):
    """The globals dict of generated functions, and their trees with live reads made explicit.

    Generated code runs with a plain dict as globals (CPython's fast global
    lookup). It holds the helpers srcad binds, and, taken from the user's
    namespace at transform time, modules, functions and classes the code
    names (which derivative rule applies was decided from those objects
    already). Any other global, such as module-level data, is read live on
    every use: `SCALE` becomes `module.SCALE` (the user's module) and a free
    variable `cell.cell_contents` (the user's closure cell), so that rebinding
    it after the transform is seen just as by the user's own function.
    """
    names = {k: v for k, v in helpers.items() if not hasattr(v, "definitions")}
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    user = fn.__globals__
    taken = set(helpers) | set(user) | set(cells)
    for node in nodes:
        taken |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    live = {}       # name in code -> ast node that reads it live
    aliases = {}

    def alias(base, obj):
        if base in aliases:
            return aliases[base]
        used, n = base, 1
        while used in taken:
            n += 1
            used = f"{base}{n}" if n > 2 else f"{base}_"
        taken.add(used)
        names[used] = obj
        aliases[base] = used
        return used

    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    defined = {node.name for node in nodes}
    for node in nodes:
        local = _stored_names(node) | defined
        for n in ast.walk(node):
            if not isinstance(n, ast.Name) or not isinstance(n.ctx, ast.Load) \
                    or n.id in local or n.id in helpers:
                continue
            key = n.id
            if key in cells:
                try:
                    obj = cells[key].cell_contents
                except ValueError:
                    obj = None
                if isinstance(obj, SNAPSHOT):
                    names[key] = obj
                else:
                    live[key] = ("cell", cells[key])
            elif key in user:
                if isinstance(user[key], SNAPSHOT):
                    names[key] = user[key]
                else:
                    live[key] = ("global", None)
            elif not hasattr(builtins, key):
                live[key] = ("global", None)    # not defined yet: read it when it runs
    if live:
        replace = {}
        for key, (where, cell) in live.items():
            if where == "cell":
                replace[key] = (alias(f"{key}_cell", cell), "cell_contents")
            elif module is not None and module.__dict__ is user:
                replace[key] = (alias(module.__name__.rsplit(".", 1)[-1], module), key)
            else:
                replace[key] = (alias("module_globals", ModuleGlobals(user)), key)
        nodes = [_LiveReads(replace).visit(node) for node in nodes]
    return names, nodes


class _LiveReads(ast.NodeTransformer):
    def __init__(self, replace):
        self.replace = replace

    def visit_FunctionDef(self, node):
        local = _stored_names(node)
        saved = self.replace
        self.replace = {k: v for k, v in saved.items() if k not in local}
        self.generic_visit(node)
        self.replace = saved
        return node

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.replace:
            base, attr = self.replace[node.id]
            return ast.copy_location(ast.Attribute(value=ast.Name(id=base, ctx=ast.Load()),
                                                   attr=attr, ctx=ast.Load()), node)
        return node


def to_source(definitions):
    """Python source text for FunctionDefs (gast or ast), with comment markers as comments."""
    definitions = list(definitions)
    if definitions and type(definitions[0]).__module__.startswith("gast"):
        module = gast.gast_to_ast(gast.Module(body=definitions, type_ignores=[]))
    else:
        module = ast.Module(body=definitions, type_ignores=[])
    ast.fix_missing_locations(module)
    lines = []
    for line in ast.unparse(module).splitlines():
        stripped = line.strip()
        if stripped[:1] in "'\"":
            try:
                text = ast.literal_eval(stripped)
            except (ValueError, SyntaxError):
                text = None
            if isinstance(text, str) and text.startswith(COMMENT):
                indent = line[:len(line) - len(line.lstrip())]
                lines.append(f"{indent}# {text[len(COMMENT):]}")
                continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def compile_module(units, title):
    """Compile generated functions; return (source, {name: function}).

    units: a list of (user function, [gast FunctionDef], {name: object}) where
    the dict holds the helper objects the definitions refer to; an object
    that is itself a unit's name (a generated callee) is resolved after all
    units are compiled.
    """
    bound = []
    for fn, definitions, helpers in units:
        module = gast.gast_to_ast(gast.Module(body=list(definitions), type_ignores=[]))
        names, nodes = bind_globals(fn, module.body, helpers)
        bound.append((names, nodes, helpers))
    texts = [to_source(nodes) for _, nodes, _ in bound]
    source = f"# {title}, generated by srcad\n\n" + "\n\n".join(texts)
    filename = f"<srcad {next(_counter)}: {title}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source, filename)
    functions, namespaces = {}, []
    position = 0
    for names, nodes, helpers in bound:
        count = len(nodes)
        nodes = tree.body[position:position + count]
        position += count
        namespace = dict(names)
        exec(compile(ast.Module(body=nodes, type_ignores=[]), filename, "exec"), namespace)
        for node in nodes:
            functions[node.name] = namespace[node.name]
        namespaces.append((namespace, helpers))
    for namespace, helpers in namespaces:
        for key, value in helpers.items():
            if hasattr(value, "definitions"):
                namespace[key] = functions[key]
    return source, functions
