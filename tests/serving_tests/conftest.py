from tests.registry_tests.factories import model_store  # noqa: F401
