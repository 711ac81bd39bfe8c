# Mounted as /etc/tvp/local_settings.py (on PYTHONPATH): the project's
# config/settings.py imports AutomatedTestMixin from `local_settings` and lets
# it override the AutomatedTests environment, whose settings ignore
# environment variables (dotenv_path=None). Without this, the database is
# always localhost:5432, which in a compose stack is nothing.
import os

from env_config import values


class AutomatedTestMixin:
    DATABASES = values.DatabaseURLValue(
        default=os.environ.get("DATABASE_URL", "postgis://tvp:tvp@db:5432/tvp"),
    )
    REDIS_URL = os.environ.get("REDIS_URL", "redis://redis:6379/0")
