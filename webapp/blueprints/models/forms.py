"""Catalog filters (a GET form: no CSRF, nothing changes)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField
from wtforms.validators import Length, Optional

from webapp.forms import choices
from webapp.models import Category

STATUS_CHOICES = [
    ("", "Any status"),
    ("enabled", "Enabled"),
    ("disabled", "Disabled"),
    ("deprecated", "Deprecated"),
]


class ModelFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = SearchField(
        "Search",
        validators=[Optional(), Length(max=100)],
        render_kw={"placeholder": "Search models"},
    )
    provider = SelectField("Provider", choices=choices([("", "All providers")]), default="")
    category = SelectField(
        "Category",
        choices=choices([("", "All categories")] + [(c.value, c.value.title()) for c in Category]),
        default="",
    )
    status = SelectField("Status", choices=choices(STATUS_CHOICES), default="")
