"""What every test suite shares, registered once through `pytest_plugins` in tests/conftest.py:

- `factories`: users, jobs with trials, small real models on iris and a clean model store;
- `api`: REST clients (the DRF test client, and a `requests` client for a live server);
- `workers`: the real services (Postgres, Redis) and real Celery worker processes;
- `data`: the built-in data sets and the analyst's CSV that every suite can upload;
- `world`: alice owning one object of every kind (the access and fuzz suites);
- `traffic` (plain helpers, no fixtures): served traffic and aged logs for drift tests.

A test imports plain helpers from here; fixtures reach it by name, never by import.
"""
