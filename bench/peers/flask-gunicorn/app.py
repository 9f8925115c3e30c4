"""The peer `backbones serve` is measured against (bench/serve-vs-peer.ts): the deployment a
user would otherwise build around a Keras-style classifier, with Debian's own packages
(python3-torch + libopenblas0-openmp, python3-torchvision, python3-flask, gunicorn,
python3-pil). Same work per request as `POST /v1/classify?k=5` of backbones: the body is an
image; PIL decodes it (EXIF rotation applied, RGB), squashes it to 224x224 with bilinear,
scales it to [-1, 1] (MobileNetV2's `tf` preprocessing), runs torchvision's MobileNetV2
with seeded random weights (like `--weights random`), answers the top-k softmax as JSON.

    gunicorn -w 2 --threads 1 -b 127.0.0.1:PORT --chdir bench/peers/flask-gunicorn app:app

TORCH_THREADS (default 1) sets torch's intra-op threads per worker process.
"""
import io
import os

import torch
import torchvision
from flask import Flask, jsonify, request
from PIL import Image, ImageOps

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
torch.manual_seed(7)
model = torchvision.models.mobilenet_v2(weights=None).eval()
app = Flask(__name__)


def preprocess(data: bytes) -> torch.Tensor:
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    img = img.resize((224, 224), Image.BILINEAR)
    x = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(224, 224, 3)
    x = x.permute(2, 0, 1).float().div(127.5).sub(1.0)
    return x.unsqueeze(0)


@app.get("/health")
def health():
    return jsonify(ready=True)


@app.post("/v1/classify")
def classify():
    data = request.get_data()
    if not data:
        return jsonify(error="The body is empty; send the bytes of an image."), 422
    try:
        x = preprocess(data)
    except Exception as e:  # PIL's UnidentifiedImageError, truncated files
        return jsonify(error=f"Cannot decode the image: {e}"), 422
    k = int(request.args.get("k", "5"))
    with torch.inference_mode():
        probs = torch.softmax(model(x)[0], dim=0)
    top = torch.topk(probs, k)
    return jsonify(path=request.args.get("name", "body"), model="mobilenet_v2", predictions=[{"index": int(i), "prob": float(p)} for p, i in zip(top.values, top.indices)])
