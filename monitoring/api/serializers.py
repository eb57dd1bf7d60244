"""What the API shows: the draft's rows with the models' own field names (the lvs.cf keys the
forms edit), published revisions, and the documented shapes of requests and answers."""

from __future__ import annotations

from django import forms
from rest_framework import serializers

from monitoring.models import Revision
from monitoring.publish.forms import ApplyForm
from realservers.forms import RealServerForm
from realservers.models import RealServer
from virtualservers.models import GlobalSettings, MonitoringScript, Redundancy, VirtualServer


class RealServerSerializer(serializers.ModelSerializer):
    class Meta:
        model = RealServer
        fields = ["id", "name", "address", "port", "weight", "active", "position"]


class MonitoringScriptSerializer(serializers.ModelSerializer):
    class Meta:
        model = MonitoringScript
        # The MySQL password is never shown back, as in the GUI.
        exclude = ["id", "virtual_server", "mysql_password"]


class VirtualServerSerializer(serializers.ModelSerializer):
    real_servers = RealServerSerializer(many=True, read_only=True)
    monitoring_script = MonitoringScriptSerializer(read_only=True, allow_null=True)

    class Meta:
        model = VirtualServer
        exclude = ["has_address"]


class GlobalSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = GlobalSettings
        exclude = ["id"]


class RedundancySerializer(serializers.ModelSerializer):
    class Meta:
        model = Redundancy
        exclude = ["id"]


class DraftSerializer(serializers.Serializer):
    global_settings = GlobalSettingsSerializer()
    redundancy = RedundancySerializer()
    pending_diff = serializers.CharField(
        help_text="What Apply would change in lvs.cf, as a unified diff (empty: nothing)."
    )
    draft_error = serializers.CharField(
        allow_blank=True, help_text="Why the draft cannot be written to lvs.cf (empty: it can)."
    )
    virtual_servers = VirtualServerSerializer(many=True)


class RevisionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Revision
        fields = ["serial_no", "created_at", "created_by", "comment"]


class RevisionDetailSerializer(RevisionSerializer):
    lvs_cf = serializers.CharField(source="text", help_text="The published lvs.cf, as written.")

    class Meta(RevisionSerializer.Meta):
        fields = [*RevisionSerializer.Meta.fields, "lvs_cf"]


# The form fields where a JSON null means something (the GUI's blank): a real server's port
# (the virtual server's), Apply's comment (none). The API refuses null anywhere else
# (views.form_data), and the schema says so.
NULLABLE: dict[type[forms.BaseForm], frozenset[str]] = {
    RealServerForm: frozenset({"port"}),
    ApplyForm: frozenset({"comment"}),
}


# The component names of form_serializer's bodies: views.form_data refuses a key the form does
# not have, and the schema says so (monitoring/api/openapi.py).
CLOSED_BODIES: set[str] = set()


def form_serializer(form_class: type[forms.BaseForm], name: str) -> type[serializers.Serializer]:
    """A serializer that only documents a form's fields for the schema (every one optional, as
    in a PATCH); the form itself validates."""
    CLOSED_BODIES.add(name)
    fields = {}
    for field_name, field in form_class.base_fields.items():
        kind = serializers.CharField
        if isinstance(field, forms.IntegerField):
            kind = serializers.IntegerField
        elif isinstance(field, forms.BooleanField):
            kind = serializers.BooleanField
        fields[field_name] = kind(
            required=False,
            allow_null=field_name in NULLABLE.get(form_class, frozenset()),
            help_text=str(field.help_text or field.label or ""),
        )
    return type(name, (serializers.Serializer,), fields)


RealServerChangeSerializer = form_serializer(RealServerForm, "RealServerChange")
PublishRequestSerializer = form_serializer(ApplyForm, "PublishRequest")


class ActionResultSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What the GUI would have said.")
    changed = serializers.BooleanField(help_text="False: it already was so; nothing recorded.")


class RealServerActionResultSerializer(ActionResultSerializer):
    real_server = RealServerSerializer()


class VirtualServerActionResultSerializer(ActionResultSerializer):
    virtual_server = VirtualServerSerializer()


class DirectorServiceResultSerializer(ActionResultSerializer):
    out_of_service = serializers.BooleanField(
        help_text="True: this director announces nothing (BGP mode) until it is put back."
    )


class PublishResultSerializer(serializers.Serializer):
    detail = serializers.CharField()
    revision = RevisionDetailSerializer()


class TokenSerializer(serializers.Serializer):
    exists = serializers.BooleanField()
    created = serializers.DateTimeField(allow_null=True)
    key_prefix = serializers.CharField(
        allow_blank=True, help_text="The first 8 characters, to tell which key a script holds."
    )
    key = serializers.CharField(
        required=False, help_text="The whole key: only in the answer to the POST that made it."
    )


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# --- The live table (documentation of monitoring.api.live_table's plain data) -------------------------


class HealthSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["unknown", "up", "down"])
    since = serializers.DateTimeField(allow_null=True)
    last_check = serializers.DateTimeField(allow_null=True)
    latency_ms = serializers.FloatField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)


class DestinationSerializer(serializers.Serializer):
    endpoint = serializers.CharField()
    address = serializers.CharField()
    port = serializers.IntegerField()
    forward = serializers.CharField(help_text="Masq, Route or Tunnel, as ipvsadm -Ln prints it.")
    weight = serializers.IntegerField()
    active = serializers.IntegerField(help_text="Active connections.")
    inact = serializers.IntegerField(help_text="Inactive connections.")
    health = HealthSerializer(allow_null=True)


class OutOfTableSerializer(serializers.Serializer):
    endpoint = serializers.CharField()
    address = serializers.CharField()
    port = serializers.IntegerField()
    health = HealthSerializer(allow_null=True)


class ServiceSerializer(serializers.Serializer):
    service = serializers.CharField(help_text='As ipvsadm -Ln labels it: "TCP  192.0.2.240:3306".')
    scheduler = serializers.CharField()
    flags = serializers.CharField(allow_blank=True)
    virtual = serializers.CharField(allow_blank=True, help_text="The virtual server's name.")
    destinations = DestinationSerializer(many=True)
    out_of_table = OutOfTableSerializer(
        many=True, help_text="Real servers health took out of the kernel table."
    )


class WorkerSerializer(serializers.Serializer):
    running = serializers.BooleanField()
    heartbeat = serializers.DateTimeField(allow_null=True)
    pid = serializers.IntegerField(allow_null=True)
    serial_no = serializers.IntegerField(allow_null=True, help_text="The revision it enforces.")
    started_at = serializers.DateTimeField(allow_null=True)
    kernel_ok = serializers.BooleanField()
    kernel_message = serializers.CharField(allow_blank=True)


class LiveSerializer(serializers.Serializer):
    worker = WorkerSerializer()
    health_counts = serializers.DictField(child=serializers.IntegerField())
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    services = ServiceSerializer(many=True)
