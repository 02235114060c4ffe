"""The option matrix as data: named bakes for the slow tiers, and a pairwise cover for the rest.

The full product of the options grows twice over with each yes/no input, so only the render tier
takes it. Every other tier bakes `MATRIX`: the named bakes, then as few more as it takes for every
value of any option to meet every value of any other option in some bake. Adding an input is one
line in `OPTIONS` (and, where a named bake needs another value than the first, a value in
`NAMED_CHANGES`); tests/test_matrix.py fails while an input of cookiecutter.json is missing here.
"""

from __future__ import annotations

import itertools
import json

from tools.machine import TEMPLATE_DIR

# The supported Pythons, as cookiecutter.json gives them to the hooks (and cruft records them).
PYTHON_VERSIONS: tuple[str, ...] = tuple(
    json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))["_python_versions"]
)

# Each input the matrix varies: its values, first the one a named bake takes unless it says
# otherwise, each with the label it gives a bake's id.
OPTIONS: dict[str, dict[str, str]] = {
    "python_version": {version: f"py{version}" for version in PYTHON_VERSIONS},
    "no_docker": {"no": "docker", "yes": "nodocker"},
    "include_example": {"yes": "example", "no": "noexample"},
    "auth": {"oidc": "oidc", "none": "noauth"},
    "background_jobs": {"yes": "jobs", "no": "nojobs"},
}

# The bakes the slow tiers run on, each as what it changes from the first values. They are few
# on purpose: every test of one bake runs on one xdist worker, after that bake's one uv sync.
NAMED_CHANGES: dict[str, dict[str, str]] = {
    "service": {},  # everything on: containers, smoke, server limits, the guides
    "service-latest-python": {"python_version": PYTHON_VERSIONS[-1]},  # containers again
    "local": {"no_docker": "yes"},  # the faults tier: a laptop's bake
    "minimal": {
        "python_version": PYTHON_VERSIONS[-1],
        "no_docker": "yes",
        "include_example": "no",
        "auth": "none",
        "background_jobs": "no",
    },
}

Bake = dict[str, str]
Pair = tuple[tuple[str, str], tuple[str, str]]


def first_values() -> Bake:
    return {name: next(iter(values)) for name, values in OPTIONS.items()}


NAMED: dict[str, Bake] = {
    name: {**first_values(), **changes} for name, changes in NAMED_CHANGES.items()
}


def pairs_of(bake: Bake) -> set[Pair]:
    return set(itertools.combinations(sorted(bake.items()), 2))


def every_pair() -> set[Pair]:
    return {
        pair
        for a, b in itertools.combinations(sorted(OPTIONS), 2)
        for pair in itertools.product(((a, v) for v in OPTIONS[a]), ((b, v) for v in OPTIONS[b]))
    }


def pairwise_cover(seeds: list[Bake]) -> list[Bake]:
    """Bakes that, with `seeds`, hold every pair of values: greedy, so deterministic and small."""
    uncovered = every_pair().difference(*(pairs_of(seed) for seed in seeds))
    added: list[Bake] = []
    while uncovered:
        (a, value_a), (b, value_b) = min(uncovered)
        bake = {a: value_a, b: value_b}
        for name in OPTIONS:
            if name not in bake:
                bake[name] = max(
                    OPTIONS[name],
                    key=lambda value: len(pairs_of({**bake, name: value}) & uncovered),
                )
        bake = {name: bake[name] for name in OPTIONS}
        uncovered -= pairs_of(bake)
        added.append(bake)
    return added


MATRIX: list[Bake] = [*NAMED.values(), *pairwise_cover(list(NAMED.values()))]

# Every combination: the render tier only, where a bake costs a second.
ALL_COMBINATIONS: list[Bake] = [
    dict(zip(OPTIONS, values, strict=True)) for values in itertools.product(*OPTIONS.values())
]


def bakes_where(**values: str) -> list[Bake]:
    """The bakes of `MATRIX` with these values."""
    return [bake for bake in MATRIX if values.items() <= bake.items()]


def named_where(**values: str) -> list[Bake]:
    """The named bakes with these values: for the slow tiers."""
    return [bake for bake in NAMED.values() if values.items() <= bake.items()]


def named_once_per(*options: str) -> list[Bake]:
    """The first named bake of each set of values of `options`: a slow tier whose subject only
    those options change (telemetry, the API's surface) runs once per variant, not per bake."""
    chosen: dict[tuple[str, ...], Bake] = {}
    for bake in NAMED.values():
        chosen.setdefault(tuple(bake[name] for name in options), bake)
    return list(chosen.values())


def combination_id(context: Bake) -> str:
    return "-".join(OPTIONS[name][context[name]] for name in OPTIONS)
