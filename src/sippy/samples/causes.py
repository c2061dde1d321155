"""Labels for the causes the sample generators plant, so an answer can be scored against them.

Why: a root-cause line is ground truth for the evidence ("did this line reach the prompt?"),
but an answer is prose: a model paraphrases. Each planted cause therefore carries a short
`label` (what a CI engineer would say) and `terms`: groups of alternatives, every group of
which an answer must mention (case-insensitively) to name the cause. The terms are the
distinctive words of the cause itself (an error code, the component and what happened to it),
never the failing test's name alone, so repeating which test failed does not count as naming
why. A `marker` is a fixed part of the planted line that identifies the cause in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlantedCause:
    """One cause: `label` for people, `terms` (all groups, any alternative) for scoring."""

    label: str
    marker: str
    terms: tuple[tuple[str, ...], ...]

    def named_in(self, text: str) -> bool:
        """Whether `text` mentions every group of terms (case-insensitive substrings)."""
        lowered = " ".join(text.lower().split())
        return all(any(alt.lower() in lowered for alt in group) for group in self.terms)


# The causes `samples.generator` plants (each marker is a fixed part of its template).
SAMPLE_CAUSES: tuple[PlantedCause, ...] = (
    PlantedCause(
        "route not admitted by the scoped router (HostAlreadyClaimed)",
        "HostAlreadyClaimed",
        (("HostAlreadyClaimed", "host already claimed"),),
    ),
    PlantedCause(
        "oc adm must-gather did not complete within 10 minutes",
        "gather did not complete within",
        (("must-gather", "must gather"), ("did not complete", "timed out", "timeout", "10m")),
    ),
    PlantedCause(
        "pushing the built image to the internal registry was unauthorized",
        "error pushing image to image-registry",
        (("unauthorized",), ("push",)),
    ),
    PlantedCause(
        "an OAuth token stayed valid after its expiry",
        "was still valid 10s after its expiry",
        (("still valid", "valid after", "not expire", "did not expire", "didn't expire"),),
    ),
    PlantedCause(
        "a pod could not reach another pod across namespaces (connection timed out)",
        "could not reach 10.129.2.",
        (("could not reach", "couldn't reach", "cannot reach", "unreachable"),),
    ),
    PlantedCause(
        "a CSI-provisioned PVC was never bound",
        "not all in phase Bound within",
        (("pvc", "persistentvolumeclaim", "volume claim"), ("bound", "binding")),
    ),
    PlantedCause(
        "a backend was unreachable during the test (disruption)",
        "was unreachable during disruption",
        (("unreachable", "disruption", "stopped responding"),),
    ),
    PlantedCause(
        "bootstrap did not complete: the control plane never came up",
        "Bootstrap failed to complete",
        (
            ("bootstrap",),
            ("timed out", "failed to complete", "did not complete", "timeout", "failed to wait"),
        ),
    ),
    PlantedCause(
        "bootstrap did not complete: the control plane never came up",
        "Failed to wait for bootstrapping to complete",
        (
            ("bootstrap",),
            ("timed out", "failed to complete", "did not complete", "timeout", "failed to wait"),
        ),
    ),
    PlantedCause(
        "the AWS vCPU limit was exceeded while creating control-plane machines",
        "VcpuLimitExceeded",
        (("VcpuLimitExceeded", "vcpu limit", "vcpu capacity", "vcpu quota"),),
    ),
    PlantedCause(
        "the AWS VPC limit was reached",
        "VpcLimitExceeded",
        (("VpcLimitExceeded", "maximum number of vpcs", "vpc limit", "vpc quota"),),
    ),
    PlantedCause(
        "no cloud quota lease could be acquired",
        "failed to acquire lease",
        (("lease",),),
    ),
    PlantedCause(
        "the release import pod was evicted (node low on memory)",
        "Evicted The node was low on resource",
        (("evicted", "eviction", "low on resource", "low on memory"),),
    ),
    PlantedCause(
        "the upgrade never completed: machine-config could not drain a worker",
        "Cluster did not complete upgrade",
        (
            ("machine-config", "machine config", "requiredpoolsfailed", "pool"),
            ("drain", "degraded", "did not complete", "timed out"),
        ),
    ),
    PlantedCause(
        "the upgrade never completed: machine-config could not drain a worker",
        "Pools did not complete upgrade",
        (
            ("machine-config", "machine config", "requiredpoolsfailed", "pool"),
            ("drain", "degraded", "did not complete", "timed out"),
        ),
    ),
)


def causes_of(
    lines: Iterable[str], known: Iterable[PlantedCause] = SAMPLE_CAUSES
) -> list[PlantedCause]:
    """The labelled causes whose marker appears in any of `lines`, once each, in order."""
    known = tuple(known)
    found: list[PlantedCause] = []
    for line in lines:
        for cause in known:
            if cause.marker in line and cause not in found:
                found.append(cause)
    return found
