"""Regenerates smart_turn_golden.json, the Python reference for tests/smart_turn.rs.

One-time use, not part of the test run. In a scratch venv:

    pip install numpy onnxruntime==1.31.1
    pip download --no-deps pipecat-ai==1.14.0 && unzip -q pipecat_ai-1.14.0-py3-none-any.whl 'pipecat/*'
    PYTHONPATH=. python tests/data/make_smart_turn_golden.py MODEL.onnx

The features come from pipecat's own `_whisper_features.py` (what its Smart Turn v3
analyzer feeds the model; equal to transformers' WhisperFeatureExtractor(chunk_length=8)
to 1.2e-7 on this input), the window from `local_smart_turn_v3.py` (last 8 s, zero
padding at the start).
"""

import json
import sys
import wave
from pathlib import Path

import numpy as np
import onnxruntime as ort
from pipecat.audio.turn.smart_turn._whisper_features import compute_whisper_log_mel_features

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"


def load(name):
    with wave.open(str(FIXTURES / name)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def window(x):
    a = x.astype(np.float32) / 32768.0
    n = 8 * 16000
    return a[-n:] if len(a) > n else np.pad(a, (n - len(a), 0))


def main(model):
    sess = ort.InferenceSession(model)
    # Speech plus 200 ms of its trailing silence: what the detector sends.
    cut = 16000 - 3200
    x = load("en_speech_16k.wav")
    x = x[: len(x) - cut]
    f = compute_whisper_log_mel_features(window(x))
    step = 20
    out = {
        "about": "Smart Turn v3 input features (pipecat _whisper_features.py == transformers "
        "WhisperFeatureExtractor(chunk_length=8)) and model outputs, computed in Python with "
        "onnxruntime 1.31.1",
        "source": "tests/fixtures/en_speech_16k.wav, last 1.0 s minus 0.2 s cut (speech + 200 ms silence)",
        "samples": int(len(x)),
        "frame_step": step,
        "frames": [[round(float(v), 6) for v in f[:, t]] for t in range(0, 800, step)],
        "frame_means": [round(float(v), 6) for v in f.mean(axis=0)],
        "probabilities": {},
    }
    for name in ["en_speech_16k.wav", "ar_speech_16k.wav", "en_pause300_16k.wav"]:
        y = load(name)
        y = y[: len(y) - cut]
        g = compute_whisper_log_mel_features(window(y))
        p = float(sess.run(None, {"input_features": g[None]})[0][0].item())
        out["probabilities"][name] = {"samples": int(len(y)), "probability": round(p, 6)}
    (HERE / "smart_turn_golden.json").write_text(json.dumps(out, separators=(",", ":")))
    print(out["probabilities"])


if __name__ == "__main__":
    main(sys.argv[1])
