"""CONTROL/MONITORING (home page), Apply, revisions, and the live panels."""

from django.urls import path

from monitoring.bgp import views as bgp_views
from monitoring.live import panel as live
from monitoring.live import views as runtime_views
from monitoring.notify import views as notify_views
from monitoring.peersync import views as peersync
from monitoring.publish import views
from monitoring.redundancy import views as director_views

app_name = "monitoring"
urlpatterns = [
    path("", views.control, name="control"),
    path("apply/", views.apply, name="apply"),
    path("pending.diff", views.pending_text, name="pending_text"),
    path("revisions/<int:serial>/", views.revision_detail, name="revision"),
    path("revisions/<int:serial>/restore/", views.revision_restore, name="revision_restore"),
    path("audit/", views.audit, name="audit"),
    path("notifications/", notify_views.notifications, name="notifications"),
    path("notifications/test/", notify_views.notifications_test, name="notifications_test"),
    path("director/handover/", director_views.handover, name="handover"),
    path("director/service/", bgp_views.director_service, name="director_service"),
    path("live/", live.live_panel, name="live_panel"),
    path("live/ipvsadm.txt", live.live_table_text, name="live_table_text"),
    path("runtime/", runtime_views.runtime_state, name="runtime_state"),
    path("peer/revision", peersync.peer_revision, name="peer_revision"),
]
