#!/usr/bin/env python
"""Check that the running environment has exactly the versions pinned in ``constraints.txt``.

Every pinned distribution that is installed must have its pinned version (a mismatch is an
error: the quick start's and the tests' results were measured with the locked set), and every
distribution that ``requirements.txt`` asks for must be installed. Distributions the lock does not
name are listed as a warning (installed by hand; not part of the tested set).

    python scripts/check_lock.py [--constraints constraints.txt] [--requirements requirements.txt]

Exit status 0 when the environment matches, 1 otherwise (each difference printed).
"""
import argparse
import os
import re
import sys
from importlib import metadata

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Installed from the checkout or by scripts/install_detectron2.sh (hash-pinned), not locked here.
NOT_LOCKED = {"facelib", "sal-detectron2", "pip"}


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path):
    """``{canonical name: version}`` of the ``name==version`` lines of a lock / constraints file."""
    pins = {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
            if m is None:
                raise ValueError(f"{path}:{lineno}: expected 'name==version', got {line!r}")
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def read_requirement_names(path):
    names = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                names.append(canonical(re.split(r"[<>=!~;\[\s]", line, maxsplit=1)[0]))
    return names


def installed_versions():
    out = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(canonical(name), dist.version)
    return out


def check(constraints, requirements):
    """Differences between the environment and the lock: ``(errors, warnings)`` (lists of str)."""
    pins = read_pins(constraints)
    have = installed_versions()
    errors, warnings = [], []
    for name, version in sorted(pins.items()):
        if name in have and have[name] != version:
            errors.append(f"{name}: installed {have[name]}, locked {version}")
    for name in read_requirement_names(requirements):
        if name not in have:
            errors.append(f"{name}: required by {os.path.basename(requirements)} but not installed")
        elif name not in pins:
            errors.append(f"{name}: required by {os.path.basename(requirements)} but not in "
                          f"{os.path.basename(constraints)} (regenerate it: scripts/lock_requirements.sh)")
    extra = sorted(n for n in have if n not in pins and n not in NOT_LOCKED)
    if extra:
        warnings.append("installed but not locked (not part of the tested set): " + ", ".join(extra))
    return errors, warnings


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--constraints", default=os.path.join(REPO, "constraints.txt"))
    p.add_argument("--requirements", default=os.path.join(REPO, "requirements.txt"))
    args = p.parse_args(argv)
    errors, warnings = check(args.constraints, args.requirements)
    for w in warnings:
        print(f"check_lock: WARNING: {w}", file=sys.stderr)
    for e in errors:
        print(f"check_lock: {e}", file=sys.stderr)
    if errors:
        print(f"check_lock: the environment differs from {args.constraints} in {len(errors)} distribution(s)",
              file=sys.stderr)
        return 1
    print(f"check_lock: environment matches {os.path.basename(args.constraints)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
