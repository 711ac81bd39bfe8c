"""Settings for the shop, read from the environment like any twelve-factor app."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-development-key")
DEBUG = os.environ.get("DEBUG", "") == "1"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "catalog",
    "inventory",
    "orders",
    "payments",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://shop:shop@localhost:5432/shop")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
DATABASES["default"]["OPTIONS"] = {"application_name": "shop"}

# Events and the instance registry use their own connection to the main
# database, outside Django's connection handling (LISTEN needs autocommit).
EVENTS_DATABASE_URL = os.environ.get("EVENTS_DATABASE_URL", DATABASE_URL)

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379").rstrip("/")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"{REDIS_URL}/0",
        "KEY_PREFIX": "shop",
        "TIMEOUT": 300,
        "OPTIONS": {"client_name": "shop-cache"},
    },
    # Operational state: the registry of running instances, counters.
    "ops": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"{REDIS_URL}/1",
        "TIMEOUT": None,
        "OPTIONS": {"client_name": "shop-ops"},
    },
}

PAYMENT_GATEWAY_URL = os.environ.get("PAYMENT_GATEWAY_URL", "http://127.0.0.1:8765")
PAYMENT_GATEWAY_TIMEOUT = 30

INSTANCE_DIR = os.environ.get("INSTANCE_DIR", "/tmp/shop-instances")
MAINTENANCE_LOCK_FILE = os.environ.get("MAINTENANCE_LOCK_FILE", "/tmp/shop-maintenance.lock")

SHOP_CURRENCY = "EUR"
FREE_SHIPPING_CENTS = 5000

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
