# The test image of tilavarauspalvelu-core's backend, from its own poetry.lock, without a registry:
# Debian trixie's Python 3.13 (the project requires >=3.13,<3.14), GDAL for django.contrib.gis,
# a compiler and libpq-dev for psycopg2 and uWSGI (sdists only), poetry from PyPI (its
# install.python-poetry.org installer is not reachable).
FROM issue28-research/trixie:13
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y python3 python3-venv python3-dev gcc libc6-dev libpq-dev libpq5 \
       gdal-bin gettext postgresql-client make \
    && rm -rf /var/lib/apt/lists/*
COPY poetry.lock pyproject.toml /tmp/lock/
RUN python3 -m venv /opt/poetry && /opt/poetry/bin/pip install -q poetry==2.2.0 poetry-plugin-export \
    && cd /tmp/lock && /opt/poetry/bin/poetry export --only main,admin,celery,test -f requirements.txt -o requirements.txt \
    && python3 -m venv /opt/venv && /opt/venv/bin/pip install -q --require-hashes -r requirements.txt \
    && rm -rf /opt/poetry /root/.cache
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
WORKDIR /tvp
