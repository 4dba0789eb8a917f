"""``SWITCHBOARD_OIDC_*``: providers read from the environment, mistakes refused at start-up."""

from __future__ import annotations

import pytest

from webapp.config import ConfigError, load_config
from webapp.services.accounts.sso_config import GroupGrant, SsoConfigError, providers_from_env

CORP = {
    "SWITCHBOARD_OIDC_PROVIDERS": "corp, partner",
    "SWITCHBOARD_OIDC_CORP_ISSUER": "https://login.corp.example/",
    "SWITCHBOARD_OIDC_CORP_CLIENT_ID": "switchboard",
    "SWITCHBOARD_OIDC_CORP_CLIENT_SECRET": "s3cret",
    "SWITCHBOARD_OIDC_CORP_LABEL": "Corp SSO",
    "SWITCHBOARD_OIDC_CORP_ALLOWED_DOMAINS": "corp.example, @Corp.ORG",
    "SWITCHBOARD_OIDC_CORP_GROUP_MAP": (
        "sb-admins=admin; CN=eng,OU=groups=acme; eng-leads=acme:admin"
    ),
    "SWITCHBOARD_OIDC_PARTNER_ISSUER": "https://partner.example",
    "SWITCHBOARD_OIDC_PARTNER_CLIENT_ID": "sb",
    "SWITCHBOARD_OIDC_PARTNER_CLIENT_SECRET": "x",
    "SWITCHBOARD_OIDC_PARTNER_CREATE_USERS": "0",
    "SWITCHBOARD_OIDC_PARTNER_LINK_BY_EMAIL": "1",
}


def test_providers_are_read_in_order_with_their_settings():
    corp, partner = providers_from_env(CORP)
    assert (corp.name, corp.label, corp.issuer) == (
        "corp",
        "Corp SSO",
        "https://login.corp.example",
    )
    assert corp.allowed_domains == ("corp.example", "corp.org")
    assert corp.domain_allowed("a@CORP.example") and not corp.domain_allowed("a@evil.example")
    assert corp.group_map == {
        "sb-admins": (GroupGrant(admin=True),),
        "CN=eng,OU=groups": (GroupGrant(org_slug="acme"),),
        "eng-leads": (GroupGrant(org_slug="acme", org_admin=True),),
    }
    assert corp.create_users and not corp.link_by_email and corp.groups_claim == "groups"
    assert (partner.label, partner.create_users, partner.link_by_email) == ("Partner", False, True)
    assert "s3cret" not in repr(corp)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SWITCHBOARD_OIDC_CORP_CLIENT_SECRET": ""}, "CLIENT_SECRET is not set"),
        ({"SWITCHBOARD_OIDC_CORP_ISSUER": "http://login.corp.example"}, "must use https"),
        ({"SWITCHBOARD_OIDC_CORP_ISSUER": "login.corp.example"}, "issuer's https URL"),
        ({"SWITCHBOARD_OIDC_CORP_GROUP_MAP": "eng=Not A Slug"}, "is not admin, ORG-SLUG"),
        ({"SWITCHBOARD_OIDC_CORP_GROUP_MAP": "just-a-group"}, "is not GROUP=admin"),
        ({"SWITCHBOARD_OIDC_PROVIDERS": "corp,corp"}, "twice"),
        ({"SWITCHBOARD_OIDC_PROVIDERS": "corp!"}, "is not a name"),
    ],
)
def test_mistakes_name_the_variable(change, message):
    with pytest.raises(SsoConfigError, match=message):
        providers_from_env({**CORP, **change})


def test_password_sign_in_off_needs_a_provider(tmp_path, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_PASSWORD_SIGN_IN", "0")
    monkeypatch.delenv("SWITCHBOARD_OIDC_PROVIDERS", raising=False)
    with pytest.raises(ConfigError, match="needs at least one OpenID provider"):
        load_config(tmp_path, {"SECRET_KEY": "x" * 32, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    for name, value in CORP.items():
        monkeypatch.setenv(name, value)
    config = load_config(tmp_path, {"SECRET_KEY": "x" * 32, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert config["PASSWORD_SIGN_IN"] is False and len(config["OIDC_PROVIDERS"]) == 2
