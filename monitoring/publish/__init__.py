"""Apply and everything it rests on: the draft <-> lvs.cf mapping (draft), published revisions,
Apply and restore (revisions), the audit trail (audit), and CONTROL/MONITORING's home page, Apply,
revision and audit views (views, forms)."""
