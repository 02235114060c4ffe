"""The hooks as modules, imported from their unrendered files: their functions, without a bake."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from types import ModuleType

from tests.bake import TEMPLATE_DIR

HOOKS_DIR = TEMPLATE_DIR / "hooks"


@cache
def hook(name: str) -> ModuleType:
    """`pre_gen_project` or `post_gen_project`; each reads its context in main(), not on import."""
    spec = importlib.util.spec_from_file_location(
        f"template_hooks.{name}", HOOKS_DIR / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module
