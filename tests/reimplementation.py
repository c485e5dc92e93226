"""Find notebook code that re-implements a library function, by what the code computes.

Used by ``test_no_reimplementation.py``; not part of the installed package.

Names say nothing here: a notebook that copies ``far_from_encodings_share`` under another
name, with other variable names, is still a copy. Two rules look at what code *does*.

**1. The same computation** (:meth:`Library.matches`). Every public function of the library
(not its exercises, figures, result tables or benchmark command line: ``SKIPPED_MODULES``)
and every code cell of a notebook (and each function defined in it) is turned into
*canonical expression trees*:

* every identifier the code binds itself (variables, parameters, its own functions) and
  every constant becomes the placeholder ``·``: renaming changes nothing;
* a variable assigned once is replaced by the expression it holds (inlined, within one
  function or one cell), so ``r = quantile(d(a, b), 0.99); share = (d(s, b) > r).mean()``
  and the one-line ``(d(s, b) > quantile(d(a, b), q)).mean()`` are the same tree;
* what the operations are is kept: ``torch.quantile(x, q)`` and ``x.quantile(q)`` are both
  ``quantile(x, q)``; a call of a library function keeps its name, a call of a function
  the notebook defines itself (or of a parameter) is an anonymous call ``call:·``, which
  matches any call;
* spellings that compute the same values are made equal: type, device, container and
  graph conversions (``.item()``, ``float()``, ``.float()``, ``.double()``, ``.cpu()``,
  ``.detach()``, ``.to(...)``, ``list()``) are dropped, and so is a selection
  ``[p for p in X if c]`` (it is X's elements); ``torch.linalg.vector_norm`` is ``norm``;
  ``L.backward()`` followed by ``p.grad`` is ``grad(L, p)``, as is iterating over
  ``torch.autograd.grad(L, params)``;
* input checks (an ``if`` whose body only raises), error messages, docstrings and
  f-strings are not computation and are left out.

A notebook tree and a library tree then *match* in the largest common top-down part
(their anti-unification): the same operation at the root, and recursively the same
operations below it, where a leaf of the library tree (a parameter, a constant) stands for
any notebook expression. A notebook fragment is flagged when it shares with one library
function a part of at least ``MIN_NODES`` nodes, ``MIN_OPERATIONS`` of them operations
(not placeholders), that makes up at least ``MIN_COVERAGE`` of the function's result
(its largest tree, into which its other statements are inlined): most of what the function
computes, not an idiom it shares with it.

**2. A hand-written training loop** (:func:`training_loops`). A loop, or a function (a
step handed to ``train.fit`` is a loop body), that calls ``.backward()`` and an
optimizer's ``.step()`` re-implements the library's trainers (``vae.train_with_adam``,
``gan.make_gan_step`` with ``train.fit``), unless the allow-list of the test names it with
the reason the chapter writes that step by hand.

Exercise code is skipped: cells that hold a solution (``### BEGIN SOLUTION``), cells tagged
``exercise``/``solution``, and every cell of a chapter's ``## Exercises`` section, since
exercises ask the student to write library functions again.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import json
import pkgutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

LEAF = "·"
ANY_CALL = "call:·"

# Thresholds, set between the old re-implementations (tests/data/reimplemented_cells.json:
# 10 to 14 nodes, 100 % of the function) and the closest current notebook code that is not
# allow-listed (under 60 %; ``Library.closest`` lists the nearest).
MIN_NODES = 8  # size of the shared part of the two trees, placeholders included
MIN_OPERATIONS = 4  # ... of which operations (calls, arithmetic, comparisons, ...)
MIN_COVERAGE = 0.75  # ... and at least this share of the library function's result tree
INDEX_MIN_NODES = 5  # library subtrees smaller than this are never compared
MAX_INLINE = 300  # a variable whose tree is larger stays a placeholder (bounds the trees)

# Calls that change a value's type, device or graph but not what it is.
CONVERSIONS = frozenset({"item", "float", "double", "half", "cpu", "cuda", "detach", "to",
                         "contiguous", "clone", "numpy", "tolist"})
SYNONYMS = {"vector_norm": "norm", "absolute": "abs", "multiply": "mul", "divide": "div",
            "subtract": "sub", "concat": "cat", "concatenate": "cat"}
BUILTINS = frozenset(dir(builtins))
# Modules under their conventional names, namespaces even where the cell that imports them is
# not in view (a cell checked on its own).
CONVENTIONAL_NAMESPACES = frozenset({"torch", "F", "nn", "np", "math", "plt", "scipy"})
_BACKWARD = "<backward>"


# --------------------------------------------------------------------------- trees


class Forest:
    """Interned canonical trees: a node is an int; equal trees are the same int."""

    def __init__(self) -> None:
        self._ids: dict[tuple, int] = {}
        self.label: list[str] = []
        self.children: list[tuple[tuple[object, int], ...]] = []
        self.size: list[int] = []

    def node(self, label: str, children: Iterable[tuple[object, int]] = ()) -> int:
        kids = tuple(children)
        key = (label, kids)
        found = self._ids.get(key)
        if found is not None:
            return found
        self._ids[key] = n = len(self.label)
        self.label.append(label)
        self.children.append(kids)
        self.size.append(1 + sum(self.size[c] for _, c in kids))
        return n

    def subtree(self, root: int) -> set[int]:
        seen, todo = set(), [root]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(c for _, c in self.children[n])
        return seen


@dataclass
class Fragment:
    """The canonical trees of one library function, or of one notebook cell or function."""

    where: str  # "genmodels.vae.train_with_adam", "ch04_autoencoders.ipynb, cell 26", ...
    roots: list[int] = field(default_factory=list)
    lines: dict[int, int] = field(default_factory=dict)  # root -> line of its statement


def _bound_names(target: ast.AST) -> Iterator[str]:
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            yield node.id


def _is_input_check(stmt: ast.If) -> bool:
    return all(isinstance(s, ast.Raise) for s in stmt.body) and not stmt.orelse


class Canonicaliser:
    """Turns the statements of one module (or notebook) into :class:`Fragment` s.

    ``named``: names whose calls keep their name (imports, and for a library module its
    own top-level functions); ``namespaces``: names bound by imports (``torch``, ``F``,
    ``vae``), whose attributes are functions, not methods of a value.
    """

    def __init__(self, forest: Forest, named: set[str], namespaces: set[str]) -> None:
        self.f = forest
        self.named = named
        self.namespaces = namespaces
        named |= CONVENTIONAL_NAMESPACES
        namespaces |= CONVENTIONAL_NAMESPACES
        self.leaf = forest.node(LEAF)
        self.fragments: list[Fragment] = []

    # ----------------------------------------------------------------- expressions

    def _is_namespace(self, node: ast.expr) -> bool:
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.namespaces

    def _args(self, call: ast.Call, env: dict, first: int = 0) -> list[tuple[object, int]]:
        kids: list[tuple[object, int]] = [(first + i, self.expr(a, env)) for i, a in enumerate(call.args)]
        kids += sorted((f"kw:{k.arg or '**'}", self.expr(k.value, env)) for k in call.keywords)
        return kids

    def _call(self, node: ast.Call, env: dict) -> int:
        func = node.func
        if isinstance(func, ast.Attribute):
            name = SYNONYMS.get(func.attr, func.attr)
            if self._is_namespace(func.value):  # torch.cat(x), F.softplus(x), vae.elbo_terms(...)
                return self.f.node(f"call:{name}", self._args(node, env))
            receiver = self.expr(func.value, env)
            if name in CONVERSIONS:
                return receiver
            return self.f.node(f"call:{name}", [(0, receiver), *self._args(node, env, first=1)])
        if isinstance(func, ast.Name):
            if func.id in ("float", "list", "tuple") and len(node.args) == 1 and not node.keywords:
                return self.expr(node.args[0], env)  # the same values in another container
            own = func.id in env or func.id not in (self.named | BUILTINS)
            label = ANY_CALL if own else f"call:{SYNONYMS.get(func.id, func.id)}"
            return self.f.node(label, self._args(node, env))
        return self.f.node(ANY_CALL, [("f", self.expr(func, env)), *self._args(node, env)])

    def _comprehension(self, node: ast.expr, env: dict) -> int:
        gens = getattr(node, "generators", [])
        if (isinstance(node, (ast.ListComp, ast.GeneratorExp)) and len(gens) == 1
                and isinstance(gens[0].target, ast.Name) and isinstance(node.elt, ast.Name)
                and node.elt.id == gens[0].target.id):
            return self.expr(gens[0].iter, env)  # [p for p in X if c]: the elements of X, selected
        env = dict(env)
        kids: list[tuple[object, int]] = []
        for i, gen in enumerate(node.generators):  # type: ignore[attr-defined]
            it = self.expr(gen.iter, env)
            for name in _bound_names(gen.target):
                env.pop(name, None)
            if (len(node.generators) == 1 and isinstance(gen.target, ast.Name)  # type: ignore[attr-defined]
                    and self.f.label[it] == "call:grad" and len(self.f.children[it]) >= 2):
                # [e(g) for g in autograd.grad(L, params)] == [e(grad(L, p)) for p in params]
                loss, params = self.f.children[it][0][1], self.f.children[it][1][1]
                env[gen.target.id] = self.f.node("call:grad", [(0, loss), (1, self.leaf)])
                it = params
            ifs = [(f"if{j}", self.expr(c, env)) for j, c in enumerate(gen.ifs)]
            kids.append((i, self.f.node("for", [("target", self.leaf), ("iter", it), *ifs])))
        if isinstance(node, ast.DictComp):
            kids += [("key", self.expr(node.key, env)), ("value", self.expr(node.value, env))]
            return self.f.node("dictcomp", kids)
        return self.f.node("comp", [("elt", self.expr(node.elt, env)), *kids])  # type: ignore[attr-defined]

    def expr(self, node: ast.expr | None, env: dict) -> int:
        f = self.f
        if node is None or isinstance(node, (ast.Constant, ast.JoinedStr)):
            return self.leaf
        if isinstance(node, ast.Name):
            return env.get(node.id, self.leaf)
        if isinstance(node, ast.Attribute):
            if node.attr == "grad" and _BACKWARD in env:  # read after L.backward(): grad(L, p)
                return f.node("call:grad", [(0, env[_BACKWARD]), (1, self.expr(node.value, env))])
            if self._is_namespace(node):  # torch.float32, math.pi: a constant
                return self.leaf
            return f.node(f".{node.attr}", [(0, self.expr(node.value, env))])
        if isinstance(node, ast.Call):
            return self._call(node, env)
        if isinstance(node, ast.BinOp):
            return f.node(f"binop:{type(node.op).__name__}",
                          [(0, self.expr(node.left, env)), (1, self.expr(node.right, env))])
        if isinstance(node, ast.UnaryOp):
            return f.node(f"unary:{type(node.op).__name__}", [(0, self.expr(node.operand, env))])
        if isinstance(node, ast.BoolOp):
            return f.node(f"bool:{type(node.op).__name__}",
                          [(i, self.expr(v, env)) for i, v in enumerate(node.values)])
        if isinstance(node, ast.Compare):
            ops = ",".join(type(o).__name__ for o in node.ops)
            parts = [node.left, *node.comparators]
            return f.node(f"cmp:{ops}", [(i, self.expr(v, env)) for i, v in enumerate(parts)])
        if isinstance(node, ast.Subscript):
            return f.node("[]", [(0, self.expr(node.value, env)), (1, self.expr(node.slice, env))])
        if isinstance(node, ast.Slice):
            return f.node("slice", [(k, self.expr(v, env)) for k, v in
                                    (("lower", node.lower), ("upper", node.upper), ("step", node.step))])
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return f.node(type(node).__name__.lower(), [(i, self.expr(e, env)) for i, e in enumerate(node.elts)])
        if isinstance(node, ast.Dict):
            kids = []
            for i, (k, v) in enumerate(zip(node.keys, node.values, strict=True)):
                kids += [(f"k{i}", self.expr(k, env)), (f"v{i}", self.expr(v, env))]
            return f.node("dict", kids)
        if isinstance(node, ast.IfExp):
            return f.node("ifexp", [(0, self.expr(node.test, env)), (1, self.expr(node.body, env)),
                                    (2, self.expr(node.orelse, env))])
        if isinstance(node, ast.Lambda):
            inner = {k: v for k, v in env.items() if k not in {a.arg for a in ast.walk(node.args)
                                                               if isinstance(a, ast.arg)}}
            return f.node("lambda", [(0, self.expr(node.body, inner))])
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self._comprehension(node, env)
        if isinstance(node, ast.NamedExpr):
            value = self.expr(node.value, env)
            self._bind(node.target, value, env)
            return value
        if isinstance(node, ast.Starred):
            return f.node("*", [(0, self.expr(node.value, env))])
        kids = [(i, self.expr(c, env)) for i, c in enumerate(ast.iter_child_nodes(node))
                if isinstance(c, ast.expr)]
        return f.node(type(node).__name__, kids)

    # ----------------------------------------------------------------- statements

    def _bind(self, target: ast.expr, value: int, env: dict) -> None:
        if isinstance(target, ast.Name):
            if self.f.size[value] <= MAX_INLINE:
                env[target.id] = value
            else:
                env.pop(target.id, None)
        else:  # tuple unpacking, attributes, subscripts: the names are unknown values
            for name in _bound_names(target) if isinstance(target, (ast.Tuple, ast.List)) else ():
                env.pop(name, None)

    def _root(self, frag: Fragment, tree: int, stmt: ast.AST) -> None:
        frag.roots.append(tree)
        frag.lines.setdefault(tree, getattr(stmt, "lineno", 0))

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, where: str) -> None:
        frag = Fragment(where)
        self.fragments.append(frag)
        self.block(node.body, {}, frag, where)

    def block(self, body: list[ast.stmt], env: dict, frag: Fragment, where: str) -> None:
        for stmt in body:
            self.statement(stmt, env, frag, where)

    def statement(self, stmt: ast.stmt, env: dict, frag: Fragment, where: str) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            env.pop(stmt.name, None)
            self.function(stmt, f"{where}.{stmt.name}")
        elif isinstance(stmt, ast.ClassDef):
            env.pop(stmt.name, None)
            self.block(stmt.body, {}, Fragment(f"{where}.{stmt.name}"), f"{where}.{stmt.name}")
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            if stmt.value is None:
                return
            value = self.expr(stmt.value, env)
            self._root(frag, value, stmt)
            for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                self._bind(target, value, env)
        elif isinstance(stmt, ast.AugAssign):
            value = self.expr(stmt.value, env)
            self._root(frag, value, stmt)
            if isinstance(stmt.target, ast.Name):
                now = self.f.node(f"binop:{type(stmt.op).__name__}",
                                  [(0, env.get(stmt.target.id, self.leaf)), (1, value)])
                self._bind(stmt.target, now, env)
        elif isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant):
                return  # docstring
            value = self.expr(stmt.value, env)
            self._root(frag, value, stmt)
            call = stmt.value
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "backward"):
                env[_BACKWARD] = self.expr(call.func.value, env)
        elif isinstance(stmt, ast.Return):
            if stmt.value is not None:
                self._root(frag, self.expr(stmt.value, env), stmt)
        elif isinstance(stmt, ast.If):
            if _is_input_check(stmt):
                return
            self._root(frag, self.expr(stmt.test, env), stmt)
            self.block(stmt.body, env, frag, where)
            self.block(stmt.orelse, env, frag, where)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self._root(frag, self.expr(stmt.iter, env), stmt)
            for name in _bound_names(stmt.target):
                env.pop(name, None)
            self.block(stmt.body, env, frag, where)
            self.block(stmt.orelse, env, frag, where)
        elif isinstance(stmt, ast.While):
            self._root(frag, self.expr(stmt.test, env), stmt)
            self.block(stmt.body, env, frag, where)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self._root(frag, self.expr(item.context_expr, env), stmt)
                if item.optional_vars is not None:
                    for name in _bound_names(item.optional_vars):
                        env.pop(name, None)
            self.block(stmt.body, env, frag, where)
        elif isinstance(stmt, ast.Try):
            self.block(stmt.body, env, frag, where)
            for handler in stmt.handlers:
                self.block(handler.body, env, frag, where)
            self.block(stmt.orelse, env, frag, where)
            self.block(stmt.finalbody, env, frag, where)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                name = (alias.asname or alias.name).split(".")[0]
                self.named.add(name)
                self.namespaces.add(name)
                env.pop(name, None)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                for name in _bound_names(target):
                    env.pop(name, None)
        # Raise, Assert, Pass, Break, Continue, Global, ...: not computation


def _imports_and_defs(tree: ast.Module) -> tuple[set[str], set[str]]:
    named, namespaces = set(), set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                name = (alias.asname or alias.name).split(".")[0]
                named.add(name)
                namespaces.add(name)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            named.add(stmt.name)
    return named, namespaces


# --------------------------------------------------------------------------- the library


# Not compared: exercises (reference solutions of what students write again), figures and
# widgets (notebooks draw their own), the formatting of result tables and the benchmark's
# command line: what the guard protects is the library's mathematics and experiments.
SKIPPED_MODULES = (".exercises", ".show", ".results", ".bench")


def library_fragments(forest: Forest, package: str = "genmodels",
                      skip: tuple[str, ...] = SKIPPED_MODULES) -> list[Fragment]:
    """One fragment per public function or method of ``package`` (read from its sources);
    private helpers (``_name``) are parts of those, not functions a notebook would call."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, package
    paths = [(package, Path(spec.origin))]  # type: ignore[arg-type]
    for mod in pkgutil.walk_packages(spec.submodule_search_locations, f"{package}."):
        if any(s in mod.name for s in skip):
            continue
        mspec = importlib.util.find_spec(mod.name)
        if mspec is not None and mspec.origin and mspec.origin.endswith(".py"):
            paths.append((mod.name, Path(mspec.origin)))
    fragments: list[Fragment] = []
    for name, path in paths:
        tree = ast.parse(path.read_text())
        named, namespaces = _imports_and_defs(tree)
        canon = Canonicaliser(forest, named, namespaces)
        canon.block(tree.body, {}, Fragment(name), name)  # top-level code: only its functions
        fragments += [fr for fr in canon.fragments
                      if not any(part.startswith("_") for part in fr.where[len(name) + 1:].split("."))]
    return fragments


# --------------------------------------------------------------------------- notebooks


@dataclass(frozen=True)
class Cell:
    notebook: str
    index: int
    source: str


def _code(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("!", "%")))


def notebook_cells(path: Path) -> list[Cell]:
    """The code cells of a notebook that are not exercise code (see the module's docstring)."""
    nb = json.loads(path.read_text())
    cells, in_exercises = [], False
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            for line in source.splitlines():
                if line.startswith("## "):
                    in_exercises = line.strip().lower() == "## exercises"
            continue
        if cell["cell_type"] != "code" or in_exercises or "### BEGIN SOLUTION" in source:
            continue
        tags = " ".join(cell.get("metadata", {}).get("tags", [])).lower()
        if "exercise" in tags or "solution" in tags:
            continue
        cells.append(Cell(path.name, i, source))
    return cells


def cell_fragments(forest: Forest, cells: list[Cell]) -> dict[Cell, list[Fragment]]:
    """Canonical trees of each cell; a notebook's imports are known to all its later cells."""
    named: set[str] = set()
    namespaces: set[str] = set()
    out: dict[Cell, list[Fragment]] = {}
    for cell in cells:
        canon = Canonicaliser(forest, named, namespaces)  # shares (and extends) the imports
        where = f"{cell.notebook}, cell {cell.index}"
        top = Fragment(where)
        canon.fragments.append(top)
        canon.block(ast.parse(_code(cell.source)).body, {}, top, where)
        out[cell] = canon.fragments
    return out


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class Match:
    cell: Cell
    library_function: str
    nodes: int
    operations: int
    coverage: float  # nodes / size of the library function's largest tree (its result)
    line: int

    def __str__(self) -> str:
        return (f"{self.cell.notebook}, cell {self.cell.index} (line {self.line}) computes what "
                f"{self.library_function} computes ({self.nodes} nodes, {self.operations} operations, "
                f"{100 * self.coverage:.0f} % of the function's result in common); call the library "
                "function instead")


class Library:
    """The library's canonical trees, indexed by the operation at each node."""

    def __init__(self, forest: Forest | None = None) -> None:
        self.forest = forest or Forest()
        self.fragments = library_fragments(self.forest)
        self.by_label: dict[str, list[tuple[int, str]]] = {}
        seen: set[tuple[int, str]] = set()
        for frag in self.fragments:
            for root in frag.roots:
                for n in self.forest.subtree(root):
                    label = self.forest.label[n]
                    if self.forest.size[n] < INDEX_MIN_NODES or label in (LEAF, ANY_CALL):
                        continue
                    if (n, frag.where) not in seen:
                        seen.add((n, frag.where))
                        self.by_label.setdefault(label, []).append((n, frag.where))
        self.result_size = {fr.where: max((self.forest.size[n] for n in fr.roots), default=1)
                            for fr in self.fragments}
        self._memo: dict[tuple[int, int], tuple[int, int]] = {}

    def _compatible(self, a: str, b: str) -> bool:
        return a == b or (a.startswith("call:") and b.startswith("call:") and ANY_CALL in (a, b))

    def common(self, lib: int, nb: int) -> tuple[int, int]:
        """(nodes, operations) of the largest common top-down part of two trees; a library
        leaf matches any notebook subtree."""
        key = (lib, nb)
        got = self._memo.get(key)
        if got is not None:
            return got
        f = self.forest
        if f.label[lib] == LEAF:
            got = (1, 0)
        elif not self._compatible(f.label[lib], f.label[nb]):
            got = (0, 0)
        else:
            theirs = dict(f.children[nb])
            nodes, ops = 1, 1
            for k, child in f.children[lib]:
                if k in theirs:
                    n, o = self.common(child, theirs[k])
                    nodes, ops = nodes + n, ops + o
            got = (nodes, ops)
        self._memo[key] = got
        return got

    def matches(self, cells: list[Cell], min_nodes: int = MIN_NODES,
                min_operations: int = MIN_OPERATIONS, min_coverage: float = MIN_COVERAGE) -> list[Match]:
        """The best match of each (cell, library function) pair that reaches the thresholds."""
        f = self.forest
        min_nodes = max(min_nodes, INDEX_MIN_NODES)
        best: dict[tuple[Cell, str], Match] = {}
        for cell, frags in cell_fragments(f, cells).items():
            for frag in frags:
                for root in frag.roots:
                    for n in f.subtree(root):
                        if f.size[n] < min_nodes:
                            continue
                        for lib, where in self.by_label.get(f.label[n], ()):
                            if f.size[lib] < min_nodes:
                                continue
                            nodes, ops = self.common(lib, n)
                            coverage = nodes / self.result_size[where]
                            if nodes < min_nodes or ops < min_operations or coverage < min_coverage:
                                continue
                            old = best.get((cell, where))
                            if old is None or (nodes, ops) > (old.nodes, old.operations):
                                best[(cell, where)] = Match(cell, where, nodes, ops, coverage,
                                                            frag.lines.get(root, 0))
        return sorted(best.values(), key=lambda m: (m.cell.notebook, m.cell.index, -m.nodes))

    def closest(self, cells: list[Cell], top: int = 5) -> list[Match]:
        """The largest common parts, whatever their size: how far below the thresholds the
        notebooks stay."""
        found = self.matches(cells, min_nodes=INDEX_MIN_NODES, min_operations=1, min_coverage=0.0)
        return sorted(found, key=lambda m: (-m.coverage * m.nodes, -m.nodes))[:top]


# --------------------------------------------------------------------------- training loops


@dataclass(frozen=True)
class TrainingLoop:
    cell: Cell
    kind: str  # "loop" or "function"
    line: int
    source: str

    def __str__(self) -> str:
        first = self.source.splitlines()[0].strip()
        return (f"{self.cell.notebook}, cell {self.cell.index} (line {self.line}, `{first}`): a "
                f"{self.kind} that calls .backward() and an optimizer's .step() is a hand-written "
                "training step; use the library's trainer (vae.train_with_adam, gan.make_gan_step "
                "with train.fit), or add it to the allow-list with the reason the chapter shows it")


def _calls(node: ast.AST, attr: str, nargs: int | None = None) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == attr
               and (nargs is None or len(n.args) == nargs)
               for n in ast.walk(node))


def training_loops(cells: list[Cell]) -> list[TrainingLoop]:
    """Loops and functions that call ``.backward()`` and a zero-argument ``.step()``."""
    found = []
    for cell in cells:
        code = _code(cell.source)
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, (ast.For, ast.While, ast.AsyncFor)):
                kind = "loop"
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                kind = "function"
            else:
                continue
            if _calls(node, "backward") and _calls(node, "step", nargs=0):
                segment = ast.get_source_segment(code, node) or ""
                found.append(TrainingLoop(cell, kind, node.lineno, segment))
    # a loop inside a flagged function (or the reverse) is the same finding: keep the outer one
    return [t for t in found if not any(o is not t and o.cell == t.cell and t.source in o.source
                                        and len(o.source) > len(t.source) for o in found)]
