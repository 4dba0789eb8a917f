"""Fuzzing helpers for the odd-input tests: the forms a role really sees (read from the pages
it can open, so every prefixed field name such as ``credits-org-3-amount`` is found), the
JSON bodies the API documents (read from /api/v1/openapi.json), and the loop that sends an
odd value to every field of a form or body at once.

Sending a value to each field alone costs a request per field and value; sending it to all
at once hides a crash behind another field's refusal. ``shrink`` does the second, then
takes back the values the app refused *by name* (a field marked invalid on the page, a key
of the API's ``errors``) and sends the rest again, until each value was either refused at
its field or processed; when the app refuses without naming a field, each remaining value
goes alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException

from tests.blueprints.test_authorization import PUBLIC, SIGN_OUT, TOKEN, access_level, build
from tests.blueprints.test_authorization import routes as routes_of

HX = {"HX-Request": "true"}
# Issue 8 item 13: far dates, huge exponents, NaN and infinity, negative zero, huge
# integers, LIKE wildcards with control characters (NUL is refused for every request
# before any form reads it: a 400 tested on its own), very long text.
ODD_VALUES = [
    "9999-12-31",
    "0001-01-01",
    "1E+999999999",
    "NaN",
    "-Infinity",
    "-0",
    "9" * 400,
    "%_\\\x01\x1b[2J\u202e\u200b%",
    "x" * 5000,
]
# Values a typed filter field can read as a date or a number, tried with every option of a
# filter's short choices (a period has five; a longer select lists records, each alike).
PARSED = {"9999-12-31", "0001-01-01", "-0", "9" * 400}
MAX_TURNS = 5
# Forms that end the session, or sign in: tested on their own.
SKIPPED_ENDPOINTS = {*SIGN_OUT, "auth.login", "auth.reauth"}


# --- forms on pages ------------------------------------------------------------------------


@dataclass
class PageForm:
    """A form as a page renders it: where it posts and what it sends unless someone types."""

    method: str  # "get" or "post"
    action: str
    page: str  # where it was found, to read it again after a save changed its versions
    partial: bool  # found in an htmx partial (read again with HX-Request)
    htmx: bool
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)  # selects, checkboxes, radios
    hidden: set[str] = field(default_factory=set)  # a version: a refusal cannot mark it

    def shape(self) -> tuple[str, str, frozenset[str]]:
        """The same form for another record (``edit-3-label``, ``edit-4-label``) or page."""
        names = frozenset(re.sub(r"\d+", "#", name) for name in self.fields)
        return self.method, re.sub(r"\d+", "#", urlsplit(self.action).path), names

    def values(self, turn: int) -> dict[str, str]:
        """What the form sends when a person fills it in: the rendered values, empty ones
        typed (``TYPICAL``); a filter (get) form with each choice at its ``turn``-th option,
        so that every option is tried (every option of a post form is not always valid
        for the record: an embedding model's category)."""
        data = {}
        for name, value in self.fields.items():
            choices = self.options.get(name)
            if choices and self.method == "get":
                value = choices[turn % len(choices)]
            elif not value and name not in self.options:
                value = typical(name, turn)
            data[name] = value
        return data

    @property
    def versioned(self) -> bool:
        """An edit form: after a save, its hidden version is stale."""
        return any(name.endswith("version") for name in self.hidden)

    def free_fields(self) -> list[str]:
        """Every field but the CSRF token (not checked in tests): choices and hidden fields
        take odd values too, as a hand-made post would send them."""
        return [name for name in self.fields if name != "csrf_token"]


# What a person types into an empty field of a create form, by the field's name (without
# its prefix), so that the odd value in one field is not refused only for another's sake.
TYPICAL = {
    "slug": "fz{turn}",
    "name": "fz{turn}",
    "display_name": "Fuzz {turn}",
    "model_id": "fuzz-model-{turn}",
    "email": "fuzz{turn}@example.com",
    "secret": "sk-fuzz-typical-key-{turn:08d}",
    "label": "fuzz {turn}",
    "amount": "5",
    "budget_amount": "5",
    "note": "fuzz",
    "host": "fuzz{turn}.lan:8080",
    "timezone": "UTC",
    "base_url": "http://93.184.216.34/v1",  # a public address, checked without DNS
    "subject": "fuzz-subject-{turn}",
    "prompt": "Hello",
    "user_id": "1",
    "new_password": "a fuzzed password {turn} is long",
    "confirm": "a fuzzed password {turn} is long",
    "password": "a fuzzed password {turn} is long",
    "current_password": "a wrong password",
    "document": '{"switchboard_config": 1}',
}


def typical(name: str, turn: int) -> str:
    template = TYPICAL.get(name.rsplit("-", 1)[-1], "")
    return template.format(turn=turn)


class _FormParser(HTMLParser):
    def __init__(self, page: str, partial: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.page, self.partial = page, partial
        self.forms: list[PageForm] = []
        self.links: set[str] = set()  # hx-get: partials the page loads
        self._form: PageForm | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if a.get("hx-get"):
            self.links.add(a["hx-get"])
        name = a.get("name", "")
        if tag == "form":
            post = a.get("hx-post") or a.get("hx-put") or a.get("hx-patch")
            method = "post" if post or a.get("method", "get").lower() == "post" else "get"
            action = post or a.get("hx-get") or a.get("action") or self.page
            self._form = PageForm(method, action, self.page, self.partial, bool(post))
            self.forms.append(self._form)
        elif self._form is not None and (name or tag == "option"):
            self._field(tag, name, a)

    def _field(self, tag: str, name: str, a: dict[str, str]) -> None:
        form = self._form
        assert form is not None
        kind = a.get("type", "text").lower()
        if tag == "input" and kind in ("checkbox", "radio"):
            form.options.setdefault(name, []).append(a.get("value", "on"))
            if "checked" in a or name not in form.fields:
                form.fields[name] = a.get("value", "on")
        elif tag == "input" and kind not in ("submit", "button", "file", "image", "reset"):
            form.fields[name] = a.get("value", "")
            if kind == "hidden":
                form.hidden.add(name)
        elif tag == "select":
            self._select = name
            form.options.setdefault(name, [])
        elif tag == "option" and self._select:
            value = a.get("value", "")
            form.options[self._select].append(value)
            if "selected" in a or self._select not in form.fields:  # a browser sends the first
                form.fields[self._select] = value
        elif tag == "textarea":
            self._textarea = name
            form.fields[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self._form is not None:
            self._form.fields[self._textarea] += data


def read_page(html: str, page: str = "", partial: bool = False) -> _FormParser:
    parser = _FormParser(page, partial)
    parser.feed(html)
    return parser


INVALID = re.compile(r"<(?:input|select|textarea)\b[^>]*\baria-invalid=\"true\"[^>]*>")
NAME = re.compile(r"\bname=\"([^\"]+)\"")


def invalid_fields(html: str) -> set[str]:
    """The names of the fields a page marks invalid (``aria-invalid``, set by the macros)."""
    return {m.group(1) for tag in INVALID.findall(html) if (m := NAME.search(tag))}


LEVELS = {
    "admin": {"login", "owner", "org_admin", "admin"},
    "org_admin": {"login", "owner", "org_admin"},
    "member": {"login", "owner"},
}


def endpoint_of(app: Flask, url: str, method: str) -> str | None:
    parts = urlsplit(url)
    try:
        endpoint, _ = app.url_map.bind("localhost").match(parts.path, method=method)
    except HTTPException:
        return None
    return str(endpoint)


def pages_of(app: Flask, role: str) -> list[str]:
    """One URL per page the role may open (sample records created on the way)."""
    urls = []
    for rule in routes_of(app, "GET"):
        level = access_level(rule)
        if level in (PUBLIC, TOKEN) or rule.endpoint == "static" or level not in LEVELS[role]:
            continue
        urls.append(build(app, rule))
    return urls


def forms_of_role(
    app: Flask, client: FlaskClient, role: str, extra_pages: Iterable[str] = ()
) -> list[PageForm]:
    """Every form on the pages ``role`` opens (and ``extra_pages``, such as its own
    records' pages) and on the htmx partials they load (a tab, an inline editor), one per
    shape."""
    for method in ("POST", "GET"):  # records every route needs exist before pages are read
        for rule in routes_of(app, method):
            if access_level(rule) not in (PUBLIC, TOKEN) and rule.endpoint != "static":
                build(app, rule)
    queue = [(url, False) for url in [*pages_of(app, role), *extra_pages]]
    seen: set[tuple[Any, ...]] = set()
    forms: dict[tuple[str, str, frozenset[str]], PageForm] = {}
    while queue:
        url, partial = queue.pop(0)
        endpoint = endpoint_of(app, url, "GET")
        key = (endpoint, _query_shape(url), partial)
        if key in seen or endpoint is None:
            continue
        response = client.get(url, headers=HX if partial else {})
        if response.status_code != 200 or response.mimetype != "text/html":
            continue  # another record's page (a 404 for this role) may still open
        seen.add(key)
        page = read_page(response.get_data(as_text=True), url, partial)
        for form in page.forms:
            if endpoint_of(app, form.action, form.method.upper()) not in SKIPPED_ENDPOINTS:
                forms.setdefault(form.shape(), form)
        queue += [(link, True) for link in sorted(page.links) if link.startswith("/")]
    return list(forms.values())


def _query_shape(url: str) -> tuple[tuple[str, str], ...]:
    """A query with its numbers blanked: ``?tab=keys`` and ``?tab=settings`` differ,
    ``?page=2`` and ``?page=3`` do not."""
    pairs = [pair.partition("=") for pair in urlsplit(url).query.split("&") if pair]
    return tuple(sorted((name, re.sub(r"\d+", "#", value)) for name, _, value in pairs))


# --- sending odd values --------------------------------------------------------------------


@dataclass
class Reply:
    """What the loop needs of a response: its status and the fields it refused by name."""

    status: int
    refused: set[str]
    where: str


Send = Callable[[dict[str, Any]], Reply]


class ServerError(AssertionError):
    pass


def check(reply: Reply, value: Any) -> Reply:
    if reply.status >= 500:
        raise ServerError(f"{reply.where}: {reply.status} for {str(value)[:40]!r}")
    return reply


def shrink(
    send: Send,
    base: Callable[[], dict[str, Any]],
    names: Iterable[str],
    value: Any,
    *,
    unnamed: Iterable[str] = (),
    saved: Callable[[], None] = lambda: None,
) -> None:
    """Send ``value`` in every field of ``names`` over ``base()``; take back those refused
    by name and send again, until every value left was processed. ``unnamed``: fields a
    refusal cannot name (a hidden version), taken back when a 422 names none. ``saved`` is
    called when the app accepted: the record changed, ``base()`` must read it again."""
    pending, unnamed = list(names), set(unnamed)
    while pending:
        reply = check(send({**base(), **dict.fromkeys(pending, value)}), value)
        if reply.status < 400:
            saved()
            return
        named = reply.refused & set(pending) or (unnamed & set(pending))
        if reply.status == 422 and named:
            pending = [name for name in pending if name not in named]
            continue
        # Refused as a whole (a 404, a 409, a message for the form): each value on its own.
        for name in pending:
            if check(send({**base(), name: value}), value).status < 400:
                saved()
        return


def page_sender(client: FlaskClient, form: PageForm) -> Send:
    def send(data: dict[str, Any]) -> Reply:
        headers = HX if form.htmx or form.method == "get" else {}  # a filter: its partial
        if form.method == "get":
            response = client.get(urlsplit(form.action).path, query_string=data, headers=headers)
        else:
            response = client.post(form.action, data=data, headers=headers)
        refused = (
            invalid_fields(response.get_data(as_text=True))
            if response.status_code == 422
            else set()
        )
        return Reply(response.status_code, refused, f"{form.method.upper()} {form.action}")

    return send


def refresh(client: FlaskClient, form: PageForm) -> None:
    """Read the form again from its page: after a save its version (and values) are new."""
    response = client.get(form.page, headers=HX if form.partial else {})
    for found in read_page(response.get_data(as_text=True), form.page, form.partial).forms:
        if found.shape() == form.shape() and found.action == form.action:
            form.fields, form.options, form.hidden = found.fields, found.options, found.hidden
            return


def fuzz_form(client: FlaskClient, form: PageForm, values: list[Any] = ODD_VALUES) -> None:
    """Every odd value in every field of ``form``, the other fields as a person fills them
    in (``shrink``). A filter (get) form is read as a whole: each value goes into every
    field at once (its choices tampered with), and into every typed field with the choices
    as offered; a choice can change how the typed fields are read (period=custom reads the
    dates), so each short choice's every option is tried with the values a typed field can
    parse (far dates, huge numbers)."""
    names = form.free_fields()
    if not names:
        return
    send = page_sender(client, form)
    if form.method == "get":
        typed = [name for name in names if name not in form.options]
        short = [len(o) for o in form.options.values() if len(o) <= MAX_TURNS]
        for value in values:
            check(send(dict.fromkeys(names, value)), value)
            turns = range(max(short, default=1)) if value in PARSED else range(1)
            for turn in turns if typed else []:
                check(send({**form.values(turn), **dict.fromkeys(typed, value)}), value)
        return
    for turn, value in enumerate(values):
        shrink(
            send,
            lambda turn=turn: form.values(turn),
            names,
            value,
            unnamed=form.hidden,
            saved=lambda: refresh(client, form) if form.versioned else None,
        )


# --- the API's documented bodies -----------------------------------------------------------


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def plausible(
    document: dict[str, Any], schema: dict[str, Any], name: str, ids: dict[str, int]
) -> Any:
    """A value of the documented type, for the fields a body needs besides the odd one."""
    schema = resolve(document, schema)
    if "anyOf" in schema:
        kinds = [s for s in schema["anyOf"] if resolve(document, s).get("type") != "null"]
        return plausible(document, kinds[0], name, ids) if kinds else None
    if "enum" in schema or "const" in schema:
        return schema.get("enum", [schema.get("const")])[0]
    kind, form = schema.get("type"), schema.get("format")
    if kind == "string":
        return {"date": "2030-01-01", "date-time": "2030-01-01T00:00:00Z"}.get(form or "", "fuzz")
    return {
        "integer": ids.get(name, 1),
        "number": 1,
        "boolean": False,
        "array": [],
        "object": {},
    }.get(kind or "", "fuzz")


@dataclass
class Operation:
    method: str
    path: str  # with the ids filled in
    schema: dict[str, Any]


def write_operations(document: dict[str, Any], ids: dict[str, int]) -> list[Operation]:
    """One operation per documented request body (the same body on several routes once)."""
    found: list[Operation] = []
    for template, methods in document["paths"].items():
        path = template
        for name, value in ids.items():
            path = path.replace("{" + name + "}", str(value))
        for method, operation in methods.items():
            if body := operation.get("requestBody"):
                schema = resolve(document, body["content"]["application/json"]["schema"])
                found.append(Operation(method.upper(), path, schema))
    return found


def api_sender(open_: Callable[..., Any], operation: Operation) -> Send:
    """``open_(method, path, json=…)``: a client sending an access token."""

    def send(body: dict[str, Any]) -> Reply:
        response = open_(operation.method, operation.path, json=body)
        data = response.get_json(silent=True)
        errors = (data.get("errors") if isinstance(data, dict) else None) or {}
        refused = {re.split(r"[.\[]", name)[0] for name in errors}
        return Reply(response.status_code, refused, f"{operation.method} {operation.path}")

    return send
