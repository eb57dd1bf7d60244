"""lvsadmin settings: one module, driven by LVSADMIN_* environment variables.

Defaults suit development from a checkout (SQLite and the lvs.cf under ./var). The README's
production section lists every variable; deploy/lvsadmin.env is a sample.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(f"LVSADMIN_{name}", default)


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


def env_bool(name: str, default: bool = False) -> bool:
    """A yes/no variable. An unknown value stops start-up: `LVSADMIN_HTTPS=y` must not quietly
    read as false and turn HTTPS mode off."""
    value = env(name, "1" if default else "0").strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"LVSADMIN_{name}={env(name)!r} is not a yes/no value: use one of "
        f"{', '.join(TRUE_WORDS)} (yes) or {', '.join(w for w in FALSE_WORDS if w)} (no)"
    )


def env_list(name: str, default: str = "") -> list[str]:
    return [
        item.strip() for item in env(name, default).replace(";", ",").split(",") if item.strip()
    ]


# Runtime state (SQLite database, secret key, default lvs.cf, the worker's state) lives here.
STATE_DIR = Path(env("STATE_DIR", str(BASE_DIR / "var")))

# The database holds the MySQL checks' passwords and the sessions: nothing this process creates
# (the SQLite file and its -wal/-shm, the state directory, lvs.cf) may be readable by other users
# or writable by the group, whatever umask the shell or the unit that started it had.
os.umask(os.umask(0o027) | 0o027)


def _secret_key() -> str:
    """Take the key from the environment, else from a file made once with mode 0600.

    There is deliberately no built-in default key: a shared default would let anyone forge
    sessions on every installation.
    """
    if env("SECRET_KEY"):
        return env("SECRET_KEY")
    path = Path(env("SECRET_KEY_FILE", str(STATE_DIR / "secret_key")))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)


def _interface_addresses() -> set[str]:
    """Every local address of this host's interfaces, from /proc (none where it is missing)."""
    from virtualservers.interfaces import local_ipv4_addresses, local_ipv6_addresses

    return local_ipv4_addresses() | local_ipv6_addresses()


def _own_names() -> list[str]:
    """The director's own names and addresses, read once at start: the Host header must be one
    of them, so that a DNS-rebinding page (evil.example resolving to the director) that an admin
    opens from an allowed network cannot reach the GUI. Addresses added later (a VIP, a floating
    address) need a restart or LVSADMIN_ALLOWED_HOSTS."""
    import socket

    names = {"localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        try:
            names.update(str(info[4][0]) for info in socket.getaddrinfo(name, None))
        except OSError:
            pass
    names |= _interface_addresses()
    # Django compares the Host header's host part: an IPv6 address arrives in brackets.
    return sorted(
        f"[{n.split('%')[0]}]" if ":" in n else n.lower() for n in names if n and n != "None"
    )


ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or _own_names()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "lvsadmin",
    "crispy_forms",
    "crispy_bootstrap5",
    "virtualservers",
    "realservers",
    "monitoring",
]

MIDDLEWARE = [
    # First of all: a client outside the allowlist sees a plain 403 and nothing else runs.
    "lvsadmin.middleware.ClientIPAllowlistMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the browser's Accept-Language (English or Spanish), then, once the user is
    # known, the one they pinned on the Password page (lvsadmin.language, after authentication).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "lvsadmin.language.UserLanguageMiddleware",
    # Every view needs a login, on every method (CVE-2013-6492 was auth limited to GET).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "monitoring.publish.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "lvsadmin.middleware.NoStoreForUsersMiddleware",
    # Login attempts one at a time (the lockout check, the password check and the count of one
    # attempt form one step), then axes turns a locked-out attempt into the lockout page.
    "lvsadmin.auth.LoginSerializerMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lvsadmin.urls"

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
            # Each feature keeps its template tags in its own package, not in a templatetags/
            # folder apart from it.
            "libraries": {
                "live": "monitoring.live.tags",
                "loadweights": "monitoring.loadweights.tags",
                "peersync": "monitoring.peersync.tags",
            },
        },
    },
]

WSGI_APPLICATION = "lvsadmin.wsgi.application"


_TEST_DB_DIR = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())


def _database() -> dict[str, object]:
    """SQLite by default; MySQL/MariaDB (through PyMySQL) when LVSADMIN_DB_ENGINE=mysql.

    LVSADMIN_DB_HOST may be a unix socket's path (it starts with "/")."""
    if env("DB_ENGINE", "sqlite") == "mysql":
        import pymysql

        pymysql.install_as_MySQLdb()
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": env("DB_NAME", "lvsadmin"),
            "USER": env("DB_USER", "lvsadmin"),
            "PASSWORD": env("DB_PASSWORD"),
            "HOST": env("DB_HOST", "127.0.0.1"),
            "PORT": env("DB_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
            # The test database as the README creates the real one: utf8mb4 whatever the
            # server's default character set is (latin1 on a stock MariaDB).
            "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("DB_PATH", str(STATE_DIR / "lvsadmin.sqlite3")),
        # The worker writes health while gunicorn reads: wait for the lock instead of failing.
        # WAL: readers never wait for the writer. IMMEDIATE: a write transaction takes the write
        # lock at BEGIN; a deferred one that read first and then wrote got "database is locked" at
        # once when another connection had written in between (SQLite cannot upgrade it), which
        # killed the worker. With the lock taken up front, writers queue for up to `timeout` s.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
        # Tests run on a file as production does (on tmpfs, so it stays fast): Django's default
        # in-memory test database uses SQLite's shared cache, whose table locks fail at once
        # ("database table is locked") instead of waiting, so the worker's threads and the
        # test's own queries would not meet the locking they meet in production.
        "TEST": {"NAME": str(_TEST_DB_DIR / f"lvsadmin-test-{os.getpid()}.sqlite3")},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "monitoring:control"
LOGOUT_REDIRECT_URL = "login"

# English by default (and for a browser that asks for neither); Spanish for a browser that asks
# for it or a user who pinned it. The catalogue is locale/es/LC_MESSAGES/django.po, compiled by
# `make run` and `make test` (manage.py compilemessages; the .mo files are not in git).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates in each language's order (lvsadmin/formats/<language>/formats.py); numbers as Django's
# own locale formats write them.
FORMAT_MODULE_PATH = ["lvsadmin.formats"]
# Text written with no request behind it (notification messages): this language.
LVSADMIN_LANGUAGE = env("LANGUAGE", "en")
if LVSADMIN_LANGUAGE not in dict(LANGUAGES):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"LVSADMIN_LANGUAGE={LVSADMIN_LANGUAGE!r} is not one of {', '.join(dict(LANGUAGES))}"
    )
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(STATE_DIR / "staticfiles")))

# gunicorn serves /static/ itself (no separate web server needed on a director).
LVSADMIN_SERVE_STATIC = env_bool("SERVE_STATIC", True)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security -----------------------------------------------------------------------------------
# Networks allowed to reach any page (comma-separated CIDRs). Default: loopback only.
LVSADMIN_ALLOWED_NETWORKS = env_list("ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
# Reverse proxies whose X-Forwarded-For is believed. Default: none, so the header is ignored.
LVSADMIN_TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
# Failed logins for one account, or from one client address, before logins for it are refused,
# and for how long after the last failure (seconds). django-axes reads them through lvsadmin.auth.
LVSADMIN_LOGIN_MAX_FAILURES = int(env("LOGIN_MAX_FAILURES", "5"))
LVSADMIN_LOGIN_LOCKOUT_SECONDS = int(env("LOGIN_LOCKOUT_SECONDS", "900"))

# axes first: a locked-out account or address is refused before any password is hashed, on
# every path that authenticates (the login page and /admin/login/ alike).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = "lvsadmin.auth.failure_limit"
AXES_COOLOFF_TIME = "lvsadmin.auth.lockout_time"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own, not the pair
AXES_CLIENT_IP_CALLABLE = "lvsadmin.auth.client_ip"
AXES_LOCKOUT_CALLABLE = "lvsadmin.auth.lockout_response"
AXES_RESET_ON_SUCCESS = True
# A refused attempt while locked out neither hashes a password nor extends the lock.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False

# Only files from our own origin: no inline script or style, no framing, no form posted elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        # Bootstrap's CSS draws checkboxes, switches and select arrows as data: SVG images.
        "img-src": ["'self'", "data:"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
    }
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
# Behind HTTPS (directly or through a trusted proxy) cookies are marked Secure.
_HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
if _HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SESSION_COOKIE_AGE = int(env("SESSION_COOKIE_AGE", str(8 * 3600)))
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- lvs.cf and the worker ----------------------------------------------------------------------
# Where Apply publishes lvs.cf. Production: /etc/sysconfig/ha/lvs.cf.
LVSADMIN_LVS_CF = Path(env("LVS_CF", str(STATE_DIR / "lvs.cf")))
# What applylvs and the worker remember between runs (services and VIPs they own).
LVSADMIN_APPLY_STATE = Path(env("APPLY_STATE", str(STATE_DIR / "apply-state.json")))
# "netlink" (the real kernel, through pyroute2) or "memory" (an in-process table, for tests).
LVSADMIN_IPVS_DRIVER = env("IPVS_DRIVER", "netlink")
# How often the worker reads the whole kernel table and repairs drift (someone's ipvsadm -C, a
# reboot, an entry deleted by hand). Health changes never wait for it: they are applied at once.
LVSADMIN_DRIFT_REPAIR_SECONDS = float(env("DRIFT_REPAIR_SECONDS", "5"))
# The ARP guard (monitoring/arpguard): the worker asks who answers ARP for each VIP every 30 s,
# only while it drives the real kernel (the netlink driver, opened), never with the memory one.
LVSADMIN_ARP_GUARD = env_bool("ARP_GUARD", True)


def env_paths(name: str, default: str = "") -> list[str]:
    return [item for item in env(name, default).split(":") if item.strip()]


# Sending programs run only from these directories (colon-separated; root-owned, writable by
# nobody else), as LVSADMIN_CHECK_USER, or as root for the directories in CHECK_ROOT_DIRS. Set
# by root in the environment file: never from the GUI. See "Check programs" in the README.
LVSADMIN_CHECK_PROGRAM_DIRS = env_paths(
    "CHECK_PROGRAM_DIRS", "/usr/lib/lvsadmin/checks:/etc/lvsadmin/checks"
)
LVSADMIN_CHECK_USER = env("CHECK_USER", "nobody")
LVSADMIN_CHECK_ROOT_DIRS = env_paths("CHECK_ROOT_DIRS", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}

# --- checks: fall/rise, HTTP/HTTPS/TLS checks, slow start ---
# Seconds between the doublings of a real server's weight as it enters the table (nanny: ~20).
LVSADMIN_SLOW_START_STEP_SECONDS = float(env("SLOW_START_STEP_SECONDS", "20"))
# load_monitor = uptime: the ssh_config file (User, IdentityFile, UserKnownHostsFile) the check
# user's ssh reads; the command line adds BatchMode, StrictHostKeyChecking and a timeout.
LVSADMIN_UPTIME_SSH_CONFIG = env("UPTIME_SSH_CONFIG", "/etc/lvsadmin/uptime-ssh.conf")

# --- notify: notifications (e-mail, webhook, notify program) -----------------------------------
# Django's e-mail settings from the environment (LVSADMIN_EMAIL_HOST...). The recipients, the
# webhook and the program are set on the notifications page, not here.
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
# An SMTP server that never answers must not hold the e-mail channel for ever.
EMAIL_TIMEOUT = float(env("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = env("EMAIL_FROM", "lvsadmin@localhost")
# The director's name in messages and the program's DIRECTOR events (default: the host name).
LVSADMIN_DIRECTOR_NAME = env("DIRECTOR_NAME", "")
# The webhook's first retry waits this long, each next one twice as long.
LVSADMIN_NOTIFY_RETRY_BACKOFF = float(env("NOTIFY_RETRY_BACKOFF", "1"))

# --- metrics: Prometheus /metrics (lvsadmin/metrics.py) -----------------------------------------
# /metrics is off (404) until one of these is set; when both are, a scrape must pass both. The
# login cookie never opens it. The token is sent as "Authorization: Bearer <token>"; prefer the
# file (owned by root, 0640 root:lvsadmin) to keep the token out of the environment.
LVSADMIN_METRICS_TOKEN = env("METRICS_TOKEN", "")
LVSADMIN_METRICS_TOKEN_FILE = env("METRICS_TOKEN_FILE", "")
LVSADMIN_METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "")

# --- api: the JSON API (Django REST framework, OpenAPI schema by drf-spectacular) ---------------
INSTALLED_APPS += [
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI's files, vendored: the schema browser loads nothing from a CDN.
    "drf_spectacular_sidecar",
]
# A token opens the API (only the API) to the login gate; an API request without one gets 401.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.LoginRequiredMiddleware"),
    "monitoring.api.auth.ApiTokenMiddleware",
)
REST_FRAMEWORK = {
    # Token first: a script's token decides even if a session cookie came along. A session
    # (a logged-in browser reading the API or its schema) must pass CSRF for any change.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["monitoring.api.auth.RoleRequired"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only, its size and nesting bounded (monitoring/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["monitoring.api.parsers.BoundedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Schema paths as the URLs spell them ({pk}, not {id}).
    "SCHEMA_COERCE_PATH_PK": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "lvsadmin API",
    "DESCRIPTION": "Read the draft, the published revisions and the live table; (de)activate "
    "servers, change real servers and publish, with the GUI's roles, validation and audit trail.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is behind the same gates as the API (allowlist, then a token or a session).
    "SERVE_PERMISSIONS": ["monitoring.api.auth.RoleRequired"],
    "SCHEMA_PATH_PREFIX": "/api/",
    # The schema browser (/api/schema/browse/): Swagger UI from our static files, and no
    # validator badge (it fetches an image from validator.swagger.io, outside this network and
    # refused by the CSP).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # monitoring.api.urls.IdConverter: a row's id, within the database's 64-bit integers.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "monitoring.api.openapi.closed_request_bodies",
    ],
}

# --- peersync: the standby follows the active director's published revisions ------------------
# The secret both directors share (root:lvsadmin, mode 0640; see "Configuration sync between
# directors" in the README). Never the GUI password.
LVSADMIN_PEER_SECRET_FILE = Path(env("PEER_SECRET_FILE", "/etc/lvsadmin/peer-secret"))
# The peer's GUI (default: http://<the role file's peer>:3636).
LVSADMIN_PEER_URL = env("PEER_URL", "")
# Who may ask /peer/revision (after the GUI allowlist): default, the GUI allowlist itself.
LVSADMIN_PEER_ALLOWED_NETWORKS = env_list("PEER_ALLOWED_NETWORKS") or LVSADMIN_ALLOWED_NETWORKS
LVSADMIN_PEER_POLL_SECONDS = float(env("PEER_POLL_SECONDS", "0.5"))
# Directors active at once (BGP) have no VRRP role to say which one is edited: set this on every
# director but the one where the configuration is edited; it then follows LVSADMIN_PEER_URL's
# published revisions as a standby does, and its GUI is read-only for the configuration.
LVSADMIN_FOLLOW_PEER = env_bool("FOLLOW_PEER", False)
# On the standby: configuration views refuse changes, templates hide their buttons, a banner
# says where to edit.
MIDDLEWARE += ["monitoring.peersync.standby.StandbyReadOnlyMiddleware"]
TEMPLATES[0]["OPTIONS"]["context_processors"].append(  # type: ignore[index]
    "monitoring.peersync.standby.standby_context"
)

# --- vrrp: two directors (keepalived owns the VIPs when backup_active = 1) ---
# The role file is the contract other parts read (monitoring/redundancy/role.py); keepalived's
# notify program writes it. keepalived runs with -f KEEPALIVED_CONF -p KEEPALIVED_PID (make run
# and the systemd unit do that); the worker writes the configuration and SIGHUPs that pid.
LVSADMIN_ROLE_FILE = Path(env("ROLE_FILE", str(STATE_DIR / "director-role.json")))
LVSADMIN_KEEPALIVED = env("KEEPALIVED", "keepalived")
LVSADMIN_KEEPALIVED_CONF = Path(env("KEEPALIVED_CONF", str(STATE_DIR / "keepalived.conf")))
LVSADMIN_KEEPALIVED_PID = Path(env("KEEPALIVED_PID", str(STATE_DIR / "keepalived.pid")))
LVSADMIN_VRRP_YIELD_FILE = Path(env("VRRP_YIELD_FILE", str(STATE_DIR / "vrrp-yield")))
# 1 while keepalived must hold this director in FAULT because its worker has not loaded the
# IPVS table yet (set by `manage.py vrrp --exec-keepalived`, cleared by the worker).
LVSADMIN_WORKER_READY_FILE = Path(env("WORKER_READY_FILE", str(STATE_DIR / "worker-ready")))
LVSADMIN_REDUNDANCY_STATUS = Path(
    env("REDUNDANCY_STATUS", str(STATE_DIR / "redundancy-status.json"))
)

# --- bgp: directors active at once (bgp = 1 in lvs.cf) ---
# The worker writes BIRD's configuration and runs BIRD with a control socket and pid file of its
# own (never the system BIRD's /run/bird/bird.ctl), so a BIRD the host runs for other purposes
# is left alone.
LVSADMIN_BIRD = env("BIRD", "bird")
LVSADMIN_BIRDC = env("BIRDC", "birdc")
LVSADMIN_BIRD_CONF = Path(env("BIRD_CONF", str(STATE_DIR / "bird.conf")))
LVSADMIN_BIRD_SOCKET = Path(env("BIRD_SOCKET", str(STATE_DIR / "bird.ctl")))
LVSADMIN_BIRD_PID = Path(env("BIRD_PID", str(STATE_DIR / "bird.pid")))
# Set by "Take this director out of service" (the web process), read by the worker: while it
# says 1, this director announces nothing.
LVSADMIN_BGP_OUT_OF_SERVICE_FILE = Path(
    env("BGP_OUT_OF_SERVICE_FILE", str(STATE_DIR / "bgp-out-of-service"))
)
# With the sync daemon on: a connection that carries traffic is sent to the standby again every
# this many seconds (net.ipv4.vs.sync_refresh_period, sync_threshold "3 0", sync_retries 1), so a
# standby that started after it was opened learns it too; 0 leaves the kernel's sysctls alone
# (each connection sent once, at its third packet).
LVSADMIN_SYNC_REFRESH_SECONDS = int(env("SYNC_REFRESH_SECONDS", "10"))
# Both directors must use the same router id (1-255, unique on the segment) and secret.
LVSADMIN_VRRP_ROUTER_ID = int(env("VRRP_ROUTER_ID", "51"))
LVSADMIN_VRRP_SECRET = env("VRRP_SECRET", "")
