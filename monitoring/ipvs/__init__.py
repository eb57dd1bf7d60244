"""The kernel side, Django-free: the desired IPVS table and its diff (table.py), the apply engine
(engine.py), and the drivers that reach the kernel or stand in for it. One job a module:

- base.py: the Driver protocol, its errors and the kernel address record, shared by all drivers;
- memory.py: the in-memory driver; drivers.py: get_driver, the only module that knows them all;
- kernel.py: the real kernel's driver, composed of netlink.py (generic netlink framing and
  socket), ipvs_codec.py (IPVS messages packed and parsed), ipvs_netlink.py (the IPVS family:
  apply, dump, configuration), procfs.py (the /proc/net/ip_vs dump) and addresses.py (VIPs over
  rtnetlink through pyroute2, ip_forward, gratuitous ARP).

Loaded only by the worker and applylvs: the web process never imports kernel.py nor pyroute2."""
