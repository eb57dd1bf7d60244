"""Django admin for real servers: bulk (de)activate and a bulk weight change."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.shortcuts import render

from realservers.models import RealServer
from virtualservers.admin import activate, deactivate


class WeightForm(forms.Form):
    weight = forms.IntegerField(label="Weight", min_value=0, max_value=65535)


@admin.action(description="Set weight of selected")
def set_weight(modeladmin, request, queryset):
    if "apply" in request.POST:
        form = WeightForm(request.POST)
        if form.is_valid():
            count = queryset.update(weight=form.cleaned_data["weight"])
            modeladmin.message_user(
                request,
                f"Weight set to {form.cleaned_data['weight']} on {count} real servers.",
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
class RealServerAdmin(admin.ModelAdmin):
    list_display = ("name", "virtual_server", "address", "port", "weight", "active")
    list_filter = ("active", "virtual_server")
    search_fields = ("name", "address", "virtual_server__name")
    list_select_related = ("virtual_server",)
    actions = [activate, deactivate, set_weight]
