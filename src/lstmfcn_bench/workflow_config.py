"""The workflow's config as Snakemake reads it: ``config.yaml`` updated by ``--config``
words, strings typed by the schema (:mod:`lstmfcn_bench.settings`), checked, defaults filled
in. The plan (:mod:`lstmfcn_bench.plan`) starts from :func:`checked_config`; `lstmfcn status`
and the campaign read a config as the workflow would with :func:`workflow_config` and
:func:`parse_words`.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from . import settings
from .errors import ConfigError


def _types(rule: dict, schema: dict) -> set[str]:
    if "$ref" in rule:
        rule = schema["$defs"][rule["$ref"].rsplit("/", 1)[-1]]
    kind = rule.get("type", ())
    return {kind} if isinstance(kind, str) else set(kind)


def _from_strings(value, rule: dict, schema: dict):
    """`--config key=value` hands nested values over as strings: turn those the schema types
    as integers or booleans into them (anything else is left for the schema to refuse)."""
    if "$ref" in rule:
        rule = schema["$defs"][rule["$ref"].rsplit("/", 1)[-1]]
    types = _types(rule, schema)
    if isinstance(value, str):
        text = value.strip()
        if "integer" in types and re.fullmatch(r"-?\d+", text):
            return int(text)
        if "boolean" in types and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if "number" in types and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
            return float(text)
        return value
    if isinstance(value, list) and "items" in rule:
        return [_from_strings(v, rule["items"], schema) for v in value]
    if isinstance(value, dict):
        props = rule.get("properties", {})
        extra = rule.get("additionalProperties")
        return {
            k: _from_strings(v, props.get(k, extra if isinstance(extra, dict) else {}), schema)
            for k, v in value.items()
        }
    return value


def checked_config(config: dict) -> dict:
    """``config`` with strings converted, checked against the schema, defaults filled in; or
    ConfigError naming the first offending key."""
    import jsonschema

    schema = settings.schema()
    config = dict(config)
    if isinstance(config.get("datasets"), str):
        config["datasets"] = [config["datasets"]]  # `--config datasets=GunPoint`
    config = _from_strings(config, schema, schema)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(config),
        key=lambda e: (list(e.path), e.message),
    )
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.path)
        if e.validator == "additionalProperties":
            where = ".".join(
                [where, *sorted(set(e.instance) - set(e.schema.get("properties", {})))]
            )
            where = where.lstrip(".")
            raise ConfigError(f"config key {where!r}: unknown key (see config.yaml for the keys)")
        raise ConfigError(f"config key {where or '(top level)'!r}: {e.message}")
    for key, rule in schema["properties"].items():
        if config.get(key) is None and "default" in rule:
            config[key] = settings.default(key)
    return config


def _config_value(text: str):
    """One ``--config`` value as Snakemake 9 reads it (``snakemake.cli.parse_config``): an int,
    a float, ``True``/``False``, YAML read with the base loader (lists and mappings of
    strings, which :func:`checked_config` then types by the schema), else the string; empty
    is None."""
    if text == "":
        return None
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    try:
        return yaml.load(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError:
        return text


def parse_words(words: list[str]) -> dict:
    """``key=value`` words as Snakemake's ``--config`` reads them."""
    out = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected key=value, got {word!r}")
        out[key] = _config_value(value)
    return out


def workflow_config(words: list[str], configfile: Path = Path("config.yaml")) -> dict | None:
    """The config the workflow would run with: ``configfile`` (the Snakefile's) updated by
    ``--config`` ``words``; None when there is neither."""
    config = {}
    if configfile.is_file():
        try:
            config = yaml.safe_load(configfile.read_text("utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{configfile}: not YAML ({' '.join(str(e).split())})") from None
        if not isinstance(config, dict):
            raise ConfigError(f"{configfile}: expected a mapping of config keys")
    elif not words:
        return None
    return {**config, **parse_words(words)}
