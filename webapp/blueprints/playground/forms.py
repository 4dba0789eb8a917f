"""The playground form: the context of the call, the prompt and two per-call overrides."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import FloatField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from webapp.forms import IntegerInput, choices, coerce_id, coerce_optional_id
from webapp.services.llm import playground


class PlaygroundForm(FlaskForm):
    user_id = SelectField("Call as user", coerce=coerce_id, validators=[InputRequired()])
    org_id = SelectField("Organization", coerce=coerce_optional_id)
    feature = SelectField("Feature", default="")
    model = SelectField("Model", default="")
    system = TextAreaField("System prompt", validators=[Optional(), Length(max=20000)])
    prompt = TextAreaField(
        "Prompt", validators=[InputRequired(), Length(max=50000)], render_kw={"rows": 4}
    )
    temperature = FloatField("Temperature (this call)", validators=[Optional(), NumberRange(0, 2)])
    max_tokens = IntegerInput(
        "Max output tokens (this call)", validators=[Optional(), NumberRange(1, 200000)]
    )

    def fill_choices(self) -> PlaygroundForm:
        options = playground.options()
        self.user_id.choices = choices(
            (str(u.id), f"{u.email} ({u.role}, {u.mode})") for u in options.users
        )
        self.org_id.choices = choices(
            [("", "No organization")] + [(str(o.id), o.name) for o in options.orgs]
        )
        self.feature.choices = choices([("", "No feature")] + [(f, f) for f in options.features])
        self.model.choices = choices(
            [("", "Effective model (from the settings)")] + [(m, m) for m in options.models]
        )
        return self
