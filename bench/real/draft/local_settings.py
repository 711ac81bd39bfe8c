# Mounted as /tvp/local_settings.py: the AutomatedTests environment ignores environment
# variables (dotenv_path=None, use_environ=False), so the database host is set here.
import os

from env_config import values


class AutomatedTestMixin:
    DATABASES = values.DatabaseURLValue(
        default=os.environ.get("DATABASE_URL", "postgis://tvp:tvp@db:5432/tvp"),
    )
    REDIS_URL = os.environ.get("REDIS_URL", "redis://redis:6379/0")
