from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.services import user_profile_update


class MeApi(APIView):
    """The signed-in user's profile."""

    rate_limits = {"PATCH": ("account-write",)}

    @extend_schema_serializer(component_name="MeUpdate")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150, allow_blank=True)

    @extend_schema_serializer(component_name="Me")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        name = serializers.CharField()

    @extend_schema(operation_id="me_retrieve", responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer(request.user).data)

    @extend_schema(
        operation_id="me_partial_update",
        request=InputSerializer,
        responses=OutputSerializer,
    )
    def patch(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_profile_update(user=request.user, **serializer.validated_data)
        return Response(self.OutputSerializer(user).data)
