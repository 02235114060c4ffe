"""What settings for production need besides the database{% if cookiecutter.auth == "oidc" %}: the identity provider (record 0028){% else %}: nothing, without authentication{% endif %}."""

from typing import Any

{% if cookiecutter.auth == "oidc" -%}
PRODUCTION_IDENTITY: dict[str, Any] = {
    "oidc_issuer": "https://idp.example",
    "oidc_audience": ["{{ cookiecutter.project_name }}"],
}
{%- else -%}
PRODUCTION_IDENTITY: dict[str, Any] = {}
{%- endif %}
