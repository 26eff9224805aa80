"""``load_tool(name)``: a script of ``tools/`` imported as a module (its ``__main__`` block not run),
for tests that call its ``main`` / ``parse_args``. Imported as ``tool_loader`` (``tests/`` is on
``sys.path`` through ``tests/conftest.py``)."""
import importlib.util
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def load_tool(name: str, module_name: str = ""):
    spec = importlib.util.spec_from_file_location(module_name or f"facelib_tool_{name}",
                                                  os.path.join(ROOT, "tools", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
