"""GLOBAL SETTINGS, REDUNDANCY and VIRTUAL SERVERS (with MONITORING SCRIPTS)."""

from django.urls import path

from virtualservers import views

app_name = "virtualservers"
urlpatterns = [
    path("global/", views.global_settings, name="global_settings"),
    path("redundancy/", views.redundancy, name="redundancy"),
    path("redundancy/enable/", views.redundancy_enable, name="redundancy_enable"),
    path("redundancy/disable/", views.redundancy_disable, name="redundancy_disable"),
    path("redundancy/reset/", views.redundancy_reset, name="redundancy_reset"),
    path("redundancy/bgp/enable/", views.redundancy_bgp_enable, name="redundancy_bgp_enable"),
    path("redundancy/bgp/disable/", views.redundancy_bgp_disable, name="redundancy_bgp_disable"),
    path("virtual/", views.virtual_list, name="virtual_list"),
    path("virtual/add/", views.virtual_add, name="virtual_add"),
    path("virtual/<int:pk>/", views.virtual_edit, name="virtual_edit"),
    path("virtual/<int:pk>/delete/", views.virtual_delete, name="virtual_delete"),
    path("virtual/<int:pk>/toggle/", views.virtual_toggle, name="virtual_toggle"),
    path("virtual/<int:virtual_pk>/monitoring/", views.monitoring_script, name="monitoring_script"),
    path(
        "virtual/<int:virtual_pk>/monitoring/blank/<str:what>/",
        views.monitoring_blank,
        name="monitoring_blank",
    ),
]
