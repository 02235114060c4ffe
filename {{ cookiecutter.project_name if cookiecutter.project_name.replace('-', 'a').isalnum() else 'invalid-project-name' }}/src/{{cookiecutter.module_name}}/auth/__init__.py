"""Identity: OpenID Connect bearer tokens, verified in process (record 0028).

Routes see two things: `require_scopes("orders:write")` in their dependencies, and `PrincipalDep`
when they need to know who calls. Every route needs a valid token unless it carries `PUBLIC`.
"""

from {{ cookiecutter.module_name }}.auth.dependencies import (
    AUTH_RESPONSES,
    PUBLIC,
    PrincipalDep,
    authenticate,
    require_scopes,
)
from {{ cookiecutter.module_name }}.auth.principal import Principal

__all__ = [
    "AUTH_RESPONSES",
    "PUBLIC",
    "Principal",
    "PrincipalDep",
    "authenticate",
    "require_scopes",
]
