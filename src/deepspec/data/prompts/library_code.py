"""Programming tasks built from the Python standard library's own functions: their signatures,
docstrings and source, deterministic for a seed and a Python version.

Why: the templated code tasks (code_tasks.py) come from 74 function specifications, and a drafter
trained on their answers learns those families rather than code in general (RESULTS.md, session 47:
tau_walk 2.90 on templated code, 2.26 on ShareGPT users' code). The standard library holds thousands
of real, documented functions offline, in the same shape as the benchmarks' code prompts (a
signature and a docstring, often with doctests) and as real code to explain, test or port.

Outcome (RESULTS.md, session 48): two epochs over 2,500 of these moved the benchmarks' code sets by
-1.6 % to +0.2 %. The answers are about library APIs; the benchmarks ask algorithmic puzzles.

Every prompt is checked against the evaluation sets by the prompt builder like any other source.
The list of functions depends on the Python version (3.11 here); the built prompt file is what
gets committed, with its manifest.
"""
from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import random
import subprocess
import sys
import textwrap
import warnings
from functools import lru_cache
from typing import NamedTuple

# Only the standard library at the top: this file also runs as a script in a bare interpreter
# (library_functions).

# Modules that do something on import (open a browser, print, start a GUI), need a display or are
# test suites, private or deprecated; their functions are not read.
_SKIP_MODULES = frozenset((
    "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "lib2to3", "test", "ensurepip",
    "pydoc_data", "xxsubtype", "xxlimited", "xxlimited_35", "__hello__", "__phello__", "msilib", "winreg",
    "winsound", "_winapi", "msvcrt", "nt", "crypt", "nis", "ossaudiodev", "spwd", "distutils", "imp",
    "asynchat", "asyncore", "smtpd", "pydoc", "cgi", "cgitb", "sre_compile", "sre_parse", "sre_constants",
    "encodings",   # a hundred copies of the same codec boilerplate
))
_MIN_DOC, _MAX_DOC = 60, 900           # docstring characters: too short says nothing, too long is a manual page
_MAX_SOURCE = 1500                     # source characters for the prompts that show the code


class LibraryFunction(NamedTuple):
    module: str        # e.g. "textwrap"
    qualname: str      # e.g. "dedent" or "OrderedDict.move_to_end"
    signature: str     # e.g. "(text)"
    doc: str           # inspect.getdoc, dedented
    source: str        # "" when longer than _MAX_SOURCE or unavailable


def _public_modules() -> list[str]:
    names = sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in _SKIP_MODULES)
    out = []
    for name in names:
        out.append(name)
        try:
            mod = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - platform-specific modules are simply absent
            continue
        path = getattr(mod, "__path__", None)
        if path:    # packages: their public submodules too (json.decoder, email.utils, ...)
            out += [f"{name}.{m.name}" for m in sorted(pkgutil.iter_modules(path), key=lambda m: m.name)
                    if not m.name.startswith("_") and m.name not in ("tests", "test", "__main__")]
    return out


def _clean_signature(obj, drop_self: bool) -> str | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    if drop_self:   # a method's signature as its callers write it
        sig = sig.replace(parameters=list(sig.parameters.values())[1:])
    sig = str(sig)
    # default values printed as object reprs carry memory addresses: not deterministic, not code
    if " at 0x" in sig or "<" in sig:
        return None
    return sig


def _entry(module: str, qualname: str, obj, drop_self: bool) -> LibraryFunction | None:
    doc = inspect.getdoc(obj) or ""
    if not (_MIN_DOC <= len(doc) <= _MAX_DOC) or "deprecated" in doc.lower() or '"""' in doc:
        return None
    sig = _clean_signature(obj, drop_self)
    if sig is None:
        return None
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        source = ""
    if len(source) > _MAX_SOURCE:
        source = ""
    return LibraryFunction(module, qualname, sig, doc, source)


def _scan() -> list[LibraryFunction]:
    seen_fns, seen_docs, out = set(), set(), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in _public_modules():
            try:
                mod = importlib.import_module(name)
            except Exception:  # noqa: BLE001
                continue
            for attr, obj in sorted(vars(mod).items()):
                if attr.startswith("_") or getattr(obj, "__module__", None) != name:
                    continue
                if inspect.isfunction(obj):
                    cands = [(attr, obj, False)]
                elif inspect.isclass(obj):
                    cands = [(f"{attr}.{m}", f, True) for m, f in sorted(vars(obj).items())
                             if inspect.isfunction(f) and not m.startswith("_")]
                else:
                    continue
                for qualname, fn, is_method in cands:
                    if fn in seen_fns:      # re-exported under another module's name
                        continue
                    seen_fns.add(fn)
                    e = _entry(name, qualname, fn, is_method)
                    # the same docstring elsewhere (overrides that repeat their base's) asks the same again
                    if e is not None and e.doc not in seen_docs:
                        seen_docs.add(e.doc)
                        out.append(e)
    return out


@lru_cache(maxsize=1)
def library_functions() -> tuple[LibraryFunction, ...]:
    """The documented public Python functions and methods of the standard library, in a fixed order.

    Read in a fresh interpreter (`python -I -S` on this file): importing the whole library has side
    effects, and packages loaded here may patch it (torch replaces `inspect.getfile`), which would
    change the list with whatever the caller had imported."""
    from dspark.errors import DSparkError

    proc = subprocess.run([sys.executable, "-I", "-S", __file__], capture_output=True, text=True)
    if proc.returncode != 0:
        raise DSparkError(f"reading the standard library's functions failed: {proc.stderr.strip()[-500:]}")
    return tuple(LibraryFunction(*row) for row in json.loads(proc.stdout))


# --------------------------------------------------------------------------------------------------
# Prompt forms: one function each, each takes (rng, function) and returns the prompt or None when the
# function lacks what the form needs (source code, a plain function).
# --------------------------------------------------------------------------------------------------

_LANGS = ("JavaScript", "TypeScript", "Go", "Rust", "Java", "C++", "C#", "Kotlin", "Ruby")


def _short_name(f: LibraryFunction) -> str:
    return f.qualname.split(".")[-1]


def _stub(f: LibraryFunction) -> str:
    doc = textwrap.indent(f.doc, "    ")
    raw = "r" if "\\" in f.doc else ""    # the docstring as written: its backslashes stay backslashes
    return f'def {_short_name(f)}{f.signature}:\n    {raw}"""\n{doc}\n    """\n'


def _first_paragraph(doc: str) -> str:
    return " ".join(doc.split("\n\n")[0].split())


def _p_complete_stub(r: random.Random, f: LibraryFunction) -> str | None:
    if "." in f.qualname:       # a method's stub needs its class to make sense
        return None
    intro = r.choice((
        "Implement the following Python function.",
        "Complete this Python function so that it behaves as its docstring says:",
        "Fill in the body of this function. Write idiomatic Python and handle the edge cases the docstring mentions.",
        f"Write this function from scratch, without importing `{f.module}`:",
        "Here is a function signature with its documentation. Write the implementation.",
    ))
    return f"{intro}\n```python\n{_stub(f)}```"


def _p_describe(r: random.Random, f: LibraryFunction) -> str | None:
    what = _first_paragraph(f.doc)
    name = _short_name(f)
    return r.choice((
        f"Write a Python function `{name}{f.signature}`. {what}",
        f"I need a Python function called `{name}` with the signature `{name}{f.signature}`. "
        f"Here is what it should do: {what}",
        f"Write a function `{name}` in Python. Specification: {what} Include a few example calls.",
        f"Implement `{name}{f.signature}` in Python. {what} Explain your approach briefly.",
    ))


def _p_explain(r: random.Random, f: LibraryFunction) -> str | None:
    if not f.source:
        return None
    where = f"`{f.module}.{f.qualname}`"
    return r.choice((
        f"Explain what this function from Python's standard library ({where}) does, step by step:\n"
        f"```python\n{f.source}```",
        f"Can you walk me through this code?\n```python\n{f.source}```",
        f"What does the following Python code do, and what is its time complexity?\n```python\n{f.source}```",
    ))


def _p_tests(r: random.Random, f: LibraryFunction) -> str | None:
    if not f.source or "." in f.qualname:
        return None
    fw = r.choice(("pytest", "pytest", "unittest"))
    return (f"Write {fw} unit tests for this function (`{f.module}.{f.qualname}`), covering normal cases and edge "
            f"cases:\n```python\n{f.source}```")


def _p_port(r: random.Random, f: LibraryFunction) -> str | None:
    if not f.source or "." in f.qualname:
        return None
    lang = r.choice(_LANGS)
    return r.choice((
        f"Translate this Python function to {lang}:\n```python\n{f.source}```",
        f"Port the following Python code to idiomatic {lang} and note any behaviour that differs:\n"
        f"```python\n{f.source}```",
    ))


def _p_usage(r: random.Random, f: LibraryFunction) -> str | None:
    where = f"{f.module}.{f.qualname}"
    return r.choice((
        f"How do I use `{where}` in Python? Show a short example.",
        f"What does `{where}{f.signature}` do? Give an example of when I would use it.",
        f"Show me a practical example that uses `{where}`, and explain the output.",
    ))


_FORMS = ((_p_complete_stub, 4), (_p_describe, 3), (_p_explain, 2), (_p_tests, 1), (_p_port, 1), (_p_usage, 1))


def library_prompts(n: int, seed: int = 0) -> list[tuple[LibraryFunction, str]]:
    """`n` (function, prompt) pairs: every function is asked about once before any is asked about
    twice (then in another form), so that the prompts spread over the library rather than repeat
    its favourites."""
    funcs = list(library_functions())
    rng = random.Random(f"deepspec-library-code-{seed}")
    used: dict[LibraryFunction, set] = {}
    out: list[tuple[LibraryFunction, str]] = []
    while len(out) < n and funcs:
        rng.shuffle(funcs)
        added = 0
        for f in funcs:
            if len(out) == n:
                break
            left = [(form, w) for form, w in _FORMS if form not in used.setdefault(f, set())]
            while left:
                form = rng.choices([fm for fm, _ in left], [w for _, w in left])[0]
                used[f].add(form)
                left = [(fm, w) for fm, w in left if fm is not form]
                text = form(rng, f)
                if text is not None:
                    out.append((f, text))
                    added += 1
                    break
        if not added:       # every form of every function asked: start over with fresh wordings
            used.clear()
    return out


def generate_library_tasks(n: int, seed: int = 0) -> list[str]:
    """`n` programming prompts built from documented standard-library functions (implement from a
    stub or a description, explain, test, port, use), deterministic for `seed` and the Python version."""
    return [text for _, text in library_prompts(n, seed)]


if __name__ == "__main__":      # the scan library_functions runs in a fresh interpreter
    json.dump([list(f) for f in _scan()], sys.stdout)
