"""The conda env files cannot drift from the package's declared dependencies, and every rule
names one of them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# What each rule family imports (beyond the package itself).
NEEDS = {
    "data": {"numpy"},
    "train": {"numpy", "keras", "tensorflow"},
    "report": {
        "numpy",
        "pandas",
        "scipy",
        "matplotlib",
        "seaborn",
        "scikit-posthocs",
        "keras",
        "tensorflow",
    },
}


def name_of(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # tensorflow-cpu (x86-64) and tensorflow (elsewhere) are one dependency
    return {name_of(r).replace("tensorflow-cpu", "tensorflow") for r in project["dependencies"]}


def env_packages(path: Path) -> tuple[set[str], list[str]]:
    env = yaml.safe_load(path.read_text())
    names, pip = set(), []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip = dep["pip"]
            names |= {name_of(p) for p in pip if not p.startswith("-")}
        else:
            names.add(name_of(dep))
    return names - {"python", "pip"}, pip


def test_each_env_has_what_its_rules_need_and_nothing_undeclared():
    deps = declared()
    seen = set()
    for family, needs in NEEDS.items():
        names, pip = env_packages(ROOT / "envs" / f"{family}.yaml")
        assert needs <= names, f"envs/{family}.yaml lacks {needs - names}"
        assert names <= deps, f"envs/{family}.yaml lists undeclared {names - deps}"
        assert "-e .." in pip, f"envs/{family}.yaml must install the package itself"
        seen |= names
    assert deps <= seen, f"declared dependencies in no env file: {deps - seen}"


def test_every_rule_names_an_existing_env():
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        rules = re.findall(r"^rule (\w+):", text, re.M)
        envs = re.findall(r'conda:\s*\n\s*"([^"]+)"', text)
        assert len(envs) == len(rules), f"{smk.name}: a rule without conda:"
        for env in envs:
            assert (smk.parent / env).resolve().is_file(), env
