"""Checks what deploy/ ships, at least for syntax; run by the test suite (`deploy_files_check`)
with the pinned virtualenv of tests/python, or by hand:

    python3 deploy/check.py [--hearth PATH/TO/hearth]

- every YAML file parses, and says what it should (compose services and volumes, the kinds and
  files of the Kubernetes manifests and the kustomization);
- the systemd unit is checked by `systemd-analyze verify` where it exists (else parsed), and its
  env file sets only variables hearth reads;
- the Dockerfile has a build and a run stage, and every path it copies exists;
- shell scripts pass `bash -n` / `sh -n` (the compose setup and the Kubernetes init script);
- `hearth config check` accepts every example config (with --hearth).

Prints one line per check; exits 1 with the failures listed.
"""

import argparse
import configparser
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent
ROOT = DEPLOY.parent
HEARTH_ENV = {"HEARTH_DATA_DIR", "HEARTH_LOG", "HEARTH_LOG_FORMAT", "HEARTH_OPERATOR", "HEARTH_LOCK_WAIT_MS"}
failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(f"{what}: {detail}")


def yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def shell_ok(interpreter, script, what):
    r = subprocess.run([interpreter, "-n"], input=script, text=True, capture_output=True)
    check(what, r.returncode == 0, r.stderr.strip())


def compose():
    path = DEPLOY / "compose" / "compose.yaml"
    (doc,) = yaml_docs(path)
    services = doc.get("services", {})
    nodes = ["municipal", "enterprise", "branch", "team-1"]
    check("compose: setup and four nodes", set(services) == {"setup", *nodes}, sorted(services))
    for n in nodes:
        s = services.get(n, {})
        check(f"compose: {n} keeps /data in its volume", f"{n}:/data" in s.get("volumes", []), s)
        check(f"compose: {n} waits for setup", "setup" in s.get("depends_on", {}), s)
        check(f"compose: {n} has its example config", (DEPLOY / "federation" / f"{n}.toml").is_file())
    check("compose: volumes declared", set(doc.get("volumes", {})) >= {"ca", *nodes}, doc.get("volumes"))
    build = services.get("setup", {}).get("build", {})
    dockerfile = (path.parent / build.get("context", "") / build.get("dockerfile", "")).resolve()
    check("compose: builds deploy/container/Dockerfile", dockerfile == DEPLOY / "container" / "Dockerfile", dockerfile)
    shell_ok("bash", (DEPLOY / "compose" / "setup.sh").read_text(), "compose: setup.sh is valid bash")


def kubernetes():
    k8s = DEPLOY / "k8s"
    (kust,) = yaml_docs(k8s / "kustomization.yaml")
    kinds = {}
    for res in kust["resources"]:
        for d in yaml_docs(k8s / res):
            kinds.setdefault(d["kind"], []).append(d)
            check(f"k8s: {res} {d['kind']} has apiVersion and name", "apiVersion" in d and d.get("metadata", {}).get("name"))
    check("k8s: a StatefulSet, Services, a Namespace", {"StatefulSet", "Service", "Namespace"} <= set(kinds), sorted(kinds))
    for gen in kust.get("configMapGenerator", []):
        for f in gen["files"]:
            check(f"k8s: config map file {f} exists", (k8s / f).is_file())
    secret_files = [f for g in kust.get("secretGenerator", []) for f in g["files"]]
    check("k8s: the Secret carries the TLS files and the salt",
          {pathlib.Path(f).name for f in secret_files} == {"ca.pem", "node.pem", "node.key", "federation.salt"}, secret_files)
    (sts,) = kinds["StatefulSet"]
    spec = sts["spec"]
    check("k8s: one replica (a node id runs once)", spec["replicas"] == 1)
    claims = [c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])]
    check("k8s: a volume claim for the data dir", "data" in claims, claims)
    pod = spec["template"]["spec"]
    mounted = {v["name"] for c in pod["containers"] for v in c.get("volumeMounts", [])}
    check("k8s: the node mounts the data dir", "data" in mounted, mounted)
    volumes = {v["name"]: v for v in pod["volumes"]}
    check("k8s: the Secret is a volume", volumes.get("secret", {}).get("secret", {}).get("secretName") == "hearth-secret")
    names = {g["name"] for g in kust.get("configMapGenerator", [])}
    check("k8s: the ConfigMap is a volume", volumes.get("config", {}).get("configMap", {}).get("name") in names)
    selector = spec["selector"]["matchLabels"]
    for svc in kinds["Service"]:
        check(f"k8s: Service {svc['metadata']['name']} selects the node", svc["spec"]["selector"] == selector)
    for init in pod.get("initContainers", []):
        shell_ok("sh", init["args"][0], f"k8s: init container {init['name']} script is valid sh")
    probe = pod["containers"][0]["livenessProbe"]["httpGet"]
    check("k8s: liveness probe on /healthz", probe["path"] == "/healthz")


def systemd():
    unit = DEPLOY / "systemd" / "hearth.service"
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(unit)
    check("systemd: [Unit] [Service] [Install]", {"Unit", "Service", "Install"} <= set(parser.sections()), parser.sections())
    check("systemd: runs `hearth serve`", parser["Service"].get("ExecStart", "").endswith("hearth serve"))
    analyze = shutil.which("systemd-analyze")
    if analyze:
        # verify needs the binary and env file to exist: point them at stand-ins.
        with tempfile.TemporaryDirectory() as tmp:
            text = unit.read_text().replace("/usr/local/bin/hearth", "/bin/true").replace(
                "/etc/hearth/hearth.env", str(DEPLOY / "systemd" / "hearth.env"))
            copy = pathlib.Path(tmp) / "hearth.service"
            copy.write_text(text)
            r = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
            complaints = [l for l in (r.stdout + r.stderr).splitlines() if "hearth.service" in l]
            check("systemd: systemd-analyze verify has no complaint", r.returncode == 0 and not complaints, complaints)
    env = (DEPLOY / "systemd" / "hearth.env").read_text().splitlines()
    keys = [l.split("=", 1)[0] for l in env if l.strip() and not l.startswith("#")]
    bad = [l for l in env if l.strip() and not l.startswith("#") and not re.fullmatch(r"[A-Z_]+=\S*", l)]
    check("systemd: env file is KEY=VALUE lines", not bad, bad)
    check("systemd: env file sets only what hearth reads", set(keys) <= HEARTH_ENV, set(keys) - HEARTH_ENV)


def dockerfile():
    text = (DEPLOY / "container" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.M | re.I)
    check("Dockerfile: a build and a run stage", len(stages) >= 2, stages)
    check("Dockerfile: the run stage copies the binary from the build", re.search(r"^COPY --from=build ", text, re.M) is not None)
    for src in re.findall(r"^COPY (?!--from)(.+?)\s+\S+$", text, re.M):
        for p in src.split():
            check(f"Dockerfile: COPY {p} exists", (ROOT / p).exists())
    check("Dockerfile: runs as a non-root user", re.search(r"^USER\s+(?!root)\S+", text, re.M) is not None)


def configs(hearth):
    files = sorted(DEPLOY.glob("federation/*.toml")) + [DEPLOY / "k8s" / "hearth.toml"]
    r = subprocess.run([hearth, "config", "check", *map(str, files)], capture_output=True, text=True)
    check(f"hearth config check ({len(files)} example configs)", r.returncode == 0, r.stderr.strip())
    print(r.stdout.strip())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hearth", help="the hearth binary, to check the example configs")
    args = p.parse_args()
    for yml in sorted(DEPLOY.rglob("*.yaml")):
        try:
            yaml_docs(yml)
            check(f"YAML parses: {yml.relative_to(ROOT)}", True)
        except yaml.YAMLError as e:
            check(f"YAML parses: {yml.relative_to(ROOT)}", False, str(e).replace("\n", " "))
    compose()
    kubernetes()
    systemd()
    dockerfile()
    if args.hearth:
        configs(args.hearth)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
