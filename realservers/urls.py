"""REAL SERVER subtab, nested under its virtual server."""

from django.urls import path

from realservers import views
from realservers.setup import views as setup_views

app_name = "realservers"
urlpatterns = [
    path("virtual/<int:virtual_pk>/real/", views.real_list, name="real_list"),
    path("virtual/<int:virtual_pk>/real/add/", views.real_add, name="real_add"),
    path("virtual/<int:virtual_pk>/real/<int:pk>/", views.real_edit, name="real_edit"),
    path("virtual/<int:virtual_pk>/real/<int:pk>/delete/", views.real_delete, name="real_delete"),
    path("virtual/<int:virtual_pk>/real/<int:pk>/toggle/", views.real_toggle, name="real_toggle"),
    path("virtual/<int:virtual_pk>/real/setup/", setup_views.virtual_setup, name="virtual_setup"),
    path(
        "virtual/<int:virtual_pk>/real/<int:pk>/setup/", setup_views.real_setup, name="real_setup"
    ),
]
