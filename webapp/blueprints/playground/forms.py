"""The playground form: the context of the call, the prompt and two per-call overrides."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import FloatField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from webapp.forms import IntegerInput, PickerField, choices
from webapp.services.llm import playground


class PlaygroundForm(FlaskForm):
    user_id = PickerField("Call as user", kind="users", validators=[InputRequired()])
    org_id = PickerField("Organization", kind="orgs")
    feature = PickerField("Feature", kind="features")
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
        self.model.choices = choices(
            [("", "Effective model (from the settings)")]
            + [(m, m) for m in playground.model_choices()]
        )
        return self
