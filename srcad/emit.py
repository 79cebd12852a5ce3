"""Stage 7: generated trees to source text, compiled and registered with linecache.

Source text comes from the standard library's `ast.unparse` (gast trees are
converted with `gast.gast_to_ast`). Comment markers left by the transformers
become `# file.py:12: source line` comments. The text is registered with
`linecache` under a readable file name, and written to that file in a
temporary directory (removed at exit), so that tracebacks (Python 3.10 to
3.12 print them from files only), pdb and debuggers show it.

Generated functions run with a plain dict as globals, so that CPython's fast
global lookup applies: it binds the helpers srcad inlines (runtime
functions, `np`) and the modules, functions and classes the code names;
module-level data is read live, as `module.NAME` (and a free variable as
`NAME_cell.cell_contents`), so that rebinding it after the transform is seen
just as by the user's own function (see `bind_globals`). A default value
is the user's own object, never its source text evaluated again.

What the generated code was made from (the user's functions' code and
defaults, the objects their names were bound to) is checked at each call by
`watch`; `origin` maps a generated line back to the user's line.
"""
import ast
import atexit
import builtins
import itertools
import linecache
import os
import re
import shutil
import sys
import tempfile
import types

import gast
import numpy as np

from .generate import COMMENT
from .parse import MISSING
from .rules import templates
from .syntax import walk

_counter = itertools.count(1)
ORIGINS = {}    # generated file name -> [user (filename, lineno, backward) or None by line]


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


def _names(definition):
    """(the names a def binds: parameters and stores, the Name nodes it reads)."""
    stored, loads = set(), []
    for n in walk(definition):
        if isinstance(n, ast.Name):
            if isinstance(n.ctx, ast.Load):
                loads.append(n)
            else:
                stored.add(n.id)
        elif isinstance(n, ast.arg):
            stored.add(n.arg)
    return stored, loads


def bind_globals(fn, nodes, helpers, dependencies):
    """The globals dict of generated functions, and their trees with live reads made explicit.

    Generated code runs with a plain dict as globals (CPython's fast global
    lookup). It holds the helpers srcad binds, and, taken from the user's
    namespace at transform time, modules, functions and classes the code
    names (which derivative rule applies was decided from those objects
    already); each such binding is added to `dependencies` (see `watch`). Any
    other global, such as module-level data, is read live on every use:
    `SCALE` becomes `module.SCALE` (the user's module) and a free variable
    `cell.cell_contents` (the user's closure cell), so that rebinding it after
    the transform is seen just as by the user's own function. A parameter's
    default is fn's own default object (`a=a_default`), as Python binds it
    when the def runs; a constant stays as written.
    """
    names = {k: v for k, v in helpers.items() if not hasattr(v, "definitions")}
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    user = fn.__globals__
    taken = set(helpers) | set(user) | set(cells)
    for node in nodes:
        stored, loads = _names(node)
        taken |= stored | {n.id for n in loads}
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

    for node in nodes:
        _bind_defaults(fn, node, alias)
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    defined = {node.name for node in nodes}
    for node in nodes:
        stored, loads = _names(node)    # the defaults now read their objects
        local = stored | defined
        for n in loads:
            if n.id in local or n.id in helpers or n.id in names:
                continue
            key = n.id
            if key in cells:
                try:
                    obj = cells[key].cell_contents
                except ValueError:
                    obj = None
                if isinstance(obj, SNAPSHOT):
                    names[key] = obj
                    dependencies.append((cells[key], None, obj))
                else:
                    live[key] = ("cell", cells[key])
            elif key in user:
                if isinstance(user[key], SNAPSHOT):
                    names[key] = user[key]
                    dependencies.append((user, key, user[key]))
                else:
                    live[key] = ("global", None)
            elif hasattr(builtins, key):
                dependencies.append((user, key, MISSING))   # until a global hides it
            else:
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


def default_values(fn):
    """{parameter: default object} of a function, as they are now."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return {}
    positional = code.co_varnames[:code.co_argcount]
    defaults = fn.__defaults__ or ()
    found = dict(zip(positional[len(positional) - len(defaults):], defaults))
    found.update(fn.__kwdefaults__ or {})
    return found


def _bind_defaults(fn, node, alias):
    """Make the defaults of a generated def, whose parameters are fn's (by name), fn's own
    default objects: `alias(base, obj)` names each in the generated globals."""
    values = default_values(fn)
    args = node.args
    params = args.posonlyargs + args.args
    slots = [(args.defaults, i, p)
             for i, p in enumerate(params[len(params) - len(args.defaults):])]
    slots += [(args.kw_defaults, i, p) for i, p in enumerate(args.kwonlyargs)]
    for written, i, param in slots:
        if written[i] is None or param.arg not in values:
            continue
        value = values[param.arg]
        if isinstance(written[i], ast.Constant) and type(written[i].value) is type(value) \
                and written[i].value == value:
            continue    # a constant as written: the same value
        written[i] = ast.copy_location(
            ast.Name(id=alias(f"{param.arg}_default", value), ctx=ast.Load()), written[i])


class _LiveReads(ast.NodeTransformer):
    def __init__(self, replace):
        self.replace = replace

    def visit_FunctionDef(self, node):
        local, _ = _names(node)
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
    """Compile generated functions; return (source, {name: function}, current).

    units: a list of (parse.Function, [gast FunctionDef], {name: object}) where
    the dict holds the helper objects the definitions refer to; an object
    that is itself a unit's name (a generated callee) is resolved after all
    units are compiled. The first unit is the function transformed; `current`
    checks what the code was made from (see `watch`).
    """
    dependencies = [(templates, "GENERATION", templates.GENERATION)]    # the rules
    bound = []
    for i, (function, definitions, helpers) in enumerate(units):
        module = gast.gast_to_ast(gast.Module(body=list(definitions), type_ignores=[]))
        names, nodes = bind_globals(function.fn, module.body, helpers, dependencies)
        bound.append((names, nodes, helpers))
        dependencies += function_dependencies(function, is_callee=i > 0)
    lines = [f"# {title}, generated by srcad", ""]
    origins = [None] * 3     # by line number, from 1
    texts = []      # each unit's source, after blank lines up to its place in the file
    for i, ((function, _, _), (_, nodes, _)) in enumerate(zip(units, bound)):
        if i:
            lines += ["", ""]
            origins += [None, None]
        text = to_source(nodes).splitlines()
        texts.append("\n" * len(lines) + "\n".join(text) + "\n")
        lines += text
        origins += _origins(text, function.filename)
    source = "\n".join(lines) + "\n"
    filename = _write(source, title)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ORIGINS[filename] = origins
    functions, namespaces = {}, []
    for text, (names, nodes, helpers) in zip(texts, bound):
        namespace = dict(names)
        exec(compile(text, filename, "exec"), namespace)
        for node in nodes:
            functions[node.name] = namespace[node.name]
        namespaces.append((namespace, helpers))
    for namespace, helpers in namespaces:
        for key, value in helpers.items():
            if hasattr(value, "definitions"):
                namespace[key] = functions[key]
    return source, functions, watch(units[0][0].fn, dependencies)


_DIRECTORY = []    # the temporary directory of generated files, once made


def _write(source, title):
    """The file name of generated code: a file holding source, in a temporary directory;
    "<srcad N: title>" (linecache alone) where no file can be written."""
    n = next(_counter)
    try:
        if not _DIRECTORY:
            _DIRECTORY.append(tempfile.mkdtemp(prefix="srcad-"))
            atexit.register(_remove_directory, _DIRECTORY[0], os.getpid())
        filename = os.path.join(_DIRECTORY[0], re.sub(r"[^\w. ()-]+", "_", f"{n} {title}"))
        with open(filename, "w", encoding="utf-8") as file:
            file.write(source)
        return filename
    except OSError:
        return f"<srcad {n}: {title}>"


def _remove_directory(directory, pid):
    if os.getpid() == pid:      # not from a forked process
        shutil.rmtree(directory, ignore_errors=True)


def is_generated(filename):
    """Whether a file name is that of code srcad generated (and still uses)."""
    return filename in ORIGINS


def forget(filename):
    """Drop a generated file, its text and its line origins (its code is no longer used)."""
    linecache.cache.pop(filename, None)
    ORIGINS.pop(filename, None)
    if not filename.startswith("<"):
        try:
            os.remove(filename)
        except OSError:
            pass


# -- where generated lines come from -----------------------------------------------------


def _origins(lines, filename):
    """For each line of one function's generated text: (filename, lineno, backward) of
    the user's line its block was generated from (the comment above it), or None."""
    base = re.escape(filename.rsplit("/", 1)[-1])
    comment = re.compile(rf"\s*# (grad of )?{base}:(\d+): ")
    here, found = None, []
    for line in lines:
        match = comment.match(line)
        if match:
            here = (filename, int(match.group(2)), match.group(1) is not None)
        elif line.startswith("def "):
            here = None
        found.append(here)
    return found


def origin(filename, lineno):
    """(filename, lineno, backward): the user's line a generated line was made from (through
    code generated from generated code too), or None for a line that is not generated."""
    lines = ORIGINS.get(filename)
    found = lines[lineno] if lines is not None and lineno < len(lines) else None
    if found is not None and found[0] in ORIGINS:
        deeper = origin(found[0], found[1])
        if deeper is not None:
            return deeper[0], deeper[1], found[2] or deeper[2]
    return found


# -- what generated code depends on ------------------------------------------------------

DATA = (bool, int, float, complex, str, bytes, type(None), np.ndarray, np.generic)


def function_dependencies(function, is_callee):
    """A transformed function's dependencies (see `watch`): its code and defaults, the
    names srcad looked up in its namespace, and, for a callee, its own name in its
    module (where it was bound there: a module reloaded or a cell run again rebinds it)."""
    from .nested import LIFTED
    fn = function.fn
    found = function.namespace.dependencies()
    if fn in LIFTED:     # made by srcad from its enclosing function's code
        return found
    found.append((fn, "__code__", fn.__code__))
    if fn.__code__.co_argcount:
        found.append((fn, "__defaults__", fn.__defaults__))
    if fn.__code__.co_kwonlyargcount:
        found.append((fn, "__kwdefaults__", fn.__kwdefaults__))
    if is_callee and fn.__globals__.get(fn.__name__) is fn:
        found.append((fn.__globals__, fn.__name__, fn))
    return found


def watch(top, dependencies):
    """`current(fn)`: whether the code generated from `top` may still run for fn.

    Each dependency is (holder, key, object): an attribute of a function
    (`__code__`, `__defaults__`) or module (the rules' `GENERATION`), a name
    in a globals dict, or a closure cell (key None), as it was when the code
    was generated. `current` compares
    each with what it is now: by identity, or by type for data (numbers,
    arrays, strings), whose values generated code reads live. The function
    transformed is fn (held by the caller, not here, so that the cache holds
    it weakly). One comparison per dependency, in one generated expression.
    """
    names = {"MISSING": MISSING, "contents": _contents}
    terms, seen = [], set()
    for holder, key, value in dependencies:
        if (id(holder), key) in seen:
            continue
        seen.add((id(holder), key))
        n = len(seen)
        names[f"holder{n}"] = holder
        if holder is top:
            read = f"fn.{key}"
        elif isinstance(holder, (dict, types.MappingProxyType)):    # a class's: vars(cls)
            read = f"holder{n}.get({key!r}, MISSING)"
        elif key is None:
            read = f"contents(holder{n})"
        else:
            read = f"holder{n}.{key}"
        if isinstance(value, DATA) and value is not None:
            names[f"value{n}"] = type(value)
            terms.append(f"type({read}) is value{n}")
        elif value is top:
            terms.append(f"{read} is fn")
        else:
            names[f"value{n}"] = value
            terms.append(f"{read} is value{n}")
    names = {k: v for k, v in names.items() if v is not top}
    expression = " and ".join(terms) or "True"
    source = "def current(fn):\n    return " + expression + "\n"
    if source not in _CHECKS:
        if len(_CHECKS) > 256:
            _CHECKS.clear()
        _CHECKS[source] = compile(source, "<srcad: what generated code depends on>", "exec")
    exec(_CHECKS[source], names)
    current = names["current"]
    current.expression = expression     # for code that inlines the check (api._entry)
    return current


_CHECKS = {}    # source of a `current` function -> its code, compiled once


def _contents(cell):
    try:
        return cell.cell_contents
    except ValueError:      # an empty cell
        return MISSING
