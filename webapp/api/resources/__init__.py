"""The API's routes, one module per area of the pages."""

from webapp.api.resources import (  # noqa: F401 - registers the routes
    audit,
    catalog,
    config,
    credentials,
    me,
    orgs,
    settings,
    system,
    tokens,
    usage,
    users,
)
