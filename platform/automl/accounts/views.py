from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from automl.accounts import throttle


class TokenView(APIView):
    """POST: exchange a username and password for the user's API token (repeated failures
    are throttled). DELETE: revoke the caller's token; the next POST issues a new one."""

    # Credentials also come as a form (`curl -d`, HTML forms); the schema shows JSON only,
    # one media type per body, so that client generators accept it.
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def _taking_credentials(self) -> bool:
        # None while drf-spectacular builds the schema without a request.
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        # POST takes credentials in its body: a stale token or session must not get in the way.
        if self._taking_credentials():
            return []
        return [auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES]

    def get_permissions(self):
        return [AllowAny()] if self._taking_credentials() else [IsAuthenticated()]

    @extend_schema(
        request={"application/json": AuthTokenSerializer},
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: dict,
            429: dict,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            if wait := throttle.refused_wait(request):
                raise exceptions.Throttled(wait, detail=throttle.refusal(wait))
            raise exceptions.ValidationError(serializer.errors)
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None, 401: dict})
    def delete(self, request: Request) -> Response:
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
