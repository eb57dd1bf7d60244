"""No models of its own: login failures are django-axes' (AccessAttempt)."""
