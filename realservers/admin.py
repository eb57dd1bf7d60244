"""Django admin for real servers: bulk (de)activate, a bulk weight change, and the real servers
shown inline on their virtual server's page."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.forms.models import BaseInlineFormSet
from django.shortcuts import render
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from realservers.models import RealServer
from virtualservers import admin as virtual_admin
from virtualservers.admin import activate, deactivate
from virtualservers.models import VirtualServer


class WeightForm(forms.Form):
    weight = forms.IntegerField(label=_("Weight"), min_value=0, max_value=65535)


@admin.action(description=_("Set weight of selected"), permissions=["change"])
def set_weight(modeladmin, request, queryset):
    if "apply" in request.POST:
        form = WeightForm(request.POST)
        if form.is_valid():
            count = virtual_admin.set_in_bulk(
                modeladmin, queryset, "weight", form.cleaned_data["weight"]
            )
            modeladmin.message_user(
                request,
                gettext("Weight set to %(weight)s on %(count)s real servers.")
                % {"weight": form.cleaned_data["weight"], "count": count},
                messages.SUCCESS,
            )
            return None
    else:
        form = WeightForm()
    return render(
        request,
        "admin/realservers/set_weight.html",
        {
            "form": form,
            "servers": queryset,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
            "title": "Set weight",
        },
    )


@admin.register(RealServer)
class RealServerAdmin(virtual_admin.ToggleAdmin):
    list_display = ("name", "virtual_server", "address", "port", "weight", "active")
    # No filter by virtual server: its choices loaded every virtual server, twice a request, on
    # every list and every bulk action (half of a 10,000-row deactivation); the search finds
    # a virtual server's real servers by its name.
    list_filter = ("active",)
    search_fields = ("name", "address", "virtual_server__name")
    list_select_related = ("virtual_server",)
    bulk_label_fields = ("virtual_server__name", "name")
    actions = [activate, deactivate, set_weight]


class LabelledInlineFormSet(BaseInlineFormSet):
    """Django's tabular inline puts each field in a table cell under a column head, with no
    <label>: a screen reader announced "edit text" with no name (axe's `label`, critical). Each
    input is named by its column's label (the Delete box too, which the formset adds)."""

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        for field in form.fields.values():
            if not field.widget.is_hidden:
                field.widget.attrs.setdefault("aria-label", capfirst(field.label))


class RealServerInline(admin.TabularInline):
    model = RealServer
    formset = LabelledInlineFormSet
    extra = 0
    fields = ("name", "address", "port", "weight", "active", "position")


# The virtual server's page lists its real servers; virtualservers cannot add the inline itself
# without importing this app, so this app extends that admin and registers it again.
admin.site.unregister(VirtualServer)


@admin.register(VirtualServer)
class VirtualServerAdmin(virtual_admin.VirtualServerAdmin):
    search_fields = (*virtual_admin.VirtualServerAdmin.search_fields, "real_servers__address")
    inlines = [RealServerInline, *virtual_admin.VirtualServerAdmin.inlines]
