from django.shortcuts import render

from mobility.access import role_required
from mobility.choices import Role
from mobility.models import IVMConsole


@role_required(Role.ADMIN)
def console_list(request):
    """Registered IVMs with their sync status."""
    return render(request, "mobility/consoles.html", {"consoles": IVMConsole.objects.all()})
