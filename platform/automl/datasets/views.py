from rest_framework import generics

from automl.datasets.models import Dataset
from automl.datasets.serializers import DatasetSerializer


class DatasetList(generics.ListAPIView):
    """Data sets the caller can train on: their own and the built-in ones."""

    serializer_class = DatasetSerializer

    def get_queryset(self):
        return Dataset.visible_to(self.request.user).select_related("owner")


class DatasetDetail(generics.RetrieveAPIView):
    serializer_class = DatasetSerializer

    def get_queryset(self):
        return Dataset.visible_to(self.request.user).select_related("owner")
