import pytest

# The Discord tests' shared fixtures are a plugin module with asserts of its own.
pytest.register_assert_rewrite("tests.discord_fixtures")
