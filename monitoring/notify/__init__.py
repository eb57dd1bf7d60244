"""Notifications (Django-free): state-change events in, grouped messages out to e-mail, a
webhook and a notify program, delivered on threads of their own so that no check ever waits."""
