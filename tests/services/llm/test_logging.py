"""Bodies are kept exactly as the effective logging settings say; metering always is."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.services import llm
from webapp.services.llm import errors
from webapp.services.llm.metering import bodies_to_keep
from webapp.services.settings import layers as settings_service

COMBINATIONS = list(
    itertools.product(
        [True, False],
        ["full", "minimal", "errors_only"],
        [True, False],
        [True, False],
        [False, True],
    )
)
# One call per branch of the table, through settings, the call service and the usage record.
THROUGH_A_CALL = [
    (True, "full", True, True, False),  # both bodies of a good call
    (True, "full", True, False, True),  # a failed call has no response body to keep
    (True, "errors_only", True, True, False),  # nothing for a good call
    (True, "errors_only", False, True, True),  # the flags still choose for a failed one
    (True, "minimal", True, True, True),  # never
    (False, "full", True, True, True),  # logging off: never
]


def expected(enabled: bool, level: str, req: bool, resp: bool, failed: bool) -> tuple[bool, bool]:
    if not enabled or level == "minimal" or (level == "errors_only" and not failed):
        return False, False
    return req, resp


@pytest.mark.parametrize(
    ("enabled", "level", "req", "resp", "failed"), COMBINATIONS, ids=lambda v: str(v)
)
def test_the_whole_truth_table_of_kept_bodies(enabled, level, req, resp, failed):
    settings = {
        "logging_enabled": enabled,
        "logging_level": level,
        "log_request_bodies": req,
        "log_response_bodies": resp,
    }
    assert bodies_to_keep(settings, failed) == expected(enabled, level, req, resp, failed)


@pytest.mark.parametrize(
    ("enabled", "level", "req", "resp", "failed"), THROUGH_A_CALL, ids=lambda v: str(v)
)
def test_logging_settings_decide_which_bodies_are_kept(
    wired, member, enabled, level, req, resp, failed
):
    settings_service.update_settings(
        None,
        settings_service.parameter_set_for("global"),
        {
            "logging_enabled": enabled,
            "logging_level": level,
            "log_request_bodies": req,
            "log_response_bodies": resp,
            "max_retries": 0,
        },
    )
    if failed:
        wired.script("openai.chat", Reply.error(400, "context too long"))
        with pytest.raises(errors.BadRequest):
            llm.complete(
                [{"role": "user", "content": "secret plans"}], context=llm.CallContext(user=member)
            )
    else:
        llm.complete(
            [{"role": "user", "content": "secret plans"}], context=llm.CallContext(user=member)
        )
    db.session.expire_all()
    (record,) = db.session.scalars(sa.select(UsageRecord)).all()
    keep_request, keep_response = expected(enabled, level, req, resp, failed)
    assert (record.request_body is not None) == keep_request
    assert (record.response_body is not None) == (keep_response and not failed)
    if keep_request:
        assert record.request_body["messages"][0]["content"] == "secret plans"
    # Metering is kept whatever the logging settings say.
    assert record.status == ("error" if failed else "ok")
    assert record.input_tokens == (None if failed else 12)
    assert record.error_type == ("bad_request" if failed else None)
