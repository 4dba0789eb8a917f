"""Provider forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from webapp.forms import VersionField, choices
from webapp.models import Protocol

PROTOCOLS = [
    (Protocol.OPENAI.value, "openai — OpenAI's API"),
    (Protocol.ANTHROPIC.value, "anthropic — Anthropic's Messages API"),
    (Protocol.OPENAI_COMPATIBLE.value, "openai_compatible — any server speaking OpenAI's API"),
]


class ProviderForm(FlaskForm):
    slug = StringField(
        "Slug",
        validators=[Optional(), Length(max=64)],
        render_kw={"placeholder": "acme-llm", "autocomplete": "off"},
    )
    display_name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )
    protocol = SelectField(
        "Protocol", choices=choices(PROTOCOLS), default=Protocol.OPENAI_COMPATIBLE.value
    )
    base_url = StringField(
        "Base URL",
        validators=[Optional(), Length(max=500)],
        render_kw={"placeholder": "https://api.example.com/v1"},
    )
    api_key_env = StringField(
        "Fallback key variable",
        validators=[Optional(), Length(max=100)],
        render_kw={"placeholder": "ACME_API_KEY"},
    )
    credit_multiplier = StringField(
        "Credit multiplier", default="1", validators=[Optional(), Length(max=20)]
    )
    default_model = StringField(
        "Default model",
        validators=[Optional(), Length(max=200)],
        render_kw={"placeholder": "e.g. gpt-5.4-mini", "autocomplete": "off"},
    )
    enabled = BooleanField("Enabled: offered to users and callable", default=True)
    extra_headers = TextAreaField(
        "Extra headers (JSON)",
        validators=[Optional(), Length(max=4000)],
        render_kw={"rows": 2, "placeholder": '{"X-Title": "Switchboard"}'},
    )


class ProviderEditForm(ProviderForm):
    version = VersionField()
