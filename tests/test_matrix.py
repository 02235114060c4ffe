"""The option matrix: every input of cookiecutter.json is in it, and its bakes cover every pair."""

from __future__ import annotations

import itertools
import json

from tests.hook_modules import hook
from tests.matrix import (
    ALL_COMBINATIONS,
    MATRIX,
    NAMED,
    OPTIONS,
    PYTHON_VERSIONS,
    combination_id,
    named_once_per,
)
from tools.machine import TEMPLATE_DIR

# Inputs that take any text, and kubernetes, whose default follows no_docker (its own
# combinations are rendered by tests/test_kubernetes.py).
NOT_IN_THE_MATRIX = {"project_name", "module_name", "description", "database_url", "kubernetes"}


def defaults() -> dict[str, object]:
    return json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))


def test_every_input_with_a_set_of_values_is_an_option() -> None:
    pre_gen = hook("pre_gen_project")
    assert set(OPTIONS) == set(pre_gen.RULES) - NOT_IN_THE_MATRIX


def test_each_value_of_an_option_is_one_the_pre_gen_hook_accepts_the_default_among_them() -> None:
    pre_gen, context = hook("pre_gen_project"), defaults()
    refused = [
        (name, value)
        for name, values in OPTIONS.items()
        for value in values
        if not pre_gen.is_valid(name, value, {**context, name: value})
    ]
    assert refused == []
    for name, values in OPTIONS.items():
        assert context[name] in values, f"{name}: the default {context[name]!r} is not baked"
    assert set(OPTIONS["python_version"]) == set(PYTHON_VERSIONS)


def test_the_bakes_hold_every_pair_of_values_of_any_two_options() -> None:
    missing = [
        ((a, value_a), (b, value_b))
        for a, b in itertools.combinations(OPTIONS, 2)
        for value_a in OPTIONS[a]
        for value_b in OPTIONS[b]
        if not any(bake[a] == value_a and bake[b] == value_b for bake in MATRIX)
    ]
    assert missing == []


def test_bakes_are_distinct_named_first_and_fewer_than_every_combination() -> None:
    ids = [combination_id(bake) for bake in MATRIX]
    assert len(set(ids)) == len(ids), ids
    assert MATRIX[: len(NAMED)] == list(NAMED.values())
    assert len(MATRIX) < len(ALL_COMBINATIONS) or len(OPTIONS) <= 2
    assert all(set(bake) == set(OPTIONS) for bake in MATRIX)
    assert all(bake[name] in OPTIONS[name] for bake in MATRIX for name in bake)


def test_named_once_per_takes_each_variant_of_the_options_once_from_the_named_bakes() -> None:
    chosen = named_once_per("include_example", "auth")
    assert chosen[0] == NAMED["service"]
    assert all(bake in NAMED.values() for bake in chosen)
    variants = [(bake["include_example"], bake["auth"]) for bake in chosen]
    named_variants = {(bake["include_example"], bake["auth"]) for bake in NAMED.values()}
    assert len(variants) == len(set(variants)) == len(named_variants)
