"""The peer's own floor, for bench/serve-vs-peer.ts: the CPU time of its decode +
preprocessing and of its model per image, measured in one process with no server around
them (time.process_time, torch's threads as in app.py). Prints JSON:
{"decode_ms": mean per photo, "model_ms": mean per image}.

    python3 floor.py PHOTO... [--reps 5]
"""
import json
import sys
import time

import torch

import app

args = sys.argv[1:]
reps = 5
if "--reps" in args:
    i = args.index("--reps")
    reps = int(args[i + 1])
    del args[i : i + 2]
bodies = [open(p, "rb").read() for p in args]

for b in bodies:  # warm-up: allocator, kernels
    with torch.inference_mode():
        app.model(app.preprocess(b))

decode = 0.0
model = 0.0
for _ in range(reps):
    for b in bodies:
        t0 = time.process_time()
        x = app.preprocess(b)
        t1 = time.process_time()
        with torch.inference_mode():
            torch.softmax(app.model(x)[0], dim=0)
        t2 = time.process_time()
        decode += t1 - t0
        model += t2 - t1
n = reps * len(bodies)
print(json.dumps({"decode_ms": 1000 * decode / n, "model_ms": 1000 * model / n}))
