import logging
from contextlib import contextmanager, nullcontext
from logging.config import fileConfig

from sqlalchemy import event

from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
# Keep the application's loggers working when migrations run inside the app (tests, CLI).
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def get_engine():
    return current_app.extensions["migrate"].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")
    except AttributeError:
        return str(get_engine().url).replace("%", "%%")


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = current_app.extensions["migrate"].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def render_item(type_, obj, autogen_context):
    """Render our UTC-aware column type as the plain DateTime it stores."""
    from webapp.models.base import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def get_metadata():
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


def include_object(obj, name, type_, reflected, compare_to):
    """Autogenerate compares only what Switchboard owns: a table found in the database but
    not in our models belongs to someone else (another app, an operator's reporting table),
    and a generated migration must never drop it. An index the models make only on another
    database (``ddl_if``) is not proposed here either."""
    from webapp.models.base import made_on

    if type_ == "index" and not reflected and not made_on(obj, context.get_context().dialect.name):
        return False
    return not (type_ == "table" and reflected and compare_to is None)


@contextmanager
def real_sqlite_transactions(connection):
    """Make pysqlite run each migration in one real transaction.

    Python's sqlite3 (before 3.12's ``autocommit``) begins a transaction only before
    INSERT/UPDATE/DELETE, so DDL runs in autocommit and a migration that fails half-way
    leaves half its changes behind. Here SQLite's own BEGIN is emitted instead (SQLAlchemy's
    recipe for transactional DDL on SQLite), for this one connection only, and sqlite3's
    default is restored before the connection goes back to the application's pool.
    """
    driver = connection.connection.driver_connection

    def begin(conn):
        conn.exec_driver_sql("BEGIN")

    driver.isolation_level = None
    event.listen(connection, "begin", begin)
    try:
        yield
    finally:
        event.remove(connection, "begin", begin)
        if connection.in_transaction():
            connection.rollback()
        driver.isolation_level = ""


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=get_metadata(),
        literal_binds=True,
        render_item=render_item,
        include_object=include_object,
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = current_app.extensions["migrate"].configure_args
    conf_args.setdefault("render_item", render_item)
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    conf_args.setdefault("include_object", include_object)
    # Each migration commits alone: a failing one rolls back entirely (DDL included, on
    # PostgreSQL and, with real_sqlite_transactions, on SQLite) and can simply be run again.
    conf_args.setdefault("transactional_ddl", True)
    conf_args.setdefault("transaction_per_migration", True)

    with connectable.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds SQLite tables; enforced foreign keys would cascade deletes
            # while a referenced table is copied and dropped. (Not changeable in a transaction.)
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        transactions = real_sqlite_transactions(connection) if sqlite else nullcontext()
        try:
            with transactions:
                context.configure(
                    connection=connection, target_metadata=get_metadata(), **conf_args
                )
                with context.begin_transaction():
                    context.run_migrations()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
