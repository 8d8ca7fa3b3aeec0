"""Settings for odr, read from the environment (django-environ).

The embedded default (no variables set) is SQLite, the in-process channel layer and a
filesystem Celery broker, so `make run` needs neither PostgreSQL nor Redis. Production sets
DATABASE_URL and REDIS_URL.
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("ODR_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost", "testserver"]),
)

SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-change-me-odr-quang-ninh")
DEBUG = env("DEBUG")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=["http://127.0.0.1:8000", "http://localhost:8000"]
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "rules.apps.AutodiscoverRulesConfig",
    "django_fsm",
    "partners",
    "cases",
    "escrow",
    "mediators",
    "mediation",
    "notifications",
    "stats",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "odr.urls"
WSGI_APPLICATION = "odr.wsgi.application"
ASGI_APPLICATION = "odr.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'odr.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE: concurrent writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # Under ASGI a persistent connection leaks (shared/STYLE.md); WSGI workers may raise it.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The hot statements are prepared once per PostgreSQL session where a session lasts (odr/joined.py):
# off behind a proxy that pools transactions (PgBouncer in transaction mode), whose sessions
# a client does not keep.
ODR_PREPARED_STATEMENTS = env.bool("ODR_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Redis, channels, Celery ------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1500, "expiry": 30},
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # A broker with no server: kombu's filesystem transport, so `make run` has a real worker.
    _broker_dir = VAR_DIR / "celery-broker"
    (_broker_dir / "out").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "polling_interval": 0.1,  # the filesystem broker polls; 1 s (kombu's default) lags
    }
# Case-event subscribers (chat lines, notifications, assignment): on the production path the
# events go through the outbox table and `manage.py relay_case_events` dispatches them; inline
# after commit in the embedded default.
ODR_EVENTS_ASYNC = env.bool("ODR_EVENTS_ASYNC", default=bool(REDIS_URL))
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "Asia/Ho_Chi_Minh"
# Periodic sweeps (Celery beat). Deadlines are swept from indexed due_at columns, never
# scheduled as long countdowns; the escrow outbox is swept for rows a lost enqueue left behind.
CELERY_BEAT_SCHEDULE = {
    "deadlines-sweep": {"task": "cases.deadlines_sweep", "schedule": 60.0},
    "deadline-reminders": {"task": "cases.deadline_reminders", "schedule": 300.0},
    "escrow-sweep": {"task": "escrow.sweep", "schedule": 30.0},
    "mediators-assign-pending": {"task": "mediators.assign_pending", "schedule": 300.0},
    "notifications-sweep": {"task": "notifications.sweep", "schedule": 60.0},
    "chat-digest": {"task": "mediation.chat_digest", "schedule": 120.0},
    "stats-rollup": {"task": "stats.rollup_refresh", "schedule": 60.0},
}

# --- Auth, i18n, files ------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Tiếng Việt")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: evidence downloads are permission-checked
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="odr@trungtam-odr.quangninh.gov.vn")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: a refused or missing credential is then a 401 with `WWW-Authenticate: Token`
    # (DRF answers with the first class's challenge; the session class has none, hence 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "odr.auth.RoleAwareTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "odr.api_errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "odr — Online Dispute Resolution API",
    "DESCRIPTION": "Cases, actions, evidence and partner feeds of the Quảng Ninh ODR centre.",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Dispute policy (overridable per marketplace through Partner.policy) ---------------------
ODR_POLICY = {
    "seller_response_working_days": 3,
    "buyer_response_working_days": 3,
    "return_ship_days": 7,
    "return_confirm_working_days": 3,
    "return_transit_days": 14,
    "mediator_decision_working_days": 7,
    "appeal_working_days": 5,
    "filing_window_days_after_delivery": 15,
    "not_received_grace_days": 2,
    "reminder_hours_before": 24,
    "extension_max_working_days": 3,
}
# Law 19/2023 art. 57: a business must negotiate within 7 working days: no policy may exceed it.
ODR_MAX_SELLER_RESPONSE_WORKING_DAYS = 7
ODR_EVIDENCE_MAX_BYTES = env.int("ODR_EVIDENCE_MAX_BYTES", default=20 * 1024 * 1024)
# ASGI processes (odr/asyncdb.py): threads, each with one DB connection, that run the chat's and
# the socket auth's queries off the event loop; and the GIL switch interval (seconds) that keeps
# those threads from queueing behind a busy loop.
ODR_ASYNC_DB_THREADS = env.int("ODR_ASYNC_DB_THREADS", default=4)
ODR_ASYNC_DB_CONNECT_SLOTS = env.int("ODR_ASYNC_DB_CONNECT_SLOTS", default=2)
ODR_ASGI_SWITCH_INTERVAL = env.float("ODR_ASGI_SWITCH_INTERVAL", default=0.001)
# How often a chat socket re-reads its user's membership anyway: removal from a shop and case
# changes are announced at once (chat.recheck, chat.case); this catches the rest (a deactivated
# user, a supervisor removed from the group). Writes re-check on every message.
ODR_CHAT_RECHECK_SECONDS = env.int("ODR_CHAT_RECHECK_SECONDS", default=300)
ODR_EVIDENCE_TYPES = {
    "image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf",
    "video/mp4", "video/quicktime", "video/webm",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
