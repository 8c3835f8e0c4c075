from tests.datasets_tests.helpers import artifacts  # noqa: F401
