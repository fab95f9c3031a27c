"""Settings for the test run (pyproject's DJANGO_SETTINGS_MODULE): the development defaults, DEBUG=1 unless the
environment says otherwise. Set in the environment, so the processes the tests start (daphne, workers, manage.py)
read the same; ivmweb/settings.py itself keeps DEBUG off when it is unset."""

import os

os.environ.setdefault("DEBUG", "1")

from ivmweb.settings import *  # noqa: E402,F403
