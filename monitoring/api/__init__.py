"""The JSON API for automation (Django REST framework, OpenAPI schema by drf-spectacular).

It is a thin layer over what the GUI's views call: the same forms validate, the same permissions
decide (virtualservers.tabs), the same functions change the draft (set_active) and publish
(monitoring.publish.revisions), so the audit trail cannot tell the API from the GUI except by who and
where. Mounted under /api/ (lvsadmin.urls); every URL needs a token or a session.
"""
