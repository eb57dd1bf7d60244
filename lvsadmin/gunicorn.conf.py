"""gunicorn settings for the GUI on :3636 (override with LVSADMIN_BIND / LVSADMIN_WORKERS /
LVSADMIN_WEB_TIMEOUT)."""

import os

bind = os.environ.get("LVSADMIN_BIND", "0.0.0.0:3636")
workers = int(os.environ.get("LVSADMIN_WORKERS", "2"))
# Pages are small and the allowlist rejects strangers early; a short timeout frees stuck workers.
# It also bounds a worker's start-up (Django's import): a machine that needs longer (the test VM
# under software emulation) raises it, or gunicorn kills every worker before its first request.
timeout = int(os.environ.get("LVSADMIN_WEB_TIMEOUT", "30"))
accesslog = "-"
errorlog = "-"
# Behind a TLS-terminating proxy, only that proxy may set X-Forwarded-* (see LVSADMIN_TRUSTED_PROXIES).
forwarded_allow_ips = os.environ.get("LVSADMIN_TRUSTED_PROXIES", "127.0.0.1")
