"""Text people type into base URLs, labels and host lists: no invisible characters, and host
names stored and shown in their ASCII (punycode) form, without lookalike labels.

``openаi.com`` with a Cyrillic "а" is not ``openai.com``; stored as ``xn--openi-7ve.com`` it
cannot pass for it, and mixing scripts in one label is refused outright.
"""

from __future__ import annotations

import unicodedata

import idna

# Scripts that may share a label (Chinese, Japanese and Korean mix with Latin by design).
MIXES_ALLOWED = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)
# Cyrillic letters that look like Latin ones: a label made only of them imitates a Latin name.
CYRILLIC_LOOKALIKES = frozenset("аеорсухіјѕһԁԛԝӏɡьъ")


def unprintable(text: str, *, spaces: bool = True) -> str | None:
    """The first control, format or separator character in ``text`` as its code point
    (e.g. ``U+200B``), or None.

    Covers C0 and C1 controls, DEL, line and paragraph separators, bidi overrides and
    zero-width characters; ``spaces=False`` refuses the plain space too.
    """
    for ch in text:
        if (ch == " " and not spaces) or (ch != " " and not ch.isprintable()):
            return f"U+{ord(ch):04X}"
    return None


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "UNKNOWN")
    if name.startswith("KATAKANA-HIRAGANA"):
        return "KATAKANA"
    return name.split(" ")[0]


def why_lookalike(label: str) -> str | None:
    """Why a Unicode label could pass for another name, or None."""
    scripts = {_script(ch) for ch in label if ch.isalpha()}
    if len(scripts) > 1 and not any(scripts <= mix for mix in MIXES_ALLOWED):
        return f"mixes {' and '.join(sorted(s.title() for s in scripts))} letters"
    letters = [ch for ch in label if ch.isalpha()]
    if scripts == {"CYRILLIC"} and all(ch in CYRILLIC_LOOKALIKES for ch in letters):
        return "is spelled with Cyrillic letters that look Latin"
    return None


def ascii_host(host: str) -> str:
    """The host in lowercase ASCII (IDNA 2008 A-labels); ValueError saying why not."""
    host = host.rstrip(".").lower()
    if host.isascii() and "xn--" not in host:
        return host
    try:
        encoded = idna.encode(host, uts46=True).decode("ascii")
        labels = [idna.decode(label) for label in encoded.split(".")]
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"{host} is not a valid internationalized host name ({exc}).") from None
    for label in labels:
        reason = why_lookalike(label)
        if reason:
            raise ValueError(
                f"The host label “{label}” {reason}, so it could pass for another name."
            )
    return encoded
