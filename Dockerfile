# syntax=docker/dockerfile:1
# One image for every role: `imgproc api | process | project | relay | janitor | migrate`.

# --- build: compile pillow-simd and every other wheel ------------------------------
FROM python:3.11-slim-bookworm AS build

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential \
      libjpeg-dev zlib1g-dev libpng-dev libwebp-dev libtiff-dev libfreetype-dev liblcms2-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain/ domain/
COPY commands/ commands/
COPY projections/ projections/
COPY api/ api/
COPY workers/ workers/
COPY infra/ infra/
COPY cli/ cli/
COPY migrations/ migrations/

RUN python -m venv /opt/imgproc \
 && /opt/imgproc/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/imgproc/bin/pip install --no-cache-dir . \
 && ! /opt/imgproc/bin/pip show pillow  # pillow-simd replaces pillow; both must never coexist

# --- run: only the shared libraries the wheels link against -------------------------
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libjpeg62-turbo zlib1g libpng16-16 libwebp7 libwebpmux3 libwebpdemux2 \
      libtiff6 libfreetype6 liblcms2-2 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --create-home imgproc

COPY --from=build /opt/imgproc /opt/imgproc
# In a container the API listens on every interface; SERVER_PORT (default 8080) picks the port.
ENV PATH=/opt/imgproc/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    IMGPROC_HOST=0.0.0.0

USER imgproc
# Settings also come from /app/config/local.yaml when one is mounted there.
WORKDIR /app
EXPOSE 8080
ENTRYPOINT ["imgproc"]
CMD ["--help"]
