"""The library does not import its users: method packages are plugins found through the
``facelib.projects`` entry points, installed under ``facelib.projects.<method>``; the config is the
same from any working directory and from a non-editable install (subprocesses)."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Prints the full default config and where facelib and its plugins were imported from.
PROBE = r"""
import json, sys
import facelib
from facelib.config import get_face_cfg
from facelib.plugins import loaded_plugins
cfg = get_face_cfg()
mods = {n: sys.modules[m].__file__ for n, m in loaded_plugins().items()}
print(json.dumps({"cfg": cfg.dump(), "facelib": facelib.__file__, "plugins": mods,
                  "top_projects": "projects" in sys.modules}))
"""


def _probe(cwd, env_extra=None):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def from_repo():
    return _probe(ROOT)


def test_plugins_found_and_config_has_their_keys(from_repo):
    assert set(from_repo["plugins"]) == {"fan", "aofd", "refineface", "mogface", "df2s2"}
    assert "FAN:" in from_repo["cfg"] and "AOFD:" in from_repo["cfg"]
    assert not from_repo["top_projects"]


def test_config_same_from_any_working_directory(tmp_path, from_repo):
    other = _probe(str(tmp_path))
    assert other["cfg"] == from_repo["cfg"]
    assert set(other["plugins"]) == {"fan", "aofd", "refineface", "mogface", "df2s2"}


def test_non_editable_install(tmp_path, from_repo):
    # build from a copy of the sources, so the checkout gets no build/ folder
    src = tmp_path / "src"
    for part in ("facelib", "projects"):
        shutil.copytree(os.path.join(ROOT, part), src / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, part), src / part)
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(src)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    top = sorted(p for p in os.listdir(target) if not p.endswith((".dist-info", ".egg-info")))
    assert top == ["facelib"], top  # no "projects", "fan", "aofd", ... at the top level
    assert os.path.isfile(target / "facelib" / "projects" / "fan" / "fan.py")
    work = tmp_path / "elsewhere"
    work.mkdir()
    # the installed copy is first on sys.path, ahead of the editable checkout of this venv
    got = _probe(str(work), {"PYTHONPATH": str(target)})
    assert got["facelib"].startswith(str(target))
    assert all(path.startswith(str(target)) for path in got["plugins"].values()), got["plugins"]
    assert got["cfg"] == from_repo["cfg"]


def test_library_names_no_method_package():
    pattern = re.compile(r"^\s*(from|import)\s+(projects\b|facelib\.projects\.\w+)", re.M)
    offenders = []
    for folder, _, files in os.walk(os.path.join(ROOT, "facelib")):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                with open(path) as fh:
                    if pattern.search(fh.read()):
                        offenders.append(os.path.relpath(path, ROOT))
    assert not offenders


def test_every_facelib_package_is_installed():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    found = set()
    for folder, dirs, files in os.walk(os.path.join(ROOT, "facelib")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        if any(f.endswith(".py") for f in files):
            found.add(os.path.relpath(folder, ROOT).replace(os.sep, "."))
    for init in glob.glob(os.path.join(ROOT, "projects", "*", "*", "__init__.py")):  # projects/<METHOD>/<method>
        found.add("facelib.projects." + os.path.basename(os.path.dirname(init)))
    assert found == listed, (found - listed, listed - found)
