"""Personal API tokens: a person's key to the REST API, with a name, an expiry and a scope.

Only the SHA-256 of the secret is stored (the token is shown once, when it is made); the short ``prefix`` stays
visible so that a person can tell their tokens apart on the page and in the audit trail. Creating, using from a new
address and revoking a token are audited by ``mobility.api.tokens``.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """One personal API token; ``user`` acts through it with exactly the rights they have in the browser."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, unique=True, help_text="The token's visible beginning")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 (hex) of the whole token")
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_address = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def may_write(self) -> bool:
        return self.scope == self.Scope.WRITE
