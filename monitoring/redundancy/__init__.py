"""Two directors: this director's role (active, standby, fault, single) and keepalived's VRRP
configuration, generated from the lvs.cf settings.

Django-free, like the other cores: plain data in, plain data out, so the worker, the web process,
the notify program run by keepalived, and the tests all use the same code.
"""
