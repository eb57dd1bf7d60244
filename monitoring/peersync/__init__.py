"""Configuration sync between two directors: the standby follows the active director's
published revisions over an HMAC-signed pull (`signing`, `follow`: Django-free), stores them as
its own published revisions (`mirror`), serves its own to the peer (`views`) and keeps its GUI
read-only for configuration while it is the standby (`standby`)."""
