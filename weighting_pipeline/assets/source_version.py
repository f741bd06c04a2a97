"""Code versions from source: what makes two computations comparable by their code.

``source_version`` is SHA-256 of the source files that define a computation
(the modules named, plus every ``weighting_pipeline.core`` module they import,
transitively), with comments, docstrings, prose arguments (``description=``,
``metadata=``), blank lines and trailing spaces removed, so only an edit to code
changes it; what an asset shows in the UI lives in ``week_metadata``, outside
every version. Pure Python (ast, tokenize).
"""

from __future__ import annotations

import ast
import hashlib
import io
import tokenize
from functools import cache
from pathlib import Path
from types import ModuleType

CORE_PACKAGE = "weighting_pipeline.core"
VERSION_LENGTH = 16  # hex digits of SHA-256 kept in a code version: 64 bits
# Keyword arguments that hold prose or presentation, never a number: an asset's description,
# metadata the UI shows.
PROSE_KEYWORDS = frozenset({"description", "metadata"})


def code_text(source: str, tree: ast.Module | None = None) -> str:
    """``source`` without comments, docstrings, prose keyword arguments
    (``PROSE_KEYWORDS``), blank lines or trailing spaces.

    Comments are found with ``tokenize`` and docstrings with ``ast`` by their
    positions, and cut from the text itself, so the result does not depend on
    how a Python version tokenizes or dumps what remains. ``tree`` is
    ``ast.parse(source)``, if the caller has it.
    """
    lines = source.replace("\r\n", "\n").split("\n")
    cuts: list[tuple[int, int, int, int]] = []  # (start line, start col, end line, end col), 1-based lines
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            cuts.append((*tok.start, *tok.end))
    tree = tree or ast.parse(source)
    for node in (tree, *_statements(tree)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                # ast counts columns in UTF-8 bytes, tokenize (and str slicing) in characters.
                c0 = _char_column(lines[first.lineno - 1], first.col_offset)
                c1 = _char_column(lines[first.end_lineno - 1], first.end_col_offset)
                cuts.append((first.lineno, c0, first.end_lineno, c1))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in PROSE_KEYWORDS:
            c0 = _char_column(lines[node.lineno - 1], node.col_offset)
            c1 = _char_column(lines[node.end_lineno - 1], node.end_col_offset)
            cuts.append((node.lineno, c0, node.end_lineno, c1))
    for l0, c0, l1, c1 in _merged(cuts):
        if l0 == l1:
            lines[l0 - 1] = lines[l0 - 1][:c0] + lines[l0 - 1][c1:]
        else:
            lines[l0 - 1 : l1] = [lines[l0 - 1][:c0] + lines[l1 - 1][c1:]]
    return "\n".join(line.rstrip() for line in lines if line.strip())


def _merged(cuts: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """The cuts with overlapping ones joined (a comment inside a cut argument), last first."""
    out: list[tuple[int, int, int, int]] = []
    for cut in sorted(cuts):
        if out and cut[:2] <= out[-1][2:]:
            out[-1] = (*out[-1][:2], *max(out[-1][2:], cut[2:]))
        else:
            out.append(cut)
    return out[::-1]


def _statements(node: ast.AST):
    """Every statement below ``node`` (not expressions: docstrings and imports are statements)."""
    for name in ("body", "orelse", "finalbody", "handlers", "cases"):
        for child in getattr(node, name, None) or []:
            if isinstance(child, (ast.stmt, ast.excepthandler, getattr(ast, "match_case", ast.stmt))):
                yield child
                yield from _statements(child)


def _char_column(line: str, byte_offset: int) -> int:
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8"))


def _core_imports(module_name: str, tree: ast.Module) -> set[str]:
    """Modules of ``weighting_pipeline.core`` that a module's syntax tree imports (absolute imports)."""
    found = set()
    for node in _statements(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == CORE_PACKAGE:
                found.update(f"{CORE_PACKAGE}.{a.name}" for a in node.names)
            elif node.module.startswith(CORE_PACKAGE + "."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(CORE_PACKAGE + "."))
    found.discard(module_name)
    return found


_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # weighting_pipeline/


def _source(module_name: str) -> str:
    # From the file, not the module object: an asset module's version is computed while
    # that module is still being imported.
    package, _, rest = module_name.partition(".")
    if package != _PACKAGE_ROOT.name:
        raise ValueError(f"{module_name}: code versions cover weighting_pipeline modules only")
    return _PACKAGE_ROOT.joinpath(*rest.split(".")).with_suffix(".py").read_text(encoding="utf-8")


@cache
def _closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_core_imports(name, _parsed(name)[1]))
    return tuple(sorted(seen))


def source_modules(*modules: ModuleType | str) -> tuple[str, ...]:
    """The modules a computation is defined by: ``modules`` and the core modules they import."""
    return _closure(tuple(sorted(m if isinstance(m, str) else m.__name__ for m in modules)))


def source_version(*modules: ModuleType | str) -> str:
    """A code version for the computation defined by ``modules``: the first
    ``VERSION_LENGTH`` hex digits of SHA-256 over each module of
    ``source_modules(*modules)`` (name, then ``code_text``), in name order."""
    digest = hashlib.sha256()
    for name in source_modules(*modules):
        digest.update(name.encode() + b"\n" + _module_code(name).encode("utf-8") + b"\n")
    return digest.hexdigest()[:VERSION_LENGTH]


@cache
def _parsed(name: str) -> tuple[str, ast.Module]:
    """A module's source and syntax tree, read once per process (every asset's version shares modules)."""
    source = _source(name)
    return source, ast.parse(source)


@cache
def _module_code(name: str) -> str:
    return code_text(*_parsed(name))
