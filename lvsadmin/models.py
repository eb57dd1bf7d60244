"""Login failures per client IP, in the database so that every gunicorn worker sees them."""

from __future__ import annotations

from django.db import models


class LoginFailure(models.Model):
    client_ip = models.GenericIPAddressField(unique=True)
    failures = models.PositiveIntegerField(default=0)
    first_failure = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "login failure"

    def __str__(self) -> str:
        return f"{self.client_ip}: {self.failures}"
