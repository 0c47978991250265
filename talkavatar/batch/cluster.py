"""The Ray cluster a batch runs on, and each job's share of it.

By default an embedded local cluster is started for the batch and stopped after it (no setup; nothing listens
beyond this machine). ``address`` (``auto`` or ``HOST:PORT``) joins a cluster made with ``ray start`` instead, and
leaves it running. Every job asks Ray for ``threads`` CPUs and, on a cluster with GPUs, 1/N of a GPU, so Ray never
places more threads on a node than it has cores, and N jobs share one GPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from talkavatar.batch.config import BatchConfig
from talkavatar.core.threads import usable_cores
from talkavatar.errors import MissingDependency, StageFailed, UsageError

OBJECT_STORE_BYTES = 128 * 1024 ** 2  # job results are small JSON records
START_ATTEMPTS = 3


@dataclass(frozen=True)
class Share:
    """What one job asks the cluster for."""

    threads: int
    gpus: float


@dataclass(frozen=True)
class Resources:
    """The alive nodes' CPUs and GPUs: totals and the largest node's CPUs."""

    nodes: int
    cpus: int
    gpus: int
    node_cpus: int


def connect(address: str | None) -> str:
    """Start the embedded cluster (``address`` None) or join one; returns where it runs."""
    try:
        import ray
    except ImportError:
        raise MissingDependency("talkavatar batch needs Ray, which is not installed",
                                tip="pip install 'talkavatar[batch]'") from None
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            if address is None:
                context = ray.init(address="local", num_cpus=usable_cores(),
                                   object_store_memory=OBJECT_STORE_BYTES, **options)
            else:
                context = ray.init(address=address, **options)
            break
        except Exception as e:  # noqa: BLE001 - Ray raises bare Exceptions; each becomes one line
            ray.shutdown()
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            if address is None and "timed out during startup" in reason and attempt < START_ATTEMPTS:
                continue  # a busy machine: Ray gives its node 30 s to come up
            raise StageFailed(f"cannot {'start a local Ray cluster' if address is None else 'join ' + address}: "
                              f"{reason}", tip="start one with `ray start --head`, then --address auto"
                              if address else "try again when the machine is less busy") from None
    return "local" if address is None else context.address_info.get("gcs_address", address)


def disconnect() -> None:
    """Leave the cluster (an embedded one stops)."""
    import ray

    ray.shutdown()


def resources() -> Resources:
    import ray

    alive = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    cpus = [int(r.get("CPU", 0)) for r in alive]
    return Resources(len(alive), sum(cpus), int(sum(r.get("GPU", 0) for r in alive)), max(cpus, default=0))


def shares(kinds: dict[str, int], cluster: Resources, config: BatchConfig) -> dict[str, Share]:
    """Each job kind's share, given how many jobs of each kind will run.

    Without GPUs the cluster's CPUs are divided among the jobs (one job alone gets a whole node). With GPUs, fits
    get 1/fits_per_gpu and renders 1/renders_per_gpu of a GPU, and the CPUs per GPU are divided among the jobs
    sharing one. ``config.threads`` fixes the threads; nothing asks for more CPUs than the largest node has."""
    if cluster.node_cpus < 1:
        raise UsageError("the Ray cluster has no CPUs to run jobs on")
    per_gpu = {"fit": config.fits_per_gpu, "render": config.renders_per_gpu}
    out = {}
    for kind in kinds:
        if cluster.gpus:
            threads = cluster.cpus // (cluster.gpus * per_gpu[kind])
            gpus = 1.0 / per_gpu[kind]
        else:
            threads = cluster.cpus // max(1, sum(kinds.values()))
            gpus = 0.0
        threads = config.threads or threads
        out[kind] = Share(max(1, min(threads, cluster.node_cpus)), gpus)
    return out
