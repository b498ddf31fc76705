"""The design card's top level: one package per layer, owned by this distribution alone."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def top_level_packages() -> list[str]:
    """The top-level packages ``pyproject.toml`` ships."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(pattern.rstrip("*") for pattern in patterns)


def test_the_card_names_are_top_level_packages() -> None:
    names = top_level_packages()
    assert {"actors", "middleware", "models"} <= set(names)
    for name in names:
        assert (ROOT / name / "__init__.py").is_file(), name
    assert not (ROOT / "src").exists()


def test_no_other_installed_distribution_provides_our_package_names() -> None:
    owners = packages_distributions()
    clashes = {
        name: sorted(set(owners.get(name, [])) - {"ai-worker", "ai_worker"}) for name in top_level_packages()
    }
    assert not {name: dists for name, dists in clashes.items() if dists}


def test_the_worker_module_imports_from_any_directory(tmp_path: Path) -> None:
    """``dramatiq actors`` imports ``actors``: it must resolve to this project outside the repository too."""
    code = "import actors, pathlib; print(pathlib.Path(actors.__file__).resolve())"
    env = {"PATH": "/usr/bin:/bin", "BROKER": "stub", "HF_HUB_OFFLINE": "1"}
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert Path(found.stdout.strip()) == ROOT / "actors" / "__init__.py"
