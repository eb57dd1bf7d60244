"""Prometheus metrics: what the worker counts (counters, Django-free, written to small files
beside the apply state) and the scrape built from them and the database (exposition). The
/metrics endpoint's own access rule (token, allowlist) is wiring: lvsadmin/metrics.py."""
