"""Catalog filters (a GET form: no CSRF, nothing changes)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SearchField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from webapp.forms import IntegerInput, VersionField, choices
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


class ModelForm(FlaskForm):
    """Edit one catalog model. Empty prices mean unpriced, not free."""

    display_name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    category = SelectField("Category", choices=choices((c.value, c.value) for c in Category))
    context_window = IntegerInput("Context window", validators=[Optional()])
    max_output_tokens = IntegerInput("Max output tokens", validators=[Optional()])
    input_price = StringField("Input $/M", validators=[Optional(), Length(max=20)])
    output_price = StringField("Output $/M", validators=[Optional(), Length(max=20)])
    cached_input_price = StringField("Cached input $/M", validators=[Optional(), Length(max=20)])
    unsupported_params = StringField(
        "Parameters it rejects",
        validators=[Optional(), Length(max=300)],
        description="Comma-separated, e.g. temperature, top_p: never sent to this model.",
    )
    supports_vision = BooleanField("Vision")
    supports_tools = BooleanField("Tools")
    supports_json = BooleanField("JSON mode")
    supports_streaming = BooleanField("Streaming")
    enabled = BooleanField("Enabled")
    deprecated = BooleanField("Deprecated")
    version = VersionField()


class AliasForm(FlaskForm):
    """A gateway model alias: a name callers send, and the catalog model it stands for."""

    name = StringField(
        "Alias",
        validators=[InputRequired(), Length(max=64)],
        render_kw={"placeholder": "default-chat"},
    )
    model = SelectField("Model", choices=choices([]), validators=[InputRequired()])
    description = StringField("Description", validators=[Optional(), Length(max=200)])
