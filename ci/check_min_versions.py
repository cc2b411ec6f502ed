"""Check that ci/min-versions.txt pins exactly the lower bounds in pyproject.toml.

.ci/run tests the pins; this keeps them the versions we declare: every runtime
dependency's ``>=`` bound must be pinned with ``==`` to that same version. It
reads the dependencies from the installed skmlp's metadata (pyproject.toml's
[project] dependencies), so run it with a Python that has skmlp installed.
Exits non-zero, naming the mismatches, otherwise prints the pins it checked.
"""

import sys
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def main():
    pins = {}
    for line in (ROOT / "ci" / "min-versions.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    errors = []
    for dep in requires("skmlp"):
        req = Requirement(dep)
        if req.marker is not None:  # an extra's dependency
            continue
        lower = [s.version for s in req.specifier if s.operator == ">="]
        name = canonicalize_name(req.name)
        if len(lower) != 1:
            errors.append(f"{dep}: no single >= lower bound to test")
        elif name not in pins or Version(pins[name]) != Version(lower[0]):
            # Version("1.6") == Version("1.6.0"): the bound's first release
            errors.append(f"{dep}: ci/min-versions.txt pins {pins.get(name)}")
    for message in errors:
        print(f"check_min_versions: {message}", file=sys.stderr)
    if not errors:
        print("check_min_versions:", ", ".join(f"{n}=={v}" for n, v in pins.items()))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
