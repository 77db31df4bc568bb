"""A plain install (no test extras) has everything the shipped packages import."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("eventdouble", "mockserver", "eventclient", "conformance")
# loaded by pytest only (the suite, and the plugin through its entry point): pytest is there then
NOT_NEEDED_AT_RUN_TIME = {"conformance/test_suite.py", "mockserver/pytest_plugin.py"}
OWN = set(SHIPPED)


def third_party_imports() -> set[str]:
    names = set()
    for package in SHIPPED:
        for path in (ROOT / package).rglob("*.py"):
            if str(path.relative_to(ROOT)) in NOT_NEEDED_AT_RUN_TIME:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in OWN and n not in sys.stdlib_module_names and n != "__future__"}


def test_every_import_comes_from_a_base_dependency() -> None:
    declared = {
        Requirement(r).name.lower().replace("_", "-")
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    distributions = packages_distributions()
    missing = {}
    for module in third_party_imports():
        provided_by = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
        if not provided_by & declared:
            missing[module] = sorted(provided_by)
    assert not missing, f"imported by the shipped code but not in [project] dependencies: {missing}"


@pytest.mark.parametrize("package", SHIPPED)
def test_every_package_and_data_folder_is_in_the_wheel(package: str) -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    for init in (ROOT / package).rglob("__init__.py"):
        assert ".".join(init.parent.relative_to(ROOT).parts) in listed
    assert {"eventdouble.openapi", "conformance.vectors"} <= listed
    assert setuptools["package-dir"]["eventdouble.openapi"] == "openapi"  # the specs stay at the root
