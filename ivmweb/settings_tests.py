"""Settings for the test run (pyproject's DJANGO_SETTINGS_MODULE): the development defaults, DEBUG=1 unless the
environment says otherwise. Set in the environment, so the processes the tests start (daphne, workers, manage.py)
read the same; ivmweb/settings.py itself keeps DEBUG off when it is unset."""

import os

os.environ.setdefault("DEBUG", "1")

# pytest-xdist runs test files in several processes, each on its own test database (pytest-django's ``_gw<n>``
# suffix), where migration 5 of one is not migration 5 of another: each process gets its own channel prefix, so
# that groups such as ``migration-5`` never cross. Set in the environment, so the daphne and worker processes a
# test starts share their test process's prefix.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["IVMWEB_CHANNEL_PREFIX"] = f"ivmweb-test-{worker}"

from ivmweb.settings import *  # noqa: E402,F403
