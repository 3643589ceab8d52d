#!/usr/bin/env python3
"""Generate a synthetic Kustomize tree for the render benchmark.

usage: gen_tree.py N OUTDIR [--seed S] [--hpa-owns-replicas]

Writes N objects in total to OUTDIR/base, one YAML file per "app" (an app is up
to six documents: ServiceAccount, ConfigMap, Deployment, Service, Ingress,
HorizontalPodAutoscaler, so the kinds come in roughly equal numbers), plus
OUTDIR/base/kustomization.yaml listing every file, and OUTDIR/overlay: a
kustomization over ../base with a namespace, namePrefix, labels (one pair with
includeSelectors), commonAnnotations, image overrides, a strategic merge patch
selected by label (replicas + an added env var) and a JSON 6902 patch selected by
kind.

--hpa-owns-replicas leaves spec.replicas out of the Deployments (their HPA sets it), as
GitOps repositories do when an autoscaler manages the replica count; the sync benchmark
uses it so that the tool and the HPA controller do not fight over the field.

Output is deterministic for a given N and seed.  OUTDIR is replaced if it exists.
"""

import argparse
import os
import random
import shutil
import sys

KINDS_PER_APP = 6  # ServiceAccount, ConfigMap, Deployment, Service, Ingress, HPA

IMAGES = [
    "registry.example.com/platform/gateway",
    "registry.example.com/platform/auth",
    "registry.example.com/shop/catalog",
    "registry.example.com/shop/cart",
    "registry.example.com/shop/checkout",
    "registry.example.com/shop/payments",
    "registry.example.com/data/indexer",
    "registry.example.com/data/reporter",
    "docker.io/library/nginx",
    "ghcr.io/example/notifier",
]
TIERS = ["frontend", "backend", "batch"]
TEAMS = ["checkout", "catalog", "identity", "data", "platform", "growth"]
WORDS = ["alpha", "bravo", "cedar", "delta", "ember", "fjord", "gamma", "harbor", "iris",
         "jade", "kilo", "lumen", "maple", "nova", "onyx", "pine", "quartz", "raven"]


def q(s):
    """Double-quoted YAML scalar (keeps numbers-as-strings strings)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def app_docs(i, rng, hpa_owns_replicas=False):
    """Return the six YAML documents of app number i, in a fixed kind order."""
    name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i:05d}"
    tier = TIERS[i % len(TIERS)]
    team = rng.choice(TEAMS)
    image = rng.choice(IMAGES)
    tag = f"{rng.randint(1, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    port = rng.choice([8080, 8000, 3000, 9000])
    replicas = rng.randint(1, 5)
    sidecar = rng.random() < 0.3
    labels = (f"    app.kubernetes.io/name: {name}\n"
              f"    app.kubernetes.io/component: {tier}\n"
              f"    team: {team}\n")

    sa = (f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  labels:\n{labels}")

    n_settings = rng.randint(3, 8)
    settings = "".join(f"  SETTING_{k}: {q(rng.choice(WORDS) + '-' + str(rng.randint(0, 999)))}\n"
                       for k in range(n_settings))
    cm = (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-config\n  labels:\n{labels}"
          f"data:\n  LOG_LEVEL: {rng.choice(['debug', 'info', 'warn'])}\n"
          f"  PORT: {q(str(port))}\n{settings}"
          f"  app.properties: |\n    server.port={port}\n    cache.size={rng.randint(16, 4096)}\n"
          f"    upstream=http://{rng.choice(WORDS)}.svc.cluster.local\n")

    env = (f"            - name: PORT\n              value: {q(str(port))}\n"
           f"            - name: LOG_LEVEL\n              valueFrom:\n"
           f"                configMapKeyRef:\n                  name: {name}-config\n"
           f"                  key: LOG_LEVEL\n"
           f"            - name: POD_NAME\n              valueFrom:\n"
           f"                fieldRef:\n                  fieldPath: metadata.name\n")
    for k in range(rng.randint(0, 4)):
        env += f"            - name: EXTRA_{k}\n              value: {q(rng.choice(WORDS))}\n"
    cpu = rng.choice([50, 100, 250, 500])
    mem = rng.choice([64, 128, 256, 512])
    containers = (
        f"        - name: app\n"
        f"          image: {image}:{tag}\n"
        f"          args: [\"--port={port}\", \"--config=/etc/app/app.properties\"]\n"
        f"          ports:\n            - name: http\n              containerPort: {port}\n"
        f"          envFrom:\n            - configMapRef:\n                name: {name}-config\n"
        f"          env:\n{env}"
        f"          livenessProbe:\n            httpGet:\n              path: /healthz\n"
        f"              port: http\n            initialDelaySeconds: {rng.randint(5, 30)}\n"
        f"            periodSeconds: 10\n"
        f"          readinessProbe:\n            httpGet:\n              path: /ready\n"
        f"              port: http\n            periodSeconds: 5\n"
        f"          resources:\n            requests:\n              cpu: {cpu}m\n"
        f"              memory: {mem}Mi\n            limits:\n              cpu: {cpu * 4}m\n"
        f"              memory: {mem * 2}Mi\n"
        f"          volumeMounts:\n            - name: config\n              mountPath: /etc/app\n"
        f"              readOnly: true\n            - name: tmp\n              mountPath: /tmp\n")
    if sidecar:
        containers += (
            "        - name: log-shipper\n"
            "          image: docker.io/library/nginx:1.25\n"
            "          args: [\"-c\", \"/etc/shipper/shipper.conf\"]\n"
            "          resources:\n            requests:\n              cpu: 10m\n"
            "              memory: 32Mi\n"
            "          volumeMounts:\n            - name: tmp\n              mountPath: /var/log/app\n")
    deploy = (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n{labels}"
        f"spec:\n{'' if hpa_owns_replicas else f'  replicas: {replicas}' + chr(10)}"
        f"  selector:\n    matchLabels:\n"
        f"      app.kubernetes.io/name: {name}\n"
        f"  template:\n    metadata:\n      labels:\n"
        f"        app.kubernetes.io/name: {name}\n        app.kubernetes.io/component: {tier}\n"
        f"        team: {team}\n"
        f"      annotations:\n        prometheus.io/scrape: \"true\"\n"
        f"        prometheus.io/port: {q(str(port))}\n"
        f"    spec:\n      serviceAccountName: {name}\n"
        f"      securityContext:\n        runAsNonRoot: true\n        runAsUser: {10000 + i % 1000}\n"
        f"      containers:\n{containers}"
        f"      volumes:\n        - name: config\n          configMap:\n            name: {name}-config\n"
        f"        - name: tmp\n          emptyDir: {{}}\n")

    svc = (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  labels:\n{labels}"
           f"spec:\n  type: ClusterIP\n  selector:\n    app.kubernetes.io/name: {name}\n"
           f"  ports:\n    - name: http\n      port: 80\n      targetPort: http\n")

    host = f"{name}.{team}.example.com"
    ing = (f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n"
           f"  labels:\n{labels}"
           f"  annotations:\n    nginx.ingress.kubernetes.io/proxy-body-size: "
           f"{rng.choice(['1m', '8m', '64m'])}\n"
           f"spec:\n  ingressClassName: nginx\n  tls:\n    - hosts:\n        - {host}\n"
           f"      secretName: {name}-tls\n"
           f"  rules:\n    - host: {host}\n      http:\n        paths:\n"
           f"          - path: /\n            pathType: Prefix\n            backend:\n"
           f"              service:\n                name: {name}\n"
           f"                port:\n                  name: http\n")

    lo = rng.randint(1, 3)
    hpa = (f"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {name}\n"
           f"  labels:\n{labels}"
           f"spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n"
           f"    name: {name}\n  minReplicas: {lo}\n  maxReplicas: {lo + rng.randint(2, 10)}\n"
           f"  metrics:\n    - type: Resource\n      resource:\n        name: cpu\n"
           f"        target:\n          type: Utilization\n"
           f"          averageUtilization: {rng.choice([60, 70, 80])}\n")

    return name, [sa, cm, deploy, svc, ing, hpa]


BASE_HEADER = """\
# Generated by bench/gen_tree.py: {n} objects in {files} files.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
"""

OVERLAY = """\
# Generated by bench/gen_tree.py: an overlay of ../base ({n} objects).
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: bench
namePrefix: prod-
resources:
  - ../base
labels:
  - pairs:
      env: prod
      cost-center: cc-1234
    includeSelectors: false
  - pairs:
      owner: bench
    includeSelectors: true
commonAnnotations:
  bench.example.com/generated: "true"
images:
  - name: registry.example.com/shop/catalog
    newTag: 9.9.9
  - name: registry.example.com/shop/checkout
    newName: mirror.example.com/shop/checkout
  - name: docker.io/library/nginx
    newName: mirror.example.com/library/nginx
    newTag: 1.27-alpine
  - name: registry.example.com/platform/auth
    digest: sha256:3a5f1e0c9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f
patches:
  - target:
      kind: Deployment
      labelSelector: app.kubernetes.io/component=backend
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: any
      spec:
        replicas: 3
        template:
          spec:
            containers:
              - name: app
                env:
                  - name: DEPLOY_ENV
                    value: prod
  - target:
      kind: HorizontalPodAutoscaler
    patch: |-
      - op: replace
        path: /spec/maxReplicas
        value: 20
"""


def generate(n, outdir, seed, hpa_owns_replicas=False):
    rng = random.Random(seed)
    if os.path.exists(outdir):
        shutil.rmtree(outdir)
    base = os.path.join(outdir, "base")
    os.makedirs(os.path.join(base, "apps"))
    files = []
    written = 0
    i = 0
    while written < n:
        name, docs = app_docs(i, rng, hpa_owns_replicas)
        docs = docs[: n - written]
        rel = f"apps/{name}.yaml"
        with open(os.path.join(base, rel), "w") as f:
            f.write("---\n".join(docs))
        files.append(rel)
        written += len(docs)
        i += 1
    with open(os.path.join(base, "kustomization.yaml"), "w") as f:
        f.write(BASE_HEADER.format(n=n, files=len(files)))
        f.writelines(f"  - {rel}\n" for rel in files)
    overlay = os.path.join(outdir, "overlay")
    os.makedirs(overlay)
    with open(os.path.join(overlay, "kustomization.yaml"), "w") as f:
        f.write(OVERLAY.format(n=n))
    return len(files)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="total number of objects")
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--hpa-owns-replicas", action="store_true",
                    help="leave spec.replicas out of the Deployments")
    args = ap.parse_args()
    if args.n < 1:
        ap.error("N must be positive")
    files = generate(args.n, args.outdir, args.seed, args.hpa_owns_replicas)
    print(f"{args.outdir}: {args.n} objects in {files} files", file=sys.stderr)


if __name__ == "__main__":
    main()
