"""The webhook path's adapters, built in one place for every door into ingest: the Ingest function (cached channel
reads), and the doors that run a kept request through ingest again, reading the channel fresh (Reconcile,
ReleaseHeld, `callhook events replay`). Each composition root decides when to build them (once per sandbox).

Apart from callhook/wiring.py on purpose: the webhook path's cold import carries nothing of transcription.
"""

from callhook.aws import ClientLimits
from callhook.repositories.executions import StepFunctionsExecutions
from callhook.repositories.ingest import CachedChannels, IngestDialogs, IngestEvents
from callhook.repositories.payloads import BucketPayloads
from callhook.repositories.recording_requests import KeepRecordingRequests
from callhook.repositories.spool import SpoolStore
from callhook.secrets_resolver import ResolvedSecrets
from callhook.services.ingest import IngestPorts
from callhook.settings import IngestSettings


def ingest_ports(settings: IngestSettings, *, fresh: bool = False, limits: ClientLimits | None = None) -> IngestPorts:
    """The AWS adapters ingest decides over. `fresh`: channels read uncached (a kept request's item was just
    fixed; an admin's replay follows an edit). `limits`: those the composition root set for its clients
    (`aws.use_limits`), for the secrets clients too."""
    return IngestPorts(
        channels=CachedChannels(settings.channels_table, 0 if fresh else settings.channel_cache_seconds),
        dialogs=IngestDialogs(settings.dialogs_table), events=IngestEvents(settings.events_table),
        spool=SpoolStore(settings.recordings_bucket), executions=StepFunctionsExecutions(settings.state_machine_arn),
        recordings=KeepRecordingRequests(), secrets=ResolvedSecrets(what="the signature secret", limits=limits,
                                                                   max_age=settings.channel_cache_seconds),
        payloads=BucketPayloads(settings.recordings_bucket))
