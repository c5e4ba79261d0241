# One image for web and workers, built from the same pinned requirements.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt
COPY . .
RUN DJANGO_SETTINGS_MODULE=netviz_site.settings.base python manage.py collectstatic --noinput
RUN useradd --create-home netviz && mkdir -p /data/media && chown -R netviz /data /app
USER netviz
EXPOSE 8000
CMD ["gunicorn", "netviz_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
