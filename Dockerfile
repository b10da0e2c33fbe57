# PaymentHub image: web (gunicorn, the default command), Celery worker and beat, one-shot
# management commands. Production settings by default; configure it through the environment
# (see config/.env.example). DATABASE_URL and REDIS_URL must point at real servers: the
# embedded PostgreSQL/Redis of `make run` are never started in a container.
#
#   docker build -t paymenthub .
#   docker compose up --build        # the whole stack, see docker-compose.yml

# --- build stage: install the pinned runtime requirements into a virtualenv -----------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A compiler only for a dependency that has no wheel for this platform (kept out of the
# final image).
RUN apt-get update \
    && apt-get install --no-install-recommends -y build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

COPY requirements.txt /tmp/requirements.txt
RUN pip install --upgrade pip \
    && pip install -r /tmp/requirements.txt

# --- runtime stage --------------------------------------------------------------------------
FROM python:3.11-slim

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=paymenthub.settings.production \
    PAYMENTHUB_BIND=0.0.0.0:8000

RUN groupadd --system --gid 10001 paymenthub \
    && useradd --system --uid 10001 --gid paymenthub --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin paymenthub

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# Source stays root-owned (read-only for the app user); only var/ is writable.
COPY . /app

# Static files are collected at build time into var/staticfiles (STATIC_ROOT), where
# WhiteNoise serves them from the web process. The settings need these variables to import;
# the values are dummies that exist only for this command and never reach the image's env.
RUN mkdir -p /app/static /app/var/demo /app/var/vault \
    && DATABASE_URL=postgresql://build@localhost/build \
       REDIS_URL=redis://localhost:6379/0 \
       ALLOWED_HOSTS=localhost \
       SECRET_KEY=build-time-only-dummy-secret-key-for-collectstatic-never-used-at-runtime \
       python manage.py collectstatic --no-input --verbosity 1 \
    && chown -R paymenthub:paymenthub /app/var \
    && chmod 0700 /app/var/vault

USER paymenthub

EXPOSE 8000

# Liveness: /healthz answers 200 while the process is up. The probe uses the first
# ALLOWED_HOSTS entry as Host (so Django accepts it) and X-Forwarded-Proto: https (so
# SECURE_SSL_REDIRECT does not answer with a redirect). Worker and beat containers run the
# same image: override or disable this check for them (docker-compose.yml does).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; host = (os.environ.get('ALLOWED_HOSTS') or 'localhost').split(',')[0].strip().lstrip('.*') or 'localhost'; port = os.environ.get('PAYMENTHUB_BIND', '0.0.0.0:8000').rsplit(':', 1)[-1]; r.urlopen(r.Request(f'http://127.0.0.1:{port}/healthz', headers={'Host': host, 'X-Forwarded-Proto': 'https'}), timeout=4)"]

CMD ["gunicorn", "paymenthub.wsgi", "--config", "config/gunicorn.conf.py"]
