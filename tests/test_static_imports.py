"""Every `hushkit` module can be found from the source tree, by Python and by static tools.

The package maps folders to names (host_tools/ is `hushkit`, training/ is `hushkit.training`,
quantize/ is `hushkit.quantize`), so the editable install is setuptools' strict mode: a tree
of links to the source files that pyright, IDEs and import-linter read like an installed
package. A module added since the install is missing from that tree until `make setup` remakes
it; the first test says so.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"host_tools": "hushkit", "training": "hushkit.training", "quantize": "hushkit.quantize"}


def source_modules() -> dict[str, Path]:
    modules = {}
    for folder, package in PACKAGES.items():
        for path in sorted((REPO / folder).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return modules


def test_every_source_module_is_installed_from_this_tree():
    stale = []
    for name, path in source_modules().items():
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None or Path(spec.origin).resolve() != path:
            stale.append(f"{name} ({spec.origin if spec else 'not found'})")
    assert not stale, (
        "the editable install does not match the source tree (a module was added or moved "
        f"since it was made): run `make setup`. Not found here: {stale}"
    )


def test_every_module_imports():
    """Each module finds every `hushkit` module it imports (with every extra installed)."""
    failed = {}
    for name in source_modules():
        try:
            importlib.import_module(name)
        except ImportError as exc:
            failed[name] = str(exc)
    assert not failed, failed


@pytest.mark.slow
def test_pyright_resolves_every_hushkit_import():
    pyright = shutil.which("basedpyright") or str(Path(sys.executable).parent / "basedpyright")
    if not Path(pyright).exists():
        pytest.skip("basedpyright is not installed (pip install -e '.[dev]')")
    config = {
        # import resolution only: no type checking, library sources not analysed (fast)
        "typeCheckingMode": "off",
        "reportMissingImports": "error",
        "useLibraryCodeForTypes": False,
        "include": [str(REPO / folder) for folder in (*PACKAGES, "tests")],
        "extraPaths": [str(REPO / "tests")],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pyrightconfig.json"
        path.write_text(json.dumps(config))
        run = subprocess.run(
            [pyright, "-p", str(path), "--pythonpath", sys.executable, "--outputjson"],
            capture_output=True, text=True, timeout=1200,
        )
    report = json.loads(run.stdout)
    assert report["summary"]["filesAnalyzed"] >= len(source_modules())
    unresolved = [
        f"{Path(d['file']).relative_to(REPO)}:{d['range']['start']['line'] + 1}: {d['message']}"
        for d in report["generalDiagnostics"]
        if d.get("rule") == "reportMissingImports" and '"hushkit' in d["message"]
    ]
    assert not unresolved, "\n".join(unresolved)
