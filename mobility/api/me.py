"""Who the caller is (roles, teams, the token in use), and their own tokens (list, revoke)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from mobility.api import serializers as s
from mobility.api import tokens
from mobility.api.common import ERRORS
from mobility.api.problems import Problem
from mobility.models import ApiToken
from mobility.roles import roles_of


@extend_schema(tags=["me"], responses={200: s.MeSerializer, **ERRORS})
class Me(APIView):
    def get(self, request):
        user = request.user
        token = request.auth if isinstance(request.auth, ApiToken) else None
        return Response(s.MeSerializer({"id": user.pk, "username": user.get_username(),
                                        "roles": sorted(roles_of(user)),
                                        "teams": list(user.teams.order_by("name").values_list("name", flat=True)),
                                        "token": token}).data)


@extend_schema(tags=["me"], responses={200: s.TokenSerializer(many=True), **ERRORS})
class TokenList(generics.ListAPIView):
    """The caller's own API tokens (made on the page 'API tokens'; the secrets are never shown again)."""

    serializer_class = s.TokenSerializer

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user).order_by("-created_at", "-id")


@extend_schema(tags=["me"], request=None, responses={200: s.TokenSerializer, **ERRORS})
class TokenRevoke(APIView):
    """Revoke one of the caller's own tokens (the one in use too: its next request is refused). Audited."""

    def post(self, request, pk):
        token = tokens.revoke(request.user, pk)
        if token is None:
            raise Problem(404, "No such token of yours.")
        return Response(s.TokenSerializer(token).data)
