"""The SetTopic step: the topic alias the action returned, set only when it exists exactly."""

from __future__ import annotations

import difflib

from callhook.models.dialog import EnrichmentStatus, Reason, TopicResolution, TopicStatus
from callhook.models.reasons import TopicReason
from callhook.models.workflow import WorkflowState
from callhook.observability import logger
from callhook.ports import Dialogs, Topics


def resolve_topic(alias: str | None, enrichment_status: str | None, topics: Topics) -> TopicResolution:
    if enrichment_status == EnrichmentStatus.DISABLED or enrichment_status is None:
        return TopicResolution(status=TopicStatus.NOT_SET, reason=Reason(
            code=TopicReason.ENRICHMENT_DISABLED,
            message="the channel has no webhook_enrich_action; topics come from it"))
    if not alias:
        return TopicResolution(status=TopicStatus.NOT_SET, reason=Reason(
            code=TopicReason.NO_TOPIC_RETURNED, message="the enrich action returned no topic"))
    if topics.exists(alias):
        return TopicResolution(status=TopicStatus.SET, alias=alias)
    # Only on the unhappy path: a listing of the (small) topics table to suggest what the admin meant.
    nearest = difflib.get_close_matches(alias, topics.aliases(), n=3, cutoff=0.5)
    return TopicResolution(status=TopicStatus.NOT_SET, alias=alias, reason=Reason(
        code=TopicReason.NO_SUCH_TOPIC, alias=alias, nearest=nearest,
        message=f"no topic with alias {alias!r} (compared exactly)"
                + (f"; did you mean {nearest}?" if nearest else "")))


def set_topic(state: WorkflowState, dialogs: Dialogs, topics: Topics) -> WorkflowState:
    enrichment = state.enrichment
    status = enrichment.status.value if enrichment else (
        EnrichmentStatus.DISABLED.value if not state.enrich_action else None)
    resolution = resolve_topic(enrichment.topic if enrichment else None, status, topics)
    dialogs.set_sections(state.dialog_id, {
        "topic_resolution": resolution.model_dump(mode="json"),
        "topic": resolution.alias if resolution.status == TopicStatus.SET else None})
    logger.info("topic resolved", status=resolution.status.value, alias=resolution.alias)
    return state
