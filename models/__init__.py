"""Models: the base model, the classifier, fine-tuning, evaluation, promotion and the registry."""

import os

# Keras reads its backend once, at first import; TensorFlow's C++ start-up chatter hides
# the run's own output. Both must be set before anything imports keras.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
