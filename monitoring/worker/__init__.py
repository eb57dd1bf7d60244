"""The worker (replaces pulse, lvsd and nanny): the one writer of the kernel table.

Nothing is imported here: the web process reads the worker's heartbeat file
(monitoring.worker.heartbeat) and must not load the worker's loop with it."""
