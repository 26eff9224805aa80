"""scripts/check_lock.py: the environment against the lock file (constraints.txt), on hand-made
lock / requirements files, and the project's own venv against the committed lock."""
import importlib.util
import os
import sys
from importlib import metadata

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location("facelib_check_lock", os.path.join(ROOT, "scripts", "check_lock.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_read_pins_and_errors(tmp_path):
    tool = _tool()
    lock = _write(tmp_path, "c.txt", "# comment\nNumPy==2.2.6\nopencv_python.headless==4.12.0.88  # trailing\n\n")
    assert tool.read_pins(lock) == {"numpy": "2.2.6", "opencv-python-headless": "4.12.0.88"}
    bad = _write(tmp_path, "bad.txt", "numpy>=2\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: expected 'name==version'"):
        tool.read_pins(bad)


def test_check_finds_version_mismatch_missing_and_unlocked(tmp_path):
    tool = _tool()
    pytest_version = metadata.version("pytest")
    lock = _write(tmp_path, "c.txt", f"pytest=={pytest_version}\nnumpy==0.0.1\nnot-a-real-dist-xyz==1.0\n")
    reqs = _write(tmp_path, "r.txt", "pytest\nnumpy>=1.24\ntorch  # installed, not locked here\n"
                                     "missing-dist-abc>=1\n-c other.txt\n")
    errors, warnings = tool.check(lock, reqs)
    joined = "\n".join(errors)
    assert f"numpy: installed {metadata.version('numpy')}, locked 0.0.1" in joined
    assert "missing-dist-abc: required by r.txt but not installed" in joined
    assert "torch: required by r.txt but not in c.txt" in joined
    assert not any(e.startswith("pytest") or "not-a-real-dist-xyz" in e for e in errors)  # matches / not installed
    assert len(errors) == 3
    assert warnings and "torch" in warnings[0]
    assert tool.main(["--constraints", lock, "--requirements", reqs]) == 1


def test_check_passes_when_everything_matches(tmp_path, capsys):
    tool = _tool()
    lock = _write(tmp_path, "c.txt", f"pytest=={metadata.version('pytest')}\n")
    reqs = _write(tmp_path, "r.txt", "pytest>=7\n")
    errors, _ = tool.check(lock, reqs)
    assert errors == []
    assert tool.main(["--constraints", lock, "--requirements", reqs]) == 0
    assert "environment matches c.txt" in capsys.readouterr().out


@pytest.mark.skipif(os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(ROOT, ".venv")),
                    reason="not running in the project's ./.venv (scripts/setup_env.sh), whose versions the lock pins")
def test_project_venv_matches_the_committed_lock():
    """The venv that scripts/test.sh runs in has exactly the locked versions (set-up checks it too)."""
    errors, _ = _tool().check(os.path.join(ROOT, "constraints.txt"), os.path.join(ROOT, "requirements.txt"))
    assert errors == []
