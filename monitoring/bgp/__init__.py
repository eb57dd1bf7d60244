"""Directors active at once: each director announces the VIPs it can serve by BGP, through BIRD.

A package of its own rather than more modules in redundancy/ (which is VRRP's: keepalived, the
role file, the sync daemon): BGP has no roles, and its three parts are Django-free cores used
apart: bird (BIRD's configuration and its control socket), announce (which VIPs may be
announced) and director (the worker's step that joins them). conf is the Django side.
"""
