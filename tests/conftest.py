from __future__ import annotations

import os
import tempfile

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_HOME", tempfile.mkdtemp(prefix="mlcheck-keras-"))
