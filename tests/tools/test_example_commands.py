"""Every example command ``python tools/<tool>.py ...`` of README.md and of the tools' module
docstrings parses with that tool's ``parse_args`` (no ``SystemExit``).

Where the commands come from:

* README.md: every line of a fenced (```) block, and every `inline code` span outside the blocks,
  that contains ``python tools/<tool>.py``;
* ``tools/*.py``: every line of the module docstring (the string as Python reads it) that contains
  ``python tools/<tool>.py`` (the tool of the command, not necessarily the file's own).

How a command becomes the ``argv`` given to ``parse_args``:

1. backslash-newline continuations are joined;
2. everything before ``python tools/<tool>.py`` is dropped (environment assignments such as
   ``FACELIB_DATASETS=../shared/data``); a docstring command ends at a closing ``````;
3. ``<placeholder>`` metavars (``--pred <submission dir>``) become one word (``submission_dir``), so
   that they are not read as redirections;
4. the rest is split like a shell would (quotes kept until step 6) and cut at the first ``#``
   comment, pipe, ``;`` / ``&&`` / ``&``, or redirection (``>``, ``2>``, ``>>``, ``<``, ``2>&1``);
5. optional parts in brackets, ``[--resume]``, ``[--json out.json]``, ``[--pred OTHER ...]``,
   ``[opts ...]`` (no nesting): a bracket group is kept without its brackets, unless it holds a
   ``...`` token ("more of the same", often a placeholder such as ``opts`` that is no literal
   argument), in which case the whole group is dropped; a bare ``...`` token outside brackets
   (``--datasets NAME ...``) is dropped. A command with bracket groups is also tried as
   ``[minimal]``: every bracket group dropped, so the parts outside the brackets must suffice;
6. the result goes through ``shlex.split`` and then to ``parse_args``.

Known README failures (``KNOWN_README_FAILURES``: the command's text and variant -> why) are
xfail (strict: fixing README makes them XPASS, which fails, and then the entry here goes).
"""
import ast
import importlib.util
import os
import re
import shlex
from collections import Counter

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS_DIR = os.path.join(ROOT, "tools")
README = os.path.join(ROOT, "README.md")
TOOLS = sorted(f[:-3] for f in os.listdir(TOOLS_DIR) if f.endswith(".py") and not f.startswith("_"))

COMMAND = re.compile(r"python\s+tools/(\w+)\.py\b")
PLACEHOLDER = re.compile(r"<(\w[^<>\n]*?\w|\w)>")
STOP_TOKENS = {"|", "||", "&&", ";", "&"}
REDIRECTION = re.compile(r"^\d*(>>?|<)")  # >, >>, 2>, 2>&1, <, >file

# README commands that do not parse: (exact command text after step 2, whitespace collapsed;
# variant: "" or "minimal") -> reason
KNOWN_README_FAILURES = {}


# ------------------------------------------------------------------------------------------ collection
def _strip_command(text):
    """``(tool, command text from 'python tools/...', argument text)`` of a line (continuations
    joined), or None when it has no command."""
    m = COMMAND.search(text)
    if not m:
        return None
    command = " ".join(text[m.start():].split())
    return m.group(1), command, text[m.end():]


def _tokens(rest):
    """Shell-like tokens of the argument text up to a comment, pipe, list operator or redirection
    (quotes kept)."""
    rest = PLACEHOLDER.sub(lambda g: re.sub(r"\s+", "_", g.group(1)), rest)
    out = []
    for tok in shlex.split(rest, posix=False):
        if tok.startswith("#") or tok in STOP_TOKENS or REDIRECTION.match(tok):
            break
        out.append(tok)
    return out


def _variants(tokens):
    """``{"": full argv, "minimal": argv without the optional groups}`` (see the module docstring)."""
    full, minimal, group, n_groups = [], [], None, 0
    for tok in tokens:
        if group is None and tok.startswith("["):
            group, tok = [], tok[1:]
            n_groups += 1
        if group is None:
            if tok != "...":
                full.append(tok)
                minimal.append(tok)
            continue
        assert not tok.startswith("["), f"nested brackets in {' '.join(tokens)!r}"
        closes = tok.endswith("]")
        tok = tok[:-1] if closes else tok
        if tok:
            group.append(tok)
        if closes:
            if "..." not in group:
                full.extend(group)
            group = None
    assert group is None, f"unclosed [ in {' '.join(tokens)!r}"
    split = lambda toks: shlex.split(" ".join(toks))  # noqa: E731
    out = {"": split(full)}
    if n_groups and split(minimal) != out[""]:
        out["minimal"] = split(minimal)
    return out


def _readme_snippets():
    """``(line number, text)`` of README's fenced lines (continuations joined) and inline code spans."""
    with open(README, encoding="utf-8") as f:
        lines = f.read().split("\n")
    snippets, prose, fence, i = [], [], False, 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            fence = not fence
            prose.append("")
            i += 1
            continue
        if fence:
            start = i
            while line.endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line[:-1] + " " + lines[i]
                prose.append("")
            snippets.append((start + 1, line))
            prose.append("")
        else:
            prose.append(line)
        i += 1
    text = "\n".join(prose)
    for m in re.finditer(r"`([^`]+)`", text):
        snippets.append((text.count("\n", 0, m.start()) + 1, m.group(1).replace("\n", " ")))
    return snippets


def _docstring_snippets(path):
    """``(line number, text)`` of the module docstring's lines (continuations joined)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    node = tree.body[0] if tree.body else None
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
        return []
    lines = node.value.value.split("\n")
    out, i = [], 0
    while i < len(lines):
        start, line = i, lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        out.append((node.lineno + start, line))
        i += 1
    return out


def collect_commands():
    """``[(id, source, line, tool, command text, argv, known failure or None)]``."""
    found = []
    sources = [("README.md", _readme_snippets())]
    sources += [(f"tools/{t}.py", _docstring_snippets(os.path.join(TOOLS_DIR, f"{t}.py"))) for t in TOOLS]
    for source, snippets in sources:
        for line, text in snippets:
            parsed = _strip_command(text)
            if parsed is None:
                continue
            tool, command, rest = parsed
            if source.endswith(".py") and "``" in command:
                command = command.split("``")[0]
                rest = rest.split("``")[0]
            for variant, argv in _variants(_tokens(rest)).items():
                failure = KNOWN_README_FAILURES.get((command, variant)) if source == "README.md" else None
                found.append((source, line, tool, command, variant, argv, failure))
    ids, seen = [], Counter()
    for source, line, tool, _, variant, _, _ in found:
        base = f"{source}:{line}:{tool}" + (f"[{variant}]" if variant else "")
        seen[base] += 1
        ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return [(i, *c) for i, c in zip(ids, found)]


COMMANDS = collect_commands()
_MODULES = {}


def load_tool(name):
    if name not in _MODULES:
        spec = importlib.util.spec_from_file_location(f"facelib_tool_{name}", os.path.join(TOOLS_DIR, f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _MODULES[name] = mod
    return _MODULES[name]


# ------------------------------------------------------------------------------------------ tests
def _params():
    out = []
    for cid, source, line, tool, command, variant, argv, failure in COMMANDS:
        marks = [pytest.mark.xfail(strict=True, raises=AssertionError,
                                   reason=f"{source} line {line}: {command!r}: {failure}")] if failure else []
        out.append(pytest.param(source, line, tool, command, argv, id=cid, marks=marks))
    return out


@pytest.mark.parametrize("source,line,tool,command,argv", _params())
def test_example_command_parses(source, line, tool, command, argv, capsys):
    assert tool in TOOLS, f"{source} line {line}: {command!r} names no script in tools/"
    mod = load_tool(tool)
    try:
        args = mod.parse_args(argv)
    except SystemExit as e:
        err = capsys.readouterr().err.strip().splitlines()
        raise AssertionError(f"{source} line {line}: {command!r} -> argv {argv} does not parse "
                             f"(exit {e.code}): {err[-1] if err else ''}") from None
    assert args is not None and hasattr(args, "__dict__")
    if hasattr(args, "opts") and args.opts is not None:
        assert len(args.opts) % 2 == 0


def test_every_tool_exposes_parse_args():
    for name in TOOLS:
        mod = load_tool(name)
        assert callable(getattr(mod, "parse_args", None)), f"tools/{name}.py has no parse_args(argv=None)"
        assert callable(getattr(mod, "main", None)) or name == "train_net", f"tools/{name}.py has no main"


def test_the_collection_found_the_examples():
    """Each tool whose docstring shows ``python tools/<itself>.py`` gets at least one command from
    it, and README gives a fair number, so the parametrised test cannot pass on nothing."""
    per_source = Counter((source, tool) for _, source, _, tool, _, variant, _, _ in COMMANDS if not variant)
    per_tool = Counter(tool for _, _, _, tool, _, variant, _, _ in COMMANDS if not variant)
    print("\nexample commands per tool (README + docstrings, without [minimal] variants):")
    for tool in TOOLS:
        print(f"  {tool:24s} {per_tool[tool]:3d}  (docstring {per_source[(f'tools/{tool}.py', tool)]}, "
              f"README {per_source[('README.md', tool)]})")
    for tool in TOOLS:
        with open(os.path.join(TOOLS_DIR, f"{tool}.py"), encoding="utf-8") as f:
            doc = ast.get_docstring(ast.parse(f.read()), clean=False) or ""
        if f"python tools/{tool}.py" in doc:
            assert per_source[(f"tools/{tool}.py", tool)] >= 1, f"no example collected from tools/{tool}.py"
    assert sum(n for (source, _), n in per_source.items() if source == "README.md") >= 10
    with open(README, encoding="utf-8") as f:
        readme_tools = set(COMMAND.findall(f.read()))
    assert readme_tools == {tool for (source, tool) in per_source if source == "README.md"}
