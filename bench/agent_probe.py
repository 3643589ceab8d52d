#!/usr/bin/env python3
"""Latency probes for bench/agent.sh, against the harness API server (admin token).

usage:
  agent_probe.py drift   NS-PREFIX ENVS EDITS GAP TIMEOUT   → JSON {"latencies": [...], "missed": n}
  agent_probe.py commit  NS-PREFIX WORKTREE COMMITS INTERVAL TIMEOUT → JSON {"latencies": [...], "missed": n}

Both watch every ConfigMap of the cluster (one watch from the current resourceVersion) and
time, from the moment a request returned, until the watch delivers the awaited value:
  drift   edits data.LOG_LEVEL of EDITS managed ConfigMaps (a merge patch, field manager
          bench-drift), one every GAP seconds, rotating over the environments' ConfigMaps
          (every edit a different object, so windlass's fight detection, >5 repairs of one
          object within a minute, never applies), and waits for each to hold its old value again;
  commit  commits a new data.rev to envs/e1/marker.yaml in WORKTREE, pushes it, and waits for
          ConfigMap bench-marker in NS-PREFIX+e1 to show it; between commits it sleeps a random
          part of INTERVAL so the pushes fall at different phases of the poll.
The watch, not polling, sees the change: no probe traffic beyond one watch and the edits
(user agent bench-probe, so the audit-log counts of the tools are not touched).
Environment: WINDLASS_TEST_API_SERVER, WINDLASS_TEST_API_CA, WINDLASS_TEST_ADMIN_TOKEN.
"""
import http.client
import json
import os
import random
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

API = urllib.parse.urlsplit(os.environ["WINDLASS_TEST_API_SERVER"])
CTX = ssl.create_default_context(cafile=os.environ["WINDLASS_TEST_API_CA"])
HEADERS = {"Authorization": "Bearer " + os.environ["WINDLASS_TEST_ADMIN_TOKEN"],
           "User-Agent": "bench-probe", "Accept": "application/json"}


def conn(timeout=30):
    return http.client.HTTPSConnection(API.hostname, API.port, context=CTX, timeout=timeout)


def request(c, method, path, body=None, ctype=None):
    h = dict(HEADERS)
    if ctype:
        h["Content-Type"] = ctype
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data)


class Watch(threading.Thread):
    """Every ConfigMap event; wait_for(key, pred, deadline) → monotonic time of the first
    event after registration whose value satisfies pred."""

    def __init__(self):
        super().__init__(daemon=True)
        c = conn()
        self.rv = request(c, "GET", "/api/v1/configmaps?limit=1")["metadata"]["resourceVersion"]
        self.lock = threading.Condition()
        self.waiters = {}  # (ns, name) -> [pred, time or None]
        self.error = None

    def expect(self, key, pred):
        with self.lock:
            self.waiters[key] = [pred, None]

    def result(self, key, deadline):
        with self.lock:
            while self.waiters[key][1] is None and time.monotonic() < deadline and not self.error:
                self.lock.wait(max(0.0, min(1.0, deadline - time.monotonic())))
            return self.waiters.pop(key)[1]

    def run(self):
        try:
            c = conn(timeout=None)
            c.request("GET", f"/api/v1/configmaps?watch=true&resourceVersion={self.rv}", headers=HEADERS)
            r = c.getresponse()
            if r.status != 200:
                raise RuntimeError(f"watch: {r.status} {r.read()[:300]!r}")
            while True:
                line = r.readline()
                if not line:
                    raise RuntimeError("watch closed")
                now = time.monotonic()
                ev = json.loads(line)
                obj = ev.get("object", {})
                md = obj.get("metadata", {})
                key = (md.get("namespace"), md.get("name"))
                with self.lock:
                    w = self.waiters.get(key)
                    if w and w[1] is None and ev.get("type") in ("ADDED", "MODIFIED") and w[0](obj.get("data") or {}):
                        w[1] = now
                        self.lock.notify_all()
        except Exception as e:  # reported by the caller
            with self.lock:
                self.error = e
                self.lock.notify_all()


def drift(prefix, envs, edits, gap, timeout):
    c = conn()
    targets = []
    per_env = []
    for e in range(1, envs + 1):
        ns = f"{prefix}e{e}"
        items = request(c, "GET", f"/api/v1/namespaces/{ns}/configmaps")["items"]
        per_env.append([(ns, i["metadata"]["name"], i["data"]["LOG_LEVEL"]) for i in items
                        if "LOG_LEVEL" in (i.get("data") or {})])
    for k in range(max(len(p) for p in per_env)):  # interleave the environments
        for p in per_env:
            if k < len(p):
                targets.append(p[k])
    if len(targets) < edits:
        raise SystemExit(f"drift: only {len(targets)} managed ConfigMaps for {edits} edits")
    w = Watch()
    w.start()
    time.sleep(0.5)
    sent = []
    lock = threading.Lock()
    lat, missed = [], []

    def await_one(key, t0, deadline):
        t = w.result(key, deadline)
        with lock:
            (lat.append(t - t0) if t is not None else missed.append(key))

    threads = []
    for i in range(edits):
        ns, name, orig = targets[i]
        key = (ns, name)
        # Reverted: the value is the old one again (after the edit was seen: the edit's own
        # event carries the new value, so the first event satisfying this is the repair).
        w.expect(key, lambda d, o=orig: d.get("LOG_LEVEL") == o)
        request(c, "PATCH", f"/api/v1/namespaces/{ns}/configmaps/{name}?fieldManager=bench-drift",
                json.dumps({"data": {"LOG_LEVEL": f"drifted-{i}"}}), "application/merge-patch+json")
        t0 = time.monotonic()
        th = threading.Thread(target=await_one, args=(key, t0, t0 + timeout))
        th.start()
        threads.append(th)
        time.sleep(gap)
    for th in threads:
        th.join()
    if w.error:
        raise SystemExit(f"drift: {w.error}")
    print(json.dumps({"latencies": lat, "missed": len(missed)}))


def commit(prefix, worktree, commits, interval, timeout):
    w = Watch()
    w.start()
    time.sleep(0.5)
    ns = f"{prefix}e1"
    lat, missed = [], 0
    git = ["git", "-C", worktree, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    for i in range(commits):
        time.sleep(random.uniform(0, interval))
        rev = f"{time.time_ns()}"
        with open(os.path.join(worktree, "envs/e1/marker.yaml"), "w") as f:
            f.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-marker\ndata:\n  rev: \"{rev}\"\n")
        w.expect((ns, "bench-marker"), lambda d, r=rev: d.get("rev") == r)
        subprocess.run(git + ["commit", "-qam", f"marker {rev}"], check=True)
        subprocess.run(git + ["push", "-q", "origin", "HEAD:main"], check=True, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        t = w.result((ns, "bench-marker"), t0 + timeout)
        if t is None:
            missed += 1
        else:
            lat.append(t - t0)
    if w.error:
        raise SystemExit(f"commit: {w.error}")
    print(json.dumps({"latencies": lat, "missed": missed}))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "drift" and len(a) == 6:
        drift(a[1], int(a[2]), int(a[3]), float(a[4]), float(a[5]))
    elif a and a[0] == "commit" and len(a) == 6:
        commit(a[1], a[2], int(a[3]), float(a[4]), float(a[5]))
    else:
        raise SystemExit(__doc__)
