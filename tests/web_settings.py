"""Django settings for the test suite: a throwaway data directory, SQLite unless DATABASE_URL is set."""

import os
import tempfile

os.environ.setdefault("LACRIMA_DATA_DIR", tempfile.mkdtemp(prefix="lacrima-test-"))

from lacrima.web.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
