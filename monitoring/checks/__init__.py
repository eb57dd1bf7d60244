"""Health checks, Django-free: the probes (TCP, send/expect, UDP, sending program, MySQL), the
connect scanner, and nanny's per-real-server state machine (the health book)."""
