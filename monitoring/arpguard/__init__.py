"""The ARP guard: the worker asks, every 30 s per VIP, who answers ARP for it, and warns when a
host other than this director and its peer does (a real server without ARP suppression: clients
reach it directly and bypass the director).

frames* (ARP probes built and read), guard* (what counts as a conflict, when a VIP is due, the
state kept between rounds) and packet* (the raw socket) are Django-free; watch* is the worker's
thread, which writes what it found beside the apply state for CONTROL/MONITORING and /metrics
(read back by `read_conflicts`) and hands changes to the notifications."""
