"""Fixtures. One database per test process (a SQLite file, or a PostgreSQL schema when
``TEST_DATABASE_URL`` is set; one per pytest-xdist worker), built by the real migrations and
seeded once. One app per process serves the tests.

Two isolation modes (the machinery is in tests/isolation.py):

- **Rolled back** (the default): the test runs inside a transaction on one connection that is
  rolled back at the end. Every session the app opens in the test's thread (the test's own
  ``db.session``, each test-client request, CLI commands) joins that connection through a
  SAVEPOINT: the services' ``db.session.commit()`` works as usual, requests see what the test
  saved, and ``db.session.rollback()`` in the test still shows what requests committed.
  Caches start empty (settings cache and catalog snapshot, SDK clients, rate-limit counters);
  config and extensions changed on ``app``, and the rate limiter, are put back afterwards.
- **Committed** (``@pytest.mark.committed``): writes really commit, on an app apart from the
  rolled-back tests' one (shared by the committed tests); afterwards every table is emptied
  and the seeded catalog copied back. Use it when the database is used from another thread
  (threads, a live HTTP server such as tests/e2e), from another connection or app on the
  same database (``db.engine.connect()``, a second ``make_app``), or from another process.
  Rolled back, another thread using the database raises, and a second connection waiting on
  the test's locks fails after a second; both errors say to mark the test committed.

``@pytest.mark.app_config(KEY=value)`` gives the test an app built with those overrides, in
either mode (built once per process: tests with the same overrides share it, each starting
from its built config). Tests of pure functions need no ``app`` at all.

Records that many tests of a module act on (a world of users, tokens, budgets…) can be built
once for the module by a module-scoped fixture on ``module_app``: each test is then rolled
back to them rather than building them again. The tests that take seconds run first
(``RUN_FIRST``), so that under pytest-xdist none is left for the end.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.globals import _cv_app
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from tests import factories, isolation
from tests.fake_oidc import _fake_oidc_server, fake_oidc  # noqa: F401
from tests.fake_upstream import FakeUpstream, _fake_upstream_server, fake_upstream  # noqa: F401

# The SDKs read these on their own; tests must never pick up a real key or endpoint.
for _name in list(os.environ):
    if _name.startswith(("OPENAI_", "ANTHROPIC_")):
        del os.environ[_name]

TEST_PASSWORD = factories.PASSWORD
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


# Tests that take seconds each (a browser, other processes, every route, many states). They
# run first: under pytest-xdist one started last keeps its worker busy while the other cores
# wait. A prefix that no longer names a test fails tests/test_scheduling.py.
RUN_FIRST = (
    "tests/e2e/",
    "tests/security/test_start_up_checks.py::test_workers_starting_together",
    "tests/api/test_fuzz.py",
    "tests/test_secrets_never_leak.py::test_no_key_in_any_get_response",
    "tests/services/usage/test_rollup_properties.py",
    "tests/security/test_no_500_for_odd_input.py::test_odd_values_in",
    "tests/test_app.py::test_starting_the_app_does_not_import",
    "tests/services/usage/test_dashboard.py::test_totals",
    "tests/services/usage/test_demo.py",
    "tests/blueprints/test_admin_page_queries.py",
    "tests/blueprints/test_bad_input.py",
    "tests/blueprints/test_authorization.py",
    "tests/security/test_start_up_checks.py",
)


def run_first_rank(nodeid: str) -> int:
    """Where a test goes in the run: the index of the first ``RUN_FIRST`` prefix it matches,
    after all of them if none."""
    return next(
        (n for n, prefix in enumerate(RUN_FIRST) if nodeid.startswith(prefix)), len(RUN_FIRST)
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests first, in ``RUN_FIRST`` order; the others keep their order."""
    items.sort(key=lambda item: run_first_rank(item.nodeid))


def _local(host: object) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return str(host).lower() in LOCAL_NAMES


@pytest.fixture(autouse=True, scope="session")
def _no_internet() -> Iterator[None]:
    """Tests never leave loopback: outbound connections and DNS lookups are refused."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and not _local(address[0]):
            raise ConnectionRefusedError(f"tests may not connect to {address[0]}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        try:  # numeric addresses in any legacy form resolve without DNS
            socket.inet_aton(str(host))
            numeric = True
        except OSError:
            numeric = ":" in str(host)
        if host is not None and not numeric and not _local(host):
            raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    yield
    socket.socket.connect = real_connect  # type: ignore[method-assign]
    socket.getaddrinfo = real_getaddrinfo


def _postgres_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private database for this process: a fresh PostgreSQL schema, or a SQLite file."""
    base = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not base:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    from webapp.config import normalize_database_url

    base = normalize_database_url(base)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"sbtest_{worker}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_url(base, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


class IsolatedClient(FlaskClient):
    """A test client whose requests get their own app context, ``g`` and session, as in
    production, although the test itself holds an app context open."""

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        isolation.settle_test_session()

        def run():  # type: ignore[no-untyped-def]
            _cv_app.set(None)  # type: ignore[arg-type]
            # Streamed bodies are read here, inside the request's own context.
            return FlaskClient.open(self, *args, buffered=True, **kwargs)

        return contextvars.copy_context().run(run)


def make_app(database_url: str, instance_path: Path, **overrides: Any) -> Flask:
    """An app for tests: fixed secrets, cheap password hashes, no seeding on start."""
    os.environ["SWITCHBOARD_INSTANCE_PATH"] = str(instance_path)
    from webapp import create_app

    config = {
        "TESTING": True,
        "SWITCHBOARD_ENV": "testing",
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SEED_ON_START": False,
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": None,
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def _migrated(database_url: str, instance_path: Path) -> None:
    """Build the schema once with the real migrations (``flask db upgrade``)."""
    from flask_migrate import upgrade

    app = make_app(database_url, instance_path)
    with app.app_context():
        upgrade()
        from webapp.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def _shared_app(database_url: str, instance_path: Path, _migrated: None) -> Iterator[Flask]:
    """The process's one app, on the migrated and seeded database, ready for rollbacks."""
    isolation.install()
    application = make_app(database_url, instance_path)
    isolation.prepare_for_rollback(application)
    isolation.seed(application)
    yield application
    isolation.dispose(application)


def _committed(application: Flask) -> Iterator[Flask]:
    """Real commits; afterwards every table emptied and the catalog seeded again."""
    try:
        with isolation.fresh_app_state(application), application.app_context():
            yield application
    finally:
        isolation.empty_all_tables(application)
        isolation.seed(application)
        isolation.dispose(application)


_built_apps: dict[tuple[bool, str], tuple[Flask, dict[str, Any]]] = {}


def _app_of_its_own(
    database_url: str, instance_path: Path, overrides: dict[str, Any], *, committed: bool
) -> Flask:
    """An app built with ``overrides``, once per process and isolation mode.

    Building one costs a tenth of a second (1 300 URL rules compiled) and its templates are
    compiled anew, so the tests with the same overrides share it, as the others share the
    process's app; each test still starts from its built config and empty caches
    (``fresh_app_state``). Building bound the one rate limiter to it: every later test gets
    that binding back, with no counters, as if it had just been built.
    """
    key = (committed, repr(sorted(overrides.items())))
    if key not in _built_apps:
        application = make_app(database_url, instance_path, **overrides)
        if not committed:
            isolation.prepare_for_rollback(application)
        _built_apps[key] = (application, isolation.limiter_binding())
    application, binding = _built_apps[key]
    isolation.restore_limiter_binding(binding)
    return application


@pytest.fixture(autouse=True)
def _process_state() -> Iterator[None]:
    """Process-wide state (rate limiter, SDK clients) put back after every test."""
    with isolation.kept_process_state():
        yield


@pytest.fixture
def app(
    request: pytest.FixtureRequest, database_url: str, instance_path: Path, _shared_app: Flask
) -> Iterator[Flask]:
    """A seeded app whose changes are rolled back after the test (or really committed under
    ``@pytest.mark.committed``). ``@pytest.mark.app_config(KEY=value)`` overrides config."""
    marker = request.node.get_closest_marker("app_config")
    overrides = dict(marker.kwargs) if marker else {}
    committed = request.node.get_closest_marker("committed") is not None
    if (committed or overrides) and isolation.in_shared_transaction():
        pytest.fail(
            "this module's shared data (module_app) holds a transaction open: a committed or "
            "app_config test would wait on it; put this test in another module"
        )
    if committed:
        yield from _committed(
            _app_of_its_own(database_url, instance_path, overrides, committed=True)
        )
        return
    application = _shared_app
    if overrides:  # its own app: some settings are only read when the app is built
        application = _app_of_its_own(database_url, instance_path, overrides, committed=False)
    with (
        isolation.fresh_app_state(application),
        isolation.rolled_back(application),
        application.app_context(),
    ):
        yield application


@pytest.fixture(scope="module")
def module_app(_shared_app: Flask) -> Iterator[Flask]:
    """The process's app with one rolled-back transaction for the whole module.

    A module-scoped fixture that takes it builds data the module's tests share once (instead
    of once per test): each test's ``app`` is then a SAVEPOINT in that transaction, rolled
    back to where the shared data left it. Every test of the module sees that data, and the
    module has no committed or ``app_config`` tests. Build it through the services as usual
    and hand the tests ids: each test's own session loads the rows. Config set while building
    holds for the whole module (each test's own changes are put back after it).
    """
    with (
        isolation.fresh_app_state(_shared_app),
        isolation.rolled_back(_shared_app),
        _shared_app.app_context(),
    ):
        yield _shared_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


def login(client: FlaskClient, email: str, password: str = TEST_PASSWORD) -> FlaskClient:
    """Sign ``client`` in through the real sign-in form."""
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 303, f"sign-in failed for {email}: {response.status_code}"
    return client


@pytest.fixture
def admin(app: Flask):  # type: ignore[no-untyped-def]
    return factories.make_user("admin@example.com", role="admin")


@pytest.fixture
def member(app: Flask):  # type: ignore[no-untyped-def]
    return factories.make_user("member@example.com")


@pytest.fixture
def admin_client(app: Flask, admin) -> FlaskClient:  # type: ignore[no-untyped-def]
    return login(app.test_client(), admin.email)


@pytest.fixture
def member_client(app: Flask, member) -> FlaskClient:  # type: ignore[no-untyped-def]
    return login(app.test_client(), member.email)


GLOBAL_OPENAI_KEY = "sk-wired-global-openai-0001"
GLOBAL_ANTHROPIC_KEY = "sk-ant-wired-global-0002"
GLOBAL_COMPAT_KEY = "sk-wired-global-compat-0003"


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:  # type: ignore[no-untyped-def]
    """Retry waits are recorded instead of slept, so retry tests take no time."""
    from webapp.services.llm import retry

    waited: list[float] = []
    monkeypatch.setattr(retry, "sleep", waited.append)
    return waited


@pytest.fixture
def wired(app, fake_upstream: FakeUpstream, sleeps):  # type: ignore[no-untyped-def]  # noqa: F811
    """Every provider points at the fake upstream (an allowed host) and has a global key."""
    from webapp.extensions import db
    from webapp.models import Provider
    from webapp.services.credentials.origins import origin_of
    from webapp.services.settings.cache import settings_cache

    for provider in db.session.scalars(sa.select(Provider)):
        anthropic = provider.protocol == "anthropic"
        provider.base_url = (
            fake_upstream.anthropic_base_url if anthropic else fake_upstream.openai_base_url
        )
        provider.env_key_origin = origin_of(provider.base_url)  # as an admin would confirm
    db.session.commit()
    # The fake upstream is on loopback: the outbound transport calls it only when allowed.
    factories.allowed_host(fake_upstream.base_url.removeprefix("http://"))
    factories.global_key("openai", GLOBAL_OPENAI_KEY)
    factories.global_key("anthropic", GLOBAL_ANTHROPIC_KEY)
    for slug in ("gemini", "github", "mistral", "xai", "deepseek", "openrouter"):
        factories.global_key(slug, GLOBAL_COMPAT_KEY)
    settings_cache().clear()
    return fake_upstream


@pytest.fixture
def live_server(app: Flask, request: pytest.FixtureRequest) -> Iterator[str]:
    """The app served over real HTTP on loopback from a thread (tests marked committed)."""
    if request.node.get_closest_marker("committed") is None:
        pytest.fail("a live server answers from other threads: mark the test committed")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
