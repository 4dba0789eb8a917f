"""webapp.htmx.respond: the one answer to a form post, for htmx and for plain browsers."""

from __future__ import annotations

import json

from flask import Flask, Response, get_flashed_messages, make_response

from webapp.htmx import is_htmx, is_partial_request, redirect_to, respond

HX = {"HX-Request": "true"}


def _partial() -> Response:
    return make_response("<div>partial</div>")


def _page() -> Response:
    return make_response(f"<html>page {get_flashed_messages()}</html>", 422)


def test_an_htmx_swap_gets_the_partial_and_the_notice_in_hx_trigger(app: Flask):
    with app.test_request_context("/x", method="POST", headers=HX):
        assert is_htmx() and is_partial_request()
        response = respond(_partial, notice="Saved it.", then="/next", page=_page)
        assert response.get_data(as_text=True) == "<div>partial</div>"
        trigger = json.loads(response.headers["HX-Trigger"])
        assert trigger["notice"] == {"level": "success", "message": "Saved it."}


def test_without_javascript_a_success_flashes_and_redirects_with_303(app: Flask):
    with app.test_request_context("/x", method="POST"):
        response = respond(_partial, notice="Saved it.", then="/next", page=_page)
        assert response.status_code == 303 and response.headers["Location"] == "/next"
        assert get_flashed_messages(with_categories=True) == [("success", "Saved it.")]


def test_without_javascript_an_error_renders_the_whole_page_at_its_status(app: Flask):
    with app.test_request_context("/x", method="POST"):
        response = respond(
            _partial, status=422, notice="Fix it.", level="error", then="/n", page=_page
        )
        assert response.status_code == 422 and "page" in response.get_data(as_text=True)
        assert "Fix it." in response.get_data(as_text=True)  # flashed onto this page


def test_a_boosted_link_is_htmx_but_not_a_swap(app: Flask):
    with app.test_request_context("/x", headers={**HX, "HX-Boosted": "true"}):
        assert is_htmx() and not is_partial_request()
        redirect = redirect_to("/elsewhere", 401)
        assert redirect.status_code == 401 and redirect.headers["HX-Redirect"] == "/elsewhere"
    with app.test_request_context("/x"):
        assert redirect_to("/elsewhere").status_code == 303


def test_events_go_to_htmx_swaps_only(app: Flask):
    with app.test_request_context("/x", method="POST", headers=HX):
        response = respond(_partial, notice="Saved it.", then="/next", events=("rows-changed",))
        trigger = json.loads(response.headers["HX-Trigger"])
        assert set(trigger) == {"notice", "rows-changed"}
    with app.test_request_context("/x", method="POST"):
        response = respond(_partial, notice="Saved it.", then="/next", events=("rows-changed",))
        assert response.status_code == 303 and "HX-Trigger" not in response.headers


def test_redirect_to_shows_its_notice_on_the_page_it_lands_on(app: Flask):
    for headers, status in (({}, 303), (HX, 200)):
        with app.test_request_context("/x", method="POST", headers=headers):
            response = redirect_to("/list", notice="Deleted it.")
            assert response.status_code == status
            assert get_flashed_messages(with_categories=True) == [("success", "Deleted it.")]


HINT = (
    "Switchboard will not call 10.0.0.5: it is private. "
    "An admin can allow this host on the Keys page."
)


def test_a_notice_that_names_a_setting_links_to_it_for_admins_only(app: Flask, admin, member):
    from flask_login import login_user

    for user, linked in ((admin, True), (member, False)):
        with app.test_request_context("/x", method="POST", headers=HX):
            login_user(user)
            response = respond(_partial, notice=HINT, level="error")
            notice = json.loads(response.headers["HX-Trigger"])["notice"]
            assert notice["message"] == HINT  # the text alone, for anything that reads it
            if not linked:
                assert "parts" not in notice
                continue
            parts = notice["parts"]
            assert "".join(p["text"] for p in parts) == HINT.replace(
                "Keys page", "Keys page, under Allowed private hosts"
            )
            links = [p for p in parts if p["href"]]
            assert [p["href"] for p in links] == ["/admin/keys#allowed-hosts"]
