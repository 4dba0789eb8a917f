"""Encryption cost per operation, and online rotation throughput for 100 000 stored keys.

Usage: .venv/bin/python bench/crypto_bench.py [--rows 100000] [--engines sqlite,postgresql]
The last line is the figures as name=value pairs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench._support import bench_app
from webapp.extensions import db
from webapp.models import Credential, Provider, User
from webapp.models.base import utcnow
from webapp.services.credentials import crypto
from webapp.services.credentials import rotation as key_rotation
from webapp.services.credentials.storage import aad_for

SECRET = "sk-proj-" + "A1b2C3d4" * 8


def per_op_us(ring: crypto.KeyRing, n: int) -> tuple[float, float]:
    aad = aad_for(1, "user", "user:1", 1)
    tokens = []
    start = time.perf_counter()
    for _ in range(n):
        tokens.append(ring.encrypt(SECRET, aad))
    encrypt = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    for token in tokens:
        ring.decrypt(token, aad)
    decrypt = (time.perf_counter() - start) / n * 1e6
    return encrypt, decrypt


def fill(rows: int, ring: crypto.KeyRing) -> None:
    """Insert ``rows`` credentials encrypted under the old key, in chunks."""
    user = User(email="bench@example.com", password_hash="x")
    db.session.add(user)
    db.session.commit()
    provider_id = db.session.scalar(sa.select(Provider.id).where(Provider.slug == "openai"))
    owner = f"user:{user.id}"
    now = utcnow()
    for start in range(1, rows + 1, 5000):
        chunk = [
            {
                "id": i,
                "scope": "user",
                "user_id": user.id,
                "owner_key": owner,
                "provider_id": provider_id,
                "label": f"k{i}",
                "secret_hint": "AbCd",
                "secret_ciphertext": ring.encrypt(SECRET, aad_for(i, "user", owner, provider_id)),
                "last_test_status": "unknown",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, min(start + 5000, rows + 1))
        ]
        db.session.execute(Credential.__table__.insert(), chunk)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":  # explicit ids: move the sequence past them
        db.session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('credentials', 'id'), :n)"), {"n": rows}
        )
        db.session.commit()


def rotation_rows_per_second(engine: str, rows: int) -> float:
    old, new = crypto.generate_entry("v1"), crypto.generate_entry("v2")
    with bench_app(engine, ENCRYPTION_KEYRING=crypto.parse_keys(old)) as app:
        fill(rows, app.extensions[crypto.EXTENSION])
        app.extensions[crypto.EXTENSION] = crypto.parse_keys(f"{new},{old}")
        start = time.perf_counter()
        report = key_rotation.rotate_all(batch_size=1000)
        elapsed = time.perf_counter() - start
        assert report.rotated == rows and not report.failed_ids, report.summary()
        app.extensions[crypto.EXTENSION] = crypto.parse_keys(new)
        check = key_rotation.check_all()
        assert check.total == rows and not check.failed
        print(f"{engine}: rotated {rows} rows in {elapsed:.2f}s ({report.summary()})")
        return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    logging.disable(logging.INFO)

    ring = crypto.parse_keys(crypto.generate_entry("v1"))
    encrypt_us, decrypt_us = per_op_us(ring, args.ops)
    print(
        f"AES-256-GCM over {args.ops} ops: encrypt {encrypt_us:.2f} µs, decrypt {decrypt_us:.2f} µs"
    )
    figures = {"encrypt_us": f"{encrypt_us:.2f}", "decrypt_us": f"{decrypt_us:.2f}"}
    for engine in args.engines.split(","):
        rate = rotation_rows_per_second(engine.strip(), args.rows)
        figures[f"rotate_{engine.strip()}_rows_per_s"] = f"{rate:.0f}"
    figures["rows"] = str(args.rows)
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
