"""One word finds a feature: the names areas had before they were renamed do not come back
(as a module alias, a variable, a template or a test file)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# old name → what it is called now
OLD = {
    "models_admin": "services/catalog/editing.py (import it as `editing`)",
    "config_io": "services/config/document.py (import its names)",
    "keys_admin": "the credentials blueprint",
    "keys_group": "encryption_keys_group",
    "user_admin_service": "services/accounts/users.py",
}
WHERE = ("webapp", "templates", "tests", "bench", "scripts", "static/js")


def test_no_old_name_is_used() -> None:
    pattern = re.compile(r"\b(" + "|".join(OLD) + r")\b")
    found = []
    for folder in WHERE:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".html", ".js") or path == Path(__file__):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if match := pattern.search(line):
                    name = match.group(1)
                    found.append(f"{path.relative_to(ROOT)}:{number}: {name} → {OLD[name]}")
            found += [f"{path.relative_to(ROOT)}: named {old}" for old in OLD if old in path.name]
    assert found == []
