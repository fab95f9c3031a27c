from django.conf import settings
from django.db import models


class Team(models.Model):
    """A team owns partitions. Its members request migrations of them; its approvers approve them."""

    name = models.CharField(max_length=80, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
