"""CONTROL/MONITORING (home page), Apply, revisions, and the MONITORING SCRIPTS subtab."""

from django.urls import path

from monitoring import live, views

urlpatterns = [
    path("", views.control, name="control"),
    path("apply/", views.apply, name="apply"),
    path("revisions/<int:serial>/", views.revision_detail, name="revision"),
    path("revisions/<int:serial>/restore/", views.revision_restore, name="revision_restore"),
    path("virtual/<int:virtual_pk>/monitoring/", views.monitoring_script, name="monitoring_script"),
    path(
        "virtual/<int:virtual_pk>/monitoring/blank/<str:what>/",
        views.monitoring_blank,
        name="monitoring_blank",
    ),
    path("live/", live.live_panel, name="live_panel"),
    path("live/ipvsadm.txt", live.live_table_text, name="live_table_text"),
]
