# The ecomstream image: worker, generator and command-line tools.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY agents ./agents
RUN pip install .
RUN useradd --create-home ecom && mkdir -p /data && chown ecom /data
USER ecom
ENV ECOM_DATA_DIR=/data
EXPOSE 6066 9100
ENTRYPOINT ["ecomstream"]
CMD ["worker"]
