"""The kernel side, Django-free: the desired IPVS table and its diff, the apply engine, and the
drivers that reach the kernel (netlink) or stand in for it (memory). Loaded only by the worker and
applylvs: the web process never imports the netlink driver."""
