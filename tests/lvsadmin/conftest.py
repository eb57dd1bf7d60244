import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.fixture
def admin_client_() -> Client:
    """Logged in as a superuser (the admin's pages need staff)."""
    user = get_user_model().objects.create_superuser("piranha", password="x-Long-Secret-1")
    client = Client()
    client.force_login(user)
    return client
