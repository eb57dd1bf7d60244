"""Each real server's set-up, generated from the published lvs.cf: the VIPs it must accept,
ARP suppression, the tunnel or the NAT gateway, as one start/stop/status script with its
systemd unit, and the MySQL monitoring account.

plan.py and render.py are Django-free (plain data in, text out); views.py and published.py are
the thin Django side.
"""
