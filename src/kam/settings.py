"""KAM's one settings module, driven by KAM_* environment variables (see README)."""

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("KAM_DATA_DIR", "var")).resolve()
FILES_DIR = DATA_DIR / "files"  # uploaded attachments: outside any web root, served by a view


def _secret_key() -> str:
    """KAM_SECRET_KEY, or a key generated once and kept in the data directory."""
    if key := os.environ.get("KAM_SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("KAM_DEBUG")
ALLOWED_HOSTS = env_list("KAM_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("KAM_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "axes",
    "django_q",
    "kam.core",
    "kam.org",
    "kam.accounts",
    "kam.engagement",
    "kam.messaging",
    "kam.sales",
    "kam.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kam.core.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kam.urls"
WSGI_APPLICATION = "kam.wsgi.application"
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
            ]
        },
    }
]

# Database: SQLite in the data directory unless KAM_DATABASE_URL names another (PostgreSQL).
DATABASE_URL = os.environ.get("KAM_DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "kam.sqlite3"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # the default, or a sqlite:/// URL
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers work while one writer writes; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on the busy timeout instead of failing mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        " PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # The test database is a file (one per test process), not Django's in-memory default, so that
    # a `kam worker` the tests start in another process works on the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"kam-test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "org.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login lockout (django-axes): per username, on the page and on the API token endpoint alike.
AXES_FAILURE_LIMIT = int(os.environ.get("KAM_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("KAM_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either locks: the account, or a guessing IP
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_LOCKOUT_CALLABLE = "kam.core.api.lockout_response"  # JSON for the API, the page otherwise
AXES_VERBOSE = False

# API bearer tokens live this long.
API_TOKEN_TTL = timedelta(hours=int(os.environ.get("KAM_API_TOKEN_HOURS", "12")))

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
TIME_ZONE = os.environ.get("KAM_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]  # kam/static belongs to no app, so the app finder misses it
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": FILES_DIR}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step
WHITENOISE_AUTOREFRESH = DEBUG

# Uploads: limits on size and type. Attachments are stored under FILES_DIR, never under static.
ATTACHMENT_MAX_BYTES = int(os.environ.get("KAM_ATTACHMENT_MAX_MB", "20")) * 1024 * 1024
ATTACHMENT_EXTENSIONS = env_list("KAM_ATTACHMENT_EXTENSIONS", "pdf,jpg,jpeg,png,doc,docx,xls,xlsx,txt,csv,zip,ofd")
IMPORT_MAX_BYTES = int(os.environ.get("KAM_IMPORT_MAX_MB", "50")) * 1024 * 1024
IMPORT_MAX_ROWS = int(os.environ.get("KAM_IMPORT_MAX_ROWS", "200000"))
IMPORT_MAX_UNPACKED_BYTES = int(os.environ.get("KAM_IMPORT_MAX_UNPACKED_MB", "400")) * 1024 * 1024  # zip bombs
IMPORT_MAX_ZIP_RATIO = int(os.environ.get("KAM_IMPORT_MAX_ZIP_RATIO", "200"))
IMPORT_REPORT_MAX_ROWS = int(os.environ.get("KAM_IMPORT_REPORT_MAX_ROWS", "1000"))  # failed rows shown on the page
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Paging
PAGE_SIZE = int(os.environ.get("KAM_PAGE_SIZE", "25"))
NINJA_PAGINATION_PER_PAGE = PAGE_SIZE
NINJA_PAGINATION_MAX_LIMIT = 200

# Security headers. Production (KAM_HTTPS=true behind TLS) turns on the HTTPS-only settings that
# `manage.py check --deploy` asks for.
HTTPS = env_bool("KAM_HTTPS")
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("KAM_SESSION_HOURS", "12")) * 3600
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KAM_LOG_LEVEL", "WARNING")},
}

# Background jobs (django-q2, `kam worker`). The queue is a table in the database (ORM broker): a
# worker leases a job for JOB_RETRY seconds and deletes it only after its result is saved, so a job
# whose worker dies runs again after the lease — at least once. Jobs make their effects exactly
# once with kam.core.jobs.run_once. A job may wait for a worker up to two timeouts after it was
# leased (one held by the pusher for room in the internal queue, one in that queue) and then runs up
# to one, hence the default lease of three timeouts and a minute; a shorter one only costs duplicate
# deliveries, which run_once turns away.
JOB_WORKER_PROCESSES = int(os.environ.get("KAM_WORKER_PROCESSES", "2"))
JOB_TIMEOUT = int(os.environ.get("KAM_JOB_TIMEOUT", "300"))
JOB_RETRY = int(os.environ.get("KAM_JOB_RETRY", str(3 * JOB_TIMEOUT + 60)))
if JOB_TIMEOUT >= JOB_RETRY:
    raise ImproperlyConfigured("KAM_JOB_TIMEOUT must be shorter than KAM_JOB_RETRY (a job would run twice at once).")
JOB_HISTORY_DAYS = int(os.environ.get("KAM_JOB_HISTORY_DAYS", "90"))  # claims and failures kept this long
Q_CLUSTER = {
    "name": "kam",  # the queue's key, and the salt that signs queued jobs
    "label": _("Background jobs"),
    "workers": JOB_WORKER_PROCESSES,
    "queue_limit": JOB_WORKER_PROCESSES,  # jobs taken from the database but not yet started (their lease runs)
    "bulk": 1,
    "timeout": JOB_TIMEOUT,
    "retry": JOB_RETRY,
    "max_attempts": 3,
    "ack_failures": True,  # a failed job is recorded (admin: failed tasks) and not retried by itself
    "catch_up": False,  # after downtime a schedule runs once, not once per missed tick
    # Successful jobs kept for the admin (failures until pruned); each result saved reads them all.
    "save_limit": int(os.environ.get("KAM_JOB_SAVE_LIMIT", "250")),
    "poll": float(os.environ.get("KAM_WORKER_POLL_SECONDS", "1")),  # how often an idle worker looks for jobs
    "orm": "default",
}
if REDIS_URL := os.environ.get("KAM_REDIS_URL", ""):
    # Scaling out: Redis carries the queue (needs the `redis` package). Its delivery is AT MOST once:
    # a job whose worker dies is lost, not run again. Schedules and results stay in the database.
    del Q_CLUSTER["orm"]
    Q_CLUSTER["redis"] = REDIS_URL

# Business thresholds (settings, not literals).
KAM = {
    "DUPLICATE_PHONE_BLOCKS": env_bool("KAM_DUPLICATE_PHONE_BLOCKS", False),
    "SEARCH_RESULT_LIMIT": int(os.environ.get("KAM_SEARCH_RESULT_LIMIT", "50")),
    # How far in the future an activity's time may be (clocks of phones differ), in minutes.
    "ACTIVITY_CLOCK_SKEW_MINUTES": int(os.environ.get("KAM_ACTIVITY_CLOCK_SKEW_MINUTES", "10")),
    # Birthday reminders come this many days ahead (ENG-3).
    "BIRTHDAY_REMINDER_DAYS": int(os.environ.get("KAM_BIRTHDAY_REMINDER_DAYS", "3")),
    # Provider rate limits the outbox keeps across all workers (MSG-3), e.g. "aliyun_sms=500/1,dingtalk=20/60"
    # (requests per seconds; 0 lifts one); a channel not named keeps its provider's documented limit.
    "MESSAGING_RATE_LIMITS": os.environ.get("KAM_MESSAGING_RATE_LIMITS", ""),
    # Holiday greetings (ENG-4) are prepared for statutory holidays starting within this many days.
    "GREETING_PREPARE_DAYS": int(os.environ.get("KAM_GREETING_PREPARE_DAYS", "14")),
    # Contract signings are reminded this many days ahead (and on the day), with the documents to bring.
    "CONTRACT_REMINDER_DAYS": int(os.environ.get("KAM_CONTRACT_REMINDER_DAYS", "3")),
    # Follow-up tasks made after an event (ENG-6) are due this many days after it ends.
    "EVENT_FOLLOW_UP_DAYS": int(os.environ.get("KAM_EVENT_FOLLOW_UP_DAYS", "3")),
    # Opportunities (PIPE-1, PIPE-2): the largest amount a deal may carry (a decimal string), the days in a
    # stage after which an open one is flagged as stuck (a stage may set its own), and how far before today
    # an open opportunity's expected close may lie.
    "MAX_DEAL_AMOUNT": os.environ.get("KAM_MAX_DEAL_AMOUNT", "10000000000"),
    "OPPORTUNITY_STUCK_DAYS": int(os.environ.get("KAM_OPPORTUNITY_STUCK_DAYS", "30")),
    "OPPORTUNITY_CLOSE_PAST_DAYS": int(os.environ.get("KAM_OPPORTUNITY_CLOSE_PAST_DAYS", "365")),
    # Cards shown per stage on the opportunity board (the rest are counted, and found in the list).
    "OPPORTUNITY_BOARD_CARDS": int(os.environ.get("KAM_OPPORTUNITY_BOARD_CARDS", "50")),
    # The funnel's default period (months back from today) and how many rows each breakdown of the result
    # review and its list of latest lost reviews show (ANA-3) [h3].
    "FUNNEL_DEFAULT_MONTHS": int(os.environ.get("KAM_FUNNEL_DEFAULT_MONTHS", "12")),
    "RESULT_REVIEW_ROWS": int(os.environ.get("KAM_RESULT_REVIEW_ROWS", "20")),
    # Monthly work plans (PIPE-4) [h4]: at most this many rows per plan, and this many activities per row.
    "WORK_PLAN_MAX_ITEMS": int(os.environ.get("KAM_WORK_PLAN_MAX_ITEMS", "50")),
    "WORK_PLAN_MAX_PLANNED": int(os.environ.get("KAM_WORK_PLAN_MAX_PLANNED", "99")),
    # The plan page offers at most this many accounts to pick from (the owner's own, by name).
    "WORK_PLAN_ACCOUNT_CHOICES": int(os.environ.get("KAM_WORK_PLAN_ACCOUNT_CHOICES", "500")),
    # Sales records (issue 3): the largest amount (CNY) one order line may carry; larger is a typing error.
    "MAX_SALES_LINE_AMOUNT": os.environ.get("KAM_MAX_SALES_LINE_AMOUNT", "1000000000"),  # a decimal string
    # The earliest date a sales line may have (older ERP exports are typing errors).
    "SALES_EARLIEST_DATE": os.environ.get("KAM_SALES_EARLIEST_DATE", "2000-01-01"),
    # The account page's sales history shows this many months.
    "SALES_HISTORY_MONTHS": int(os.environ.get("KAM_SALES_HISTORY_MONTHS", "24")),
    # Limits of one sales csv import (ERP exports are large; xlsx keeps the IMPORT_MAX_* limits).
    "SALES_IMPORT_MAX_MB": int(os.environ.get("KAM_SALES_IMPORT_MAX_MB", "300")),
    "SALES_IMPORT_MAX_ROWS": int(os.environ.get("KAM_SALES_IMPORT_MAX_ROWS", "2000000")),
    # Forecasts [h2] (PIPE-4, ANA-2): the statistical forecast looks this many months ahead (from the current
    # month), is back-tested one step ahead on this many past months, and fits on at most this many complete
    # months of each account's sales (24 or more are needed for seasonality).
    "FORECAST_MONTHS": int(os.environ.get("KAM_FORECAST_MONTHS", "6")),
    "FORECAST_BACKTEST_MONTHS": int(os.environ.get("KAM_FORECAST_BACKTEST_MONTHS", "6")),
    "FORECAST_HISTORY_MONTHS": int(os.environ.get("KAM_FORECAST_HISTORY_MONTHS", "36")),
    # The forecast page shows at most this many months at once.
    "FORECAST_PAGE_MAX_MONTHS": int(os.environ.get("KAM_FORECAST_PAGE_MAX_MONTHS", "36")),
    # Quotas (PIPE-7) [h1]: the largest monthly quota (CNY, a decimal string; larger is a typing error), and how
    # many years ahead of this one a quota may be set.
    "QUOTA_MAX_AMOUNT": os.environ.get("KAM_QUOTA_MAX_AMOUNT", "10000000000"),
    "QUOTA_YEARS_AHEAD": int(os.environ.get("KAM_QUOTA_YEARS_AHEAD", "2")),
    # Where a user's reminder robot may post: the providers' own webhook hosts only (no calls into the
    # internal network from a URL a user typed).
    "NOTIFY_ROBOT_URLS": {
        "wecom": ["https://qyapi.weixin.qq.com/cgi-bin/webhook/send"],
        "dingtalk": ["https://oapi.dingtalk.com/robot/send"],
        "feishu": [
            "https://open.feishu.cn/open-apis/bot/v2/hook/",
            "https://open.larksuite.com/open-apis/bot/v2/hook/",
        ],
    },
}
