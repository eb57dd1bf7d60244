"""CONTROL/MONITORING's live table and the runtime states of real servers (drain, maintenance).

holds: Django-free, what a state does to the kernel table (the desired table imports it);
states: the one place that changes a state (Django side); drainwatch: the worker's side, which
tells when a drain is done; servicerows (Django-free) and worker_table: the worker's table kept a
row a service, written as a diff and read a page at a time; panel and views: the live panel and
the buttons; tags: the template library "live" the pages load."""
