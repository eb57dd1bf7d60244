"""The exit codes of the commands that read an lvs.cf (`applylvs`, `importlvscf`): one table, so
a script or cron job tells a bad file from a busy worker the same way whichever command it ran.
The README ("The worker and applylvs") shows it."""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_BAD_FILE = 3  # the file is bad, unreadable, or holds a value the GUI refuses (line named)
EXIT_NO_KERNEL = 4  # applylvs: no IPVS in this kernel, or not root
EXIT_REFUSED = 5  # applylvs: the kernel refused an operation (named)
EXIT_BUSY = 6  # applylvs: another apply holds the lock, the worker did not answer, or --config
# names another file while a worker enforces the published one
EXIT_NO_WORKER = 7  # applylvs --watchdog: no worker is running (cron mails the line)
