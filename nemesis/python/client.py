"""A nemesis client in Python: the node's HTTP API through the standard library (urllib).

The Python binding has no NodeClient yet, so this talks to `POST /v1/append` and
`GET /v1/log` directly. It appends unique values (`<process>-<n>`) to a random node, now and
then reads a node's log, and writes every invocation and outcome as a JSON line, with `t` in
milliseconds since the harness's start (`--t0-ms`, epoch milliseconds). SIGTERM makes it finish
the operation in flight and exit 0.
"""

import argparse
import base64
import json
import random
import signal
import time
import urllib.error
import urllib.request

TIMEOUT = 5.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", required=True)
    p.add_argument("--t0-ms", type=float, required=True)
    p.add_argument("--process", default="py0")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    nodes = a.nodes.split(",")
    rng = random.Random(a.seed)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    out = open(a.out, "w", buffering=1)

    def record(event):
        event["t"] = round(time.time() * 1000.0 - a.t0_ms, 1)
        event["process"] = a.process
        out.write(json.dumps(event) + "\n")

    n = 0
    highest = 0
    while not stop:
        node = rng.randrange(len(nodes))
        if rng.random() < 0.85:
            n += 1
            value = f"{a.process}-{n}"
            record({"type": "invoke", "f": "append", "value": value})
            body = json.dumps({"value": base64.b64encode(value.encode()).decode()}).encode()
            req = urllib.request.Request(
                nodes[node] + "/v1/append",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "Synodos-Cluster": "nemesis"},
            )
            try:
                with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                    answer = json.loads(r.read())
                highest = max(highest, answer["slot"])
                record({"type": "ok", "f": "append", "value": value, "slot": answer["slot"]})
            except urllib.error.HTTPError as e:
                # 4xx other than 408: refused, never appended. 5xx: may have been.
                kind = "fail" if 400 <= e.code < 500 and e.code != 408 else "info"
                record({"type": kind, "f": "append", "value": value, "error": f"HTTP {e.code}"})
            except Exception as e:  # timeouts, resets, refused connections: unknown
                record({"type": "info", "f": "append", "value": value, "error": repr(e)})
        else:
            start = max(0, highest - rng.randrange(30))
            record({"type": "invoke", "f": "read", "node": node + 1, "from": start})
            url = f"{nodes[node]}/v1/log?from={start}&limit=40"
            req = urllib.request.Request(url, headers={"Synodos-Cluster": "nemesis"})
            try:
                with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                    lines = r.read().decode().splitlines()
                entries = []
                for line in lines:
                    e = json.loads(line)
                    if "event" in e:
                        continue
                    entries.append([e["slot"], base64.b64decode(e.get("value", "")).decode("utf-8", "replace")])
                record({"type": "ok", "f": "read", "node": node + 1, "from": start, "entries": entries})
            except Exception as e:
                record({"type": "fail", "f": "read", "node": node + 1, "error": repr(e)})
        time.sleep(rng.uniform(0.002, 0.015))
    out.close()


if __name__ == "__main__":
    main()
