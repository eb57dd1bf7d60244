"""Weights that follow load: Piranha's load_monitor working again (README, "Weights that follow
load"). Django-free core: formula (nanny's arithmetic), agent (HAProxy's agent-check protocol),
database (MySQL/MariaDB figures to a load), uptime (ssh's `uptime`), book (the state of every
real server's load weight), readers (the worker's scheduled reads); conf is the Django side."""
