#!/usr/bin/env python3
"""Generate a chain of kustomizations, each a base of the one before, for the
render benchmark of deep nesting.

usage: gen_nested.py N OUTDIR [--flat]

Writes OUTDIR/k00000 ... OUTDIR/k<N-1>: kustomization k<i> lists its own
ConfigMap (cm.yaml, named cm-<i>) and the folder ../k<i+1>, so rendering
OUTDIR/k00000 loads N kustomizations nested N deep and prints N ConfigMaps.
With --flat, OUTDIR/flat instead holds one kustomization listing N ConfigMap
files: the same objects without nesting, for comparison.

Output is deterministic.  OUTDIR is replaced if it exists.
"""

import argparse
import os
import shutil


def configmap(i):
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:05d}\ndata:\n  index: \"{i}\"\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("outdir")
    ap.add_argument("--flat", action="store_true")
    args = ap.parse_args()
    if os.path.exists(args.outdir):
        shutil.rmtree(args.outdir)
    if args.flat:
        d = os.path.join(args.outdir, "flat")
        os.makedirs(d)
        names = []
        for i in range(args.n):
            names.append(f"cm-{i:05d}.yaml")
            with open(os.path.join(d, names[-1]), "w") as f:
                f.write(configmap(i))
        with open(os.path.join(d, "kustomization.yaml"), "w") as f:
            f.write("resources:\n" + "".join(f"- {n}\n" for n in names))
        return
    for i in range(args.n):
        d = os.path.join(args.outdir, f"k{i:05d}")
        os.makedirs(d)
        with open(os.path.join(d, "cm.yaml"), "w") as f:
            f.write(configmap(i))
        resources = "resources:\n- cm.yaml\n"
        if i + 1 < args.n:
            resources += f"- ../k{i + 1:05d}\n"
        with open(os.path.join(d, "kustomization.yaml"), "w") as f:
            f.write(resources)


if __name__ == "__main__":
    main()
