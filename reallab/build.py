#!/usr/bin/env python3
"""Build the real lab's binaries from the Go modules pinned under reallab/ (stdlib only).

Each group is one Go module of this folder (its go.mod/go.sum pin every version). Binaries go to

    <cache>/bin/<group>-<key>/<name>

where <cache> is $MESHMEND_REALLAB_CACHE, else $XDG_CACHE_HOME/meshmend-reallab, else
~/.cache/meshmend-reallab, and <key> hashes what decides the output: the module's go.mod, go.sum and
Go sources, `go version`, GOOS/GOARCH and the build flags. The Go module cache (<cache>/gomod) and build
cache (<cache>/gocache) live under the same root, so another clone on this machine reuses them and a
warm start builds nothing. A binary is written under a temporary name and renamed, so an interrupted
build leaves nothing that looks finished.

    python3 reallab/build.py                  # build what is missing, print timings
    python3 reallab/build.py kube istio-new   # only these groups
    python3 reallab/build.py --paths          # JSON {name: path} of the binaries (builds what is missing)
    python3 reallab/build.py --list           # groups, binaries, keys, built or not

Nothing is fetched except Go modules through the Go module proxy (GOPROXY as configured).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# group -> (module folder, {binary name: package})
GROUPS: dict[str, tuple[str, dict[str, str]]] = {
    # One multi-call binary (hyperkube style) instead of four: one link, ≈175 MiB less disk. The
    # component names are symlinks to it (ALIASES). kubectl comes from the venv (PyPI), not from here.
    "kube": ("kube", {
        "kube-all": "./cmd/kube-all",
    }),
    "kwok": ("kwok", {
        "kwok": "sigs.k8s.io/kwok/cmd/kwok",
    }),
    "istio-new": ("istio-new", {
        "pilot-discovery": "istio.io/istio/pilot/cmd/pilot-discovery",
        "istioctl": "istio.io/istio/istioctl/cmd/istioctl",
        "xdsprobe": "./cmd/xdsprobe",
    }),
    "istio-old": ("istio-old", {
        "pilot-discovery": "istio.io/istio/pilot/cmd/pilot-discovery",
        "istioctl": "istio.io/istio/istioctl/cmd/istioctl",
    }),
}

# Symlinks made beside a group's binaries: name -> binary it runs as (kube-all dispatches on argv[0]).
ALIASES: dict[str, dict[str, str]] = {
    "kube": {n: "kube-all" for n in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")},
}

# Built by default (make reallab-build, .ci/run). istio-old is opt-in: the module proxy serves no Istio
# release, only master pseudo-versions, and both served commits log the same 1.30+ multicluster wording,
# so it costs ≈775 CPU-s for no difference the suite could observe (reallab/SPIKE.md, "Blockers").
DEFAULT_GROUPS = ["kube", "kwok", "istio-new"]


def required_version(group: str, module: str) -> str:
    """The version of `module` that the group's go.mod requires (a require line, not a replace)."""
    for line in (HERE / GROUPS[group][0] / "go.mod").read_text().splitlines():
        f = line.split()
        if f[:1] == ["require"]:
            f = f[1:]
        if len(f) >= 2 and f[0] == module and f[1].startswith("v"):
            return f[1]
    raise SystemExit(f"{group}: go.mod does not require {module}")


def version_ldflags(group: str) -> list[str]:
    """-X flags that a release build sets: without them kube-apiserver's /version says
    v0.0.0-master+$Format:%H$ and istioctl/istiod say "unknown" (clients that check versions break)."""
    if group == "kube":
        v = required_version(group, "k8s.io/kubernetes")
        major, minor = v.lstrip("v").split(".")[:2]
        out = []
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
            out += [f"-X {pkg}.gitVersion={v}", f"-X {pkg}.gitMajor={major}", f"-X {pkg}.gitMinor={minor}",
                    f"-X {pkg}.gitTreeState=clean", f"-X {pkg}.buildDate=1970-01-01T00:00:00Z"]
        return out
    if group.startswith("istio-"):
        pv = required_version(group, "istio.io/istio")   # v0.0.0-<date>-<sha12>
        sha = pv.rsplit("-", 1)[-1]
        minor = ISTIO_MINOR[group]
        return [f"-X istio.io/istio/pkg/version.buildVersion={minor}-alpha.{sha}",
                f"-X istio.io/istio/pkg/version.buildGitRevision={sha}",
                "-X istio.io/istio/pkg/version.buildStatus=Clean",
                f"-X istio.io/istio/pkg/version.buildTag={minor}-alpha.{sha}"]
    return []


# The VERSION file at each pinned istio commit (both served commits are on the 1.31 development line).
ISTIO_MINOR = {"istio-new": "1.31", "istio-old": "1.31"}


def build_flags(group: str) -> list[str]:
    return ["-trimpath", "-ldflags=" + " ".join(["-s", "-w", *version_ldflags(group)])]


def cache_root() -> Path:
    if os.environ.get("MESHMEND_REALLAB_CACHE"):
        return Path(os.environ["MESHMEND_REALLAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "meshmend-reallab"


def go_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GOMODCACHE"] = str(root / "gomod")
    env["GOCACHE"] = str(root / "gocache")
    # -modcacherw: the module cache can be deleted with rm -rf; -mod=readonly: go.mod/go.sum are the pins,
    # a build never edits them; -buildvcs=false: the key, not the enclosing git state, names the output.
    env["GOFLAGS"] = " ".join(
        f for f in env.get("GOFLAGS", "").split() + ["-modcacherw", "-mod=readonly", "-buildvcs=false"]
        if f)
    env.setdefault("CGO_ENABLED", "0")
    return env


def go_version(env: dict[str, str]) -> str:
    out = subprocess.run(["go", "env", "GOVERSION", "GOOS", "GOARCH"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return " ".join(out.split())


def group_key(group: str, gover: str, env: dict[str, str]) -> str:
    folder = HERE / GROUPS[group][0]
    h = hashlib.sha256()
    h.update(f"{gover}\n{build_flags(group)}\nCGO_ENABLED={env['CGO_ENABLED']}\n".encode())
    files = [folder / "go.mod", folder / "go.sum"] + sorted(folder.rglob("*.go"))
    for f in files:
        h.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def bin_dir(root: Path, group: str, key: str) -> Path:
    return root / "bin" / f"{group}-{key}"


def du_mib(path: Path) -> float:
    total = 0
    if path.exists():
        for dirpath, _dirs, names in os.walk(path):
            for n in names:
                try:
                    total += os.lstat(os.path.join(dirpath, n)).st_blocks * 512
                except OSError:
                    pass
    return total / 2**20


def run_measured(cmd: list[str], cwd: Path, env: dict[str, str], log) -> tuple[int, float, int, float]:
    """Run cmd; return (exit code, wall seconds, peak RSS KiB of the largest process it started, CPU seconds).

    CPU seconds (user+sys of compile/link) do not depend on what else the machine runs; wall time does.

    A fresh interpreter runs it so RUSAGE_CHILDREN covers this build alone (compile and link included)."""
    wrapper = ("import resource,subprocess,sys;"
               "rc=subprocess.call(sys.argv[1:]);"
               "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
               "print('PEAK_RSS_KIB', u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr);"
               "sys.exit(rc)")
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", wrapper, *cmd], cwd=cwd, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    peak, cpu = 0, 0.0
    for line in p.stdout.splitlines():
        if line.startswith("PEAK_RSS_KIB "):
            peak, cpu = int(line.split()[1]), float(line.split()[2])
        else:
            log.write(line + "\n")
    return p.returncode, wall, peak, cpu


def build(groups: list[str], root: Path, quiet: bool = False) -> dict[str, str]:
    env = go_env(root)
    gover = go_version(env)
    paths: dict[str, str] = {}
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    say(f"cache {root} ({gover})")
    t_all = time.monotonic()
    built, cpu_total = 0, 0.0
    for group in groups:
        folder, binaries = GROUPS[group]
        key = group_key(group, gover, env)
        out = bin_dir(root, group, key)
        out.mkdir(parents=True, exist_ok=True)
        missing = [n for n in binaries if not (out / n).exists()]
        if missing:
            # Fetch the modules these packages import (not the whole graph, as `go mod download` would:
            # ≈2x the bytes) first, so download time is not counted as compile time.
            t0 = time.monotonic()
            subprocess.run(["go", "list", "-deps", "-f", "{{.ImportPath}}", *[binaries[n] for n in missing]],
                           cwd=HERE / folder, env=env, check=True, stdout=subprocess.DEVNULL)
            say(f"{group}: modules ready in {time.monotonic() - t0:.1f}s")
        for name, pkg in binaries.items():
            target = out / name
            paths[f"{group}/{name}"] = str(target)
            if target.exists():
                say(f"{group}/{name}: cached {target}")
                continue
            tmp = out / f".{name}.tmp{os.getpid()}"
            with open(out / f"{name}.build.log", "w") as log:
                rc, wall, peak, cpu = run_measured(["go", "build", *build_flags(group), "-o", str(tmp), pkg],
                                              HERE / folder, env, log)
            if rc != 0:
                tmp.unlink(missing_ok=True)
                sys.exit(f"{group}/{name}: go build failed (exit {rc}); see {out / (name + '.build.log')}")
            tmp.rename(target)
            built += 1
            cpu_total += cpu
            size = target.stat().st_size / 2**20
            say(f"{group}/{name}: built in {wall:.1f}s wall, {cpu:.0f} CPU-s, peak RSS {peak / 1024:.0f} MiB, {size:.0f} MiB binary")
        for alias, target_name in ALIASES.get(group, {}).items():
            link = out / alias
            if not link.is_symlink():
                link.symlink_to(target_name)
            paths[f"{group}/{alias}"] = str(link)
        info = {"group": group, "key": key, "go": gover, "flags": build_flags(group),
                "binaries": {n: p for n, p in binaries.items()}}
        (out / "BUILDINFO.json").write_text(json.dumps(info, indent=2) + "\n")
    if not built:  # warm start: walking a multi-GiB cache for a disk figure would cost more than the check
        say(f"done in {time.monotonic() - t_all:.1f}s; nothing to build")
        return paths
    say(f"done in {time.monotonic() - t_all:.1f}s, {cpu_total:.0f} CPU-s of go build; disk: gomod {du_mib(root / 'gomod'):.0f} MiB, "
        f"gocache {du_mib(root / 'gocache'):.0f} MiB, bin {du_mib(root / 'bin'):.0f} MiB")
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("groups", nargs="*", choices=[[], *GROUPS], metavar="GROUP",
                    help=f"groups to build (default: {', '.join(DEFAULT_GROUPS)}; all: {', '.join(GROUPS)})")
    ap.add_argument("--list", action="store_true", help="show groups, keys and what is built")
    ap.add_argument("--paths", action="store_true", help="print JSON {group/name: path} on stdout")
    ap.add_argument("--prune", action="store_true", help="remove bin/ folders whose key is no longer current")
    args = ap.parse_args(argv)
    groups = args.groups or list(DEFAULT_GROUPS)
    root = cache_root()
    if args.list or args.prune:
        env = go_env(root)
        gover = go_version(env)
        current = set()
        for g in groups:
            key = group_key(g, gover, env)
            out = bin_dir(root, g, key)
            current.add(out.name)
            for n in GROUPS[g][1]:
                state = "built" if (out / n).exists() else "missing"
                if args.list:
                    print(f"{g:10} {n:16} {state:8} {out / n}")
        if args.prune and (root / "bin").exists():
            for d in (root / "bin").iterdir():
                if d.name.rsplit("-", 1)[0] in groups and d.name not in current:
                    shutil.rmtree(d)
                    print(f"removed {d}", file=sys.stderr)
        return 0
    paths = build(groups, root)
    if args.paths:
        print(json.dumps(paths, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
