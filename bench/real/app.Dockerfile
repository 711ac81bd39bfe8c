# The test image of tilavarauspalvelu-core's backend, from its own lock file,
# with no registry. Build context: a folder holding the checkout's
# backend/poetry.lock and backend/pyproject.toml (bench/real/run makes one);
# the code itself is mounted at /tvp, so the image changes only with the lock.
#
# What the project's own backend/docker/Dockerfile does differently, and why:
# - FROM python:3.13-slim-bullseye from public.ecr.aws: no registry here, so
#   Debian trixie's Python 3.13 (the project requires >=3.13,<3.14);
# - poetry from install.python-poetry.org: not reachable; poetry from PyPI,
#   used only to export the lock (hashes included) for pip --require-hashes.
ARG PYTHON_IMAGE=python:3.13
FROM ${PYTHON_IMAGE}

# GDAL and GEOS for django.contrib.gis (the CI's action installs gdal-bin);
# a compiler, the Python headers and libpq-dev for the lock's sdists
# (psycopg2, uWSGI); postgresql-client for debugging by hand.
RUN apt-get update \
    && apt-get install -y gdal-bin gcc libc6-dev python3-dev libpq-dev libpq5 postgresql-client \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY poetry.lock pyproject.toml /tmp/lock/
# The groups the tests need: main, admin, celery (imported by the settings)
# and test; lint (ruff, mypy) is left out. The root package is not installed
# (like the project's `poetry install --no-root`): the code is mounted.
RUN python3 -m venv /opt/poetry \
    && /opt/poetry/bin/pip install -q poetry==2.2.0 poetry-plugin-export==1.9.0 \
    && /opt/poetry/bin/poetry export -C /tmp/lock --only main,admin,celery,test \
       -f requirements.txt -o /tmp/lock/requirements.txt \
    && pip install -q --require-hashes -r /tmp/lock/requirements.txt \
    && rm -rf /opt/poetry /root/.cache /tmp/lock

WORKDIR /tvp
