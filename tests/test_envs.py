"""The conda environment is honest: every rule names it, and it installs the package itself
(with the JAX engine's extra), which brings every declared dependency (so nothing is listed
twice or can drift)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT / "envs" / "lstmfcn.yaml"


def test_the_env_installs_the_package_and_nothing_beside_it():
    env = yaml.safe_load(ENV.read_text())
    pip = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip == [["-e ..[jax,minirocket]"]], (
        "the package (pyproject.toml) is the one list of dependencies"
    )
    plain = {
        re.split(r"[<>=]", d, maxsplit=1)[0] for d in env["dependencies"] if isinstance(d, str)
    }
    assert plain == {"python", "pip"}, plain
    assert list((ROOT / "envs").glob("*.yaml")) == [ENV]


def test_every_rule_names_the_env():
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        rules = re.findall(r"^\s*rule (\w+):", text, re.M)
        envs = re.findall(r'conda:\s*\n\s*"([^"]+)"', text)
        assert len(envs) == len(rules), f"{smk.name}: a rule without conda:"
        for env in envs:
            assert (smk.parent / env).resolve() == ENV, env
