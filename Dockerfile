# grounded-qa: the HTTP API and chat page on port 8000, with the seed articles indexed at build time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    QA_INDEX_DIR=/app/.qa/index

WORKDIR /app

# The CPU build of torch from PyTorch's own index (no CUDA libraries), so the project's torch pin is already met.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY qa ./qa
COPY index ./index
COPY api ./api
RUN pip install --no-cache-dir .

COPY seeds ./seeds
RUN groupadd --gid 10001 qa && useradd --create-home --uid 10001 --gid qa qa && chown -R qa:qa /app
USER 10001:10001

# Index the seeds now, so the container is ready as soon as the model has loaded.
RUN qa index

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["qa", "serve", "--host", "0.0.0.0"]
