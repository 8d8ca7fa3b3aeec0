"""Where the benchmark runs: PostgreSQL and Redis only (the targets are for them), its own
database (`odr_bench`), Redis db 7 and var dir, unless DATABASE_URL/REDIS_URL say otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlparse

DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/odr_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/7",
    "ODR_VAR_DIR": "/tmp/bench-var",
}


class Refused(SystemExit):
    pass


def configure(reset_db: bool = False) -> dict:
    """Set the harness's own environment and return the one servers inherit."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    url = urlparse(os.environ["DATABASE_URL"])
    if not url.scheme.startswith("postgres"):
        raise Refused(
            f"bench: refusing DATABASE_URL={os.environ['DATABASE_URL']!r}: the targets are for "
            "PostgreSQL (row locks, concurrent writers). Set DATABASE_URL=postgres://… or unset it "
            f"to use {DEFAULTS['DATABASE_URL']}.")
    if not os.environ["REDIS_URL"].startswith("redis"):
        raise Refused("bench: REDIS_URL must be a redis:// URL (channel layer, Celery broker)")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.makedirs(os.environ["ODR_VAR_DIR"], exist_ok=True)
    _ensure_database(url, reset=reset_db)
    _flush_bench_redis(os.environ["REDIS_URL"])
    env = dict(os.environ)
    env.pop("CONN_MAX_AGE", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _flush_bench_redis(url: str) -> None:
    """Start from an empty bench Redis db (channel layer, presence, Celery tasks nobody consumes
    in the HTTP figures) — only the bench's own db, never one that was passed in."""
    if url != DEFAULTS["REDIS_URL"]:
        return
    import redis

    redis.Redis.from_url(url).flushdb()


def _ensure_database(url, reset: bool = False) -> None:
    name = url.path.lstrip("/")
    args = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432),
            "-U", url.username or "postgres"]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    if reset:
        if not name.startswith("odr_bench"):
            raise Refused(f"bench: --reset-db drops only a database named odr_bench*, not {name!r}")
        subprocess.run(["dropdb", *args, "--if-exists", "--force", name], env=env, check=True)
    probe = subprocess.run(["psql", *args, "-d", name, "-tAc", "select 1"], env=env,
                           capture_output=True, text=True)
    if probe.returncode == 0:
        return
    made = subprocess.run(["createdb", *args, name], env=env, capture_output=True, text=True)
    if made.returncode != 0 and "already exists" not in made.stderr:
        print(f"bench: cannot create database {name}: {made.stderr.strip()}", file=sys.stderr)
        raise SystemExit(2)


def setup_django(migrate: bool = True) -> None:
    import django
    from django.core.management import call_command

    django.setup()
    if migrate:
        try:
            call_command("migrate", "--noinput", verbosity=0)
        except Exception as exc:
            raise Refused(
                f"bench: migrating the bench database failed ({type(exc).__name__}: {exc}).\n"
                "If migrations were renamed or squashed since the last run, start over with "
                "`python -m bench.run --reset-db …` (drops odr_bench; the 1,000,000 statistics "
                "cases are generated again, ~2 min).") from exc
