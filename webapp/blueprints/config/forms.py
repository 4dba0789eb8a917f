"""The import form: a pasted document or an uploaded file, previewed or applied."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import Optional

from webapp.forms import choices
from webapp.services.config.document import MAX_DOCUMENT_BYTES

FORMAT_CHOICES = [("auto", "Detect"), ("yaml", "YAML"), ("json", "JSON")]


class ImportForm(FlaskForm):
    """``apply`` comes from the button pressed: "0" previews (dry run), "1" writes."""

    document = TextAreaField(
        "Document",
        validators=[Optional()],
        render_kw={"rows": 12, "spellcheck": "false", "placeholder": "switchboard_config: 1"},
    )
    upload = FileField(
        "Or upload a file",
        render_kw={"accept": ".yaml,.yml,.json,application/json,application/yaml,text/yaml"},
    )
    format = SelectField("Format", choices=choices(FORMAT_CHOICES), default="auto")
    apply = HiddenField(default="0")

    @property
    def applying(self) -> bool:
        return self.apply.data == "1"

    def source(self) -> str | bytes | None:
        """The chosen file (read up to just over the limit) if any, else the pasted text."""
        if self.upload.data:
            return self.upload.data.read(MAX_DOCUMENT_BYTES + 1)
        return self.document.data or None
