# One image for the web and worker processes (docker-compose.yml runs it twice with different commands).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY core core
COPY connectors connectors
COPY webapp webapp
COPY migrations migrations
COPY alembic.ini wsgi.py gunicorn.conf.py ./
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
