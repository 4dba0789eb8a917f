"""Catalog filters (a GET form: no CSRF, nothing changes)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, SearchField, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, Optional

from webapp.forms import IntegerInput, VersionField, choices, coerce_id
from webapp.models import Category
from webapp.services.catalog.schemas import MODEL_FIELDS

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


class ModelFields(FlaskForm):
    """A catalog model's fields (``services/catalog/schemas.py`` has their rules). Empty
    prices mean unpriced, not free."""

    display_name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    category = SelectField("Category", choices=choices((c.value, c.value) for c in Category))
    context_window = IntegerInput("Context window", validators=[Optional()])
    max_output_tokens = IntegerInput("Max output tokens", validators=[Optional()])
    input_price = StringField("Input $/M", validators=[Optional(), Length(max=20)])
    output_price = StringField("Output $/M", validators=[Optional(), Length(max=20)])
    cached_input_price = StringField("Cached input $/M", validators=[Optional(), Length(max=20)])
    cache_write_price = StringField(
        "Cache write $/M",
        validators=[Optional(), Length(max=20)],
        description="Writing to the prompt cache, where the provider prices it apart.",
    )
    unsupported_params = StringField(
        "Parameters it rejects",
        validators=[Optional(), Length(max=300)],
        description="Comma-separated, e.g. temperature, top_p: never sent to this model.",
    )
    supports_vision = BooleanField("Vision")
    supports_tools = BooleanField("Tools")
    supports_json = BooleanField("JSON mode")
    supports_streaming = BooleanField("Streaming")
    allow_unpriced = BooleanField(
        "Managed calls allowed with no price",
        description="Unpriced calls are then charged nothing and stay flagged unpriced.",
    )
    enabled = BooleanField("Enabled")
    deprecated = BooleanField("Deprecated")

    def model_data(self) -> dict[str, Any]:
        """The fields as the catalog service takes them."""
        return {name: self._fields[name].data for name in MODEL_FIELDS}


class ModelForm(ModelFields):
    """Edit one catalog model."""

    version = VersionField()


class NewModelForm(ModelFields):
    """Add a model by hand: one a provider's live list does not show, or any model of a
    provider without a list."""

    provider = SelectField("Provider")
    model_id = StringField(
        "Model id",
        validators=[InputRequired(), Length(max=200)],
        description="Exactly as the provider's API names it, e.g. gpt-5.4-mini.",
        render_kw={"autocomplete": "off"},
    )

    def fill_choices(self, providers: list[tuple[str, str]]) -> NewModelForm:
        self.provider.choices = choices(providers)
        return self

    def model_data(self) -> dict[str, Any]:
        return {
            "provider": self.provider.data,
            "model_id": self.model_id.data,
            **super().model_data(),
        }


class BulkEnableForm(FlaskForm):
    """Enable or disable the ticked models (each row's checkbox belongs to this form)."""

    model_id = SelectMultipleField("Models", coerce=coerce_id, validate_choice=False)
    enabled = SelectField("Action", choices=choices([("on", "Enable"), ("off", "Disable")]))


class AliasForm(FlaskForm):
    """A gateway model alias: a name callers send, and the catalog model it stands for."""

    name = StringField(
        "Alias",
        validators=[InputRequired(), Length(max=64)],
        render_kw={"placeholder": "default-chat"},
    )
    model = SelectField("Model", choices=choices([]), validators=[InputRequired()])
    description = StringField("Description", validators=[Optional(), Length(max=200)])
