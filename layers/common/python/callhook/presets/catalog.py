"""The presets, one per provider. Field names follow each provider's published webhook reference (docs_url).

Expressions are JMESPath with callhook's functions (docs/mapping.md). Conventions used throughout:

* ``a && b || c`` picks ``b`` when ``a`` holds, else ``c`` (JMESPath has no if/else). ``0`` is true in JMESPath.
* Events that only add to a call (a recording, the first event of a call that carries its direction) are
  ``update_when`` events: they fill empty fields and never create a dialog, whatever order they arrive in.
* A field a provider never sends is left out, so the dialog shows it as null rather than as a wrong guess.
"""

from __future__ import annotations

from callhook.models.channel_config import HandshakeConfig
from callhook.models.preset import Preset

URL = "https://API_DOMAIN/webhooks/CHANNEL_ID"
TOKEN_URL = f"{URL}?token=WEBHOOK_TOKEN"
RECORDING_VIA_ACTION = ("The provider sends no recording URL: have the channel's enrichment action fetch it from "
                        "the provider's API and return it as `recording_url` in its result; it fills the dialog's.")

TWILIO = Preset(
    name="twilio",
    title="Twilio Programmable Voice: call status and recording status callbacks",
    docs_url="https://www.twilio.com/docs/voice/api/call-resource#statuscallback",
    what_to_paste=[
        f"StatusCallback (the number's Voice configuration, or the StatusCallback of calls you create): {URL}",
        f"RecordingStatusCallback (<Dial record>, <Record>, <Start><Recording> or the Recordings API): {URL}",
        "Set signature.secret to the account's Auth Token (or ssm:/callhook/...) to verify X-Twilio-Signature; "
        f"without it paste {TOKEN_URL} instead. Behind a proxy or custom domain set the channel's public_url to "
        "the exact URL entered in Twilio.",
    ],
    events_to_enable=["StatusCallbackEvent: completed (the default)",
                      "RecordingStatusCallbackEvent: completed (the default)"],
    arrives="A status callback per call leg when it ends (CallStatus completed, busy, no-answer, canceled or "
            "failed) creates the dialog; the recording status callback (RecordingStatus completed, RecordingUrl) "
            "arrives seconds to minutes later and fills recording_url and started_at.",
    signature={"scheme": "twilio"},
    recording_hosts=["api.twilio.com"],
    advanced_config={
        "field_mapping": {
            "call_id": "CallSid", "caller": "From", "callee": "To", "direction": "Direction",
            "duration": "CallDuration", "status": "CallStatus", "started_at": "RecordingStartTime",
            "recording_url": "RecordingUrl && join('', [RecordingUrl, '.mp3'])",
        },
        "accept_when": "contains(['completed', 'busy', 'no-answer', 'canceled', 'failed'], CallStatus)"
                       " || RecordingStatus == 'completed'",
        "update_when": "RecordingStatus != null",
    },
    notes=[
        "Twilio sends no call start time (Timestamp is the event's own time, RFC 2822): started_at comes from the "
        "recording's RecordingStartTime, and stays null for calls without a recording.",
        "RecordingUrl has no extension; the preset appends .mp3 (Twilio serves .wav as well). With 'HTTP Basic "
        "authentication for media' enabled in Twilio, recordings need credentials: give the channel a "
        "recording_auth (basic: account SID and auth token; sent to api.twilio.com only, list regional hosts such "
        "as api.dublin.ie1.twilio.com in recording_auth.hosts), or let the enrichment action return a fetchable "
        "recording_url.",
        "<Dial> creates a child leg (Direction outbound-dial) with its own CallSid: put the StatusCallback on the "
        "leg you want as the dialog.",
    ],
)

AIRCALL = Preset(
    name="aircall",
    title="Aircall call events",
    docs_url="https://developer.aircall.io/api-references/#call",
    what_to_paste=[
        f"Webhook URL (Integrations > Webhooks, or POST /v1/webhooks): {URL}",
        "Set signature.secret to the webhook's token (shown with the webhook) so that callhook compares the token "
        f"Aircall puts in every body; without it paste {TOKEN_URL}.",
    ],
    events_to_enable=["call.ended", "call.voicemail_left"],
    arrives="call.ended, once the call is over, carries everything (numbers, times, duration, user, recording); "
            "call.voicemail_left adds the voicemail URL.",
    signature={"scheme": "body-token", "field": "token"},
    advanced_config={
        "field_mapping": {
            "call_id": "data.id", "direction": "data.direction",
            "caller": "data.direction == 'inbound' && data.raw_digits || data.number.digits",
            "callee": "data.direction == 'inbound' && data.number.digits || data.raw_digits",
            "started_at": "data.started_at", "duration": "data.duration",
            "status": "data.missed_call_reason || data.status", "recording_url": "data.recording || data.voicemail",
            "operator_email": "data.user.email",
        },
        "accept_when": "contains(['call.ended', 'call.voicemail_left'], event)",
        "update_when": "event == 'call.voicemail_left'",
    },
    notes=["Aircall's recording and voicemail links are pre-signed and expire after about 10 minutes: enable "
           "auto_transcription, or have the enrichment action return a fresh link (GET /v1/calls/{id})."],
)

TELNYX = Preset(
    name="telnyx",
    title="Telnyx Voice API (Call Control) webhooks",
    docs_url="https://developers.telnyx.com/docs/voice/programmable-voice/voice-api-webhooks",
    what_to_paste=[
        f"Webhook URL of the Voice API application (Call Control app): {URL}",
        "Set signature.secret to the account's public key (Mission Control > Keys & Credentials > Public Key, "
        "base64) to verify telnyx-signature-ed25519.",
    ],
    events_to_enable=["call.initiated", "call.hangup", "call.recording.saved (start recording with record_start)"],
    arrives="call.initiated (the only event with the direction), call.answered, ..., call.hangup, then "
            "call.recording.saved with the recording URLs. All legs of a call share call_session_id: call.hangup "
            "creates the dialog, call.initiated and call.recording.saved fill it, in whatever order they come.",
    signature={"scheme": "telnyx"},
    advanced_config={
        "field_mapping": {
            "call_id": "data.payload.call_session_id", "direction": "data.payload.direction",
            "caller": "data.payload.from", "callee": "data.payload.to", "started_at": "data.payload.start_time",
            "duration": "data.event_type == 'call.hangup'"
                        " && seconds_between(data.payload.start_time, data.occurred_at) || null",
            "status": "data.payload.hangup_cause",
            "recording_url": "data.payload.recording_urls.mp3 || data.payload.public_recording_urls.mp3",
        },
        "accept_when": "contains(['call.initiated', 'call.hangup', 'call.recording.saved'], data.event_type)",
        "update_when": "data.event_type != 'call.hangup'",
    },
    notes=[
        "call.hangup has no end time or duration: duration is occurred_at - start_time, ringing included.",
        "Recording URLs are valid for about 10 minutes: enable auto_transcription, or let the enrichment action "
        "return a fresh recording_url from the Recordings API.",
        "When a call has several legs, the first leg's direction fills the dialog.",
    ],
)

VONAGE = Preset(
    name="vonage",
    title="Vonage Voice API: event and record webhooks",
    docs_url="https://developer.vonage.com/en/voice/voice-api/webhook-reference",
    what_to_paste=[
        f"Event URL of the Vonage application (Voice capability), and the eventUrl of record actions: {URL}",
        "Set signature.secret to the account's signature secret (Dashboard > API settings) to verify the "
        "Authorization: Bearer JWT (HS256, payload_hash) Vonage signs its callbacks with.",
    ],
    events_to_enable=["the event webhook (every status; completed and the other final ones are used)",
                      "record action eventUrl"],
    arrives="Call status events per leg (started, ringing, answered, completed or another final status); the "
            "record webhook arrives after the call with recording_url. Both carry conversation_uuid, which ties "
            "the legs and the recording into one dialog.",
    signature={"scheme": "vonage"},
    recording_hosts=["api.nexmo.com"],
    advanced_config={
        "field_mapping": {
            "call_id": "conversation_uuid", "direction": "direction", "caller": "from", "callee": "to",
            "started_at": "start_time", "duration": "duration", "status": "status", "recording_url": "recording_url",
        },
        "accept_when": "contains(['completed', 'busy', 'cancelled', 'failed', 'rejected', 'timeout', 'unanswered'],"
                       " status) || recording_url != null",
        "update_when": "recording_url != null",
    },
    notes=["recording_url needs a JWT of the Vonage application to download: let the enrichment action return a "
           "fetchable recording_url for transcription.",
           "The first leg to finish gives the dialog its direction and numbers."],
)

PLIVO = Preset(
    name="plivo",
    title="Plivo Voice: hangup and recording callbacks",
    docs_url="https://www.plivo.com/docs/voice/concepts/signature-validation",
    what_to_paste=[
        f"hangup_url of the application (or of calls you make) and the callbackUrl of <Record>: {URL}",
        "Set signature.secret to the (sub)account Auth Token to verify X-Plivo-Signature-V3.",
    ],
    events_to_enable=["Hangup (hangup_url)", "recording callback (Record callbackUrl)"],
    arrives="The hangup callback at the end of the call creates the dialog; the record callback (RecordUrl) "
            "fills recording_url.",
    signature={"scheme": "plivo"},
    recording_hosts=["media.plivo.com"],
    advanced_config={
        "field_mapping": {
            "call_id": "CallUUID", "direction": "Direction", "caller": "From", "callee": "To",
            "started_at": "StartTime", "duration": "Duration", "status": "CallStatus", "recording_url": "RecordUrl",
        },
        "accept_when": "Event == 'Hangup' || RecordUrl != null",
        "update_when": "RecordUrl != null",
    },
    notes=["StartTime has no offset; callhook reads it as UTC. Set advanced_config.timezone if your account "
           "reports local times."],
)

EXOTEL = Preset(
    name="exotel",
    title="Exotel call status callback (Connect API and Passthru)",
    docs_url="https://developer.exotel.com/api/make-a-call-api",
    what_to_paste=[f"StatusCallback of the Connect API, or the Passthru applet URL: {TOKEN_URL}",
                   "Exotel does not sign webhooks: keep the token in the URL (and allow-list Exotel's IPs)."],
    events_to_enable=["StatusCallbackEvents: terminal"],
    arrives="One callback when the call ends, with RecordingUrl when the call was recorded.",
    advanced_config={
        "field_mapping": {
            "call_id": "CallSid", "direction": "Direction", "caller": "From", "callee": "To",
            "started_at": "StartTime", "duration": "ConversationDuration || DialCallDuration",
            "status": "Status || DialCallStatus", "recording_url": "RecordingUrl",
        },
        "timezone": "Asia/Kolkata",
        "default_region": "IN",
    },
    notes=["Times are IST without an offset (the preset sets timezone Asia/Kolkata); numbers come in national form "
           "(default_region IN)."],
)

ZADARMA = Preset(
    name="zadarma",
    title="Zadarma (and Novofon) PBX call notifications",
    docs_url="https://zadarma.com/en/support/api/#api_webhooks",
    what_to_paste=[f"Settings > Integrations and API > Notifications, 'Link': {URL}",
                   "Set signature.secret to the API secret (Settings > API) to verify the Signature header. "
                   "Zadarma first checks the link with ?zd_echo=...: callhook echoes it."],
    events_to_enable=["NOTIFY_END (incoming call end)", "NOTIFY_OUT_END (outgoing call end)",
                      "NOTIFY_RECORD (optional: ignored, see notes)"],
    arrives="NOTIFY_START/NOTIFY_ANSWER during the call (ignored), NOTIFY_END or NOTIFY_OUT_END when it ends, "
            "then NOTIFY_RECORD once the recording is stored (ignored: it carries no URL).",
    signature={"scheme": "zadarma"},
    handshake=HandshakeConfig(kind="echo_query", param="zd_echo"),
    advanced_config={
        "field_mapping": {
            "call_id": "pbx_call_id",
            "direction": "map_value(event, `{\"NOTIFY_END\": \"inbound\", \"NOTIFY_OUT_END\": \"outbound\"}`)",
            "caller": "caller_id", "callee": "called_did || destination", "started_at": "call_start",
            "duration": "duration", "status": "disposition", "operator_ext": "internal",
        },
        "accept_when": "contains(['NOTIFY_END', 'NOTIFY_OUT_END'], event)",
    },
    notes=[RECORDING_VIA_ACTION + " (Zadarma: GET /v1/pbx/record/request/?pbx_call_id=...).",
           "call_start has no time zone: set advanced_config.timezone to the PBX's zone."],
)

DIALPAD = Preset(
    name="dialpad",
    title="Dialpad call events",
    docs_url="https://developers.dialpad.com/docs/call-events",
    what_to_paste=[f"Create a webhook (POST /api/v2/webhooks) with hook_url {URL} and a secret, then a call event "
                   "subscription for it.",
                   "Set signature.secret to the webhook's secret: Dialpad then sends each event as a JWT (HS256), "
                   f"which callhook verifies and decodes. Without a secret use hook_url {TOKEN_URL}."],
    events_to_enable=["call_states: hangup, recording"],
    arrives="One event per state of each call leg; legs of one call share entry_point_call_id. hangup creates the "
            "dialog; recording (recording_details) fills recording_url.",
    signature={"scheme": "dialpad"},
    recording_hosts=["dialpad.com"],
    advanced_config={
        "field_mapping": {
            "call_id": "entry_point_call_id || call_id", "direction": "direction",
            "caller": "direction == 'outbound' && internal_number || external_number",
            "callee": "direction == 'outbound' && external_number || internal_number",
            "started_at": "date_started", "duration": "ms_to_seconds(duration)",
            "status": "state == 'hangup' && (date_connected && 'answered' || 'missed') || null",
            "recording_url": "recording_details[0].url || recording_url[0]", "operator_email": "target.email",
        },
        "accept_when": "contains(['hangup', 'recording'], state)",
        "update_when": "state == 'recording'",
    },
    notes=["Times are epoch milliseconds and duration is in milliseconds.",
           "A call ringing several agents has several legs: the first leg to hang up gives the operator email."],
)

RINGCENTRAL = Preset(
    name="ringcentral",
    title="RingCentral telephony session notifications (webhook subscription)",
    docs_url="https://developers.ringcentral.com/guide/notifications/webhooks/creating-webhooks",
    what_to_paste=[f"deliveryMode.address of the subscription (POST /restapi/v1.0/subscription): {URL}",
                   "Set deliveryMode.verificationToken and the same value as signature.secret: RingCentral sends it "
                   "in the Verification-Token header. Without it use the address "
                   f"{TOKEN_URL}. The subscription's Validation-Token check is echoed by callhook."],
    events_to_enable=["/restapi/v1.0/account/~/telephony/sessions"],
    arrives="A notification per party status change (Setup, Proceeding, Answered, Disconnected, ...). "
            "Disconnected creates the dialog; Answered gives started_at.",
    signature={"scheme": "header-token", "header": "verification-token"},
    handshake=HandshakeConfig(kind="echo_header", param="Validation-Token"),
    advanced_config={
        "field_mapping": {
            "call_id": "body.telephonySessionId", "direction": "body.parties[0].direction",
            "caller": "body.parties[0].from.phoneNumber", "callee": "body.parties[0].to.phoneNumber",
            "started_at": "body.parties[0].status.code == 'Answered' && body.eventTime || null",
            "status": "body.parties[0].missedCall && 'Missed' || body.parties[0].status.code",
        },
        "accept_when": "contains(['Answered', 'Disconnected'], body.parties[0].status.code)",
        "update_when": "body.parties[0].status.code == 'Answered'",
    },
    notes=["Notifications carry no duration and no recording: " + RECORDING_VIA_ACTION +
           " (RingCentral: the call log API, /account/~/call-log?sessionId=...)."],
)

MANGO = Preset(
    name="mango",
    title="Mango Office VPBX realtime events",
    docs_url="https://www.mango-office.ru/support/integratsiya_api/api_dlya_razrabotchikov/",
    what_to_paste=[f"Integrations > API connection, 'External system address': {URL}",
                   "Set signature.secret to the API salt (the 'sign' key of the API connection) and, optionally, "
                   "signature.api_key to the VPBX's unique code (vpbx_api_key) to verify sign."],
    events_to_enable=["Call summary (/events/summary)"],
    arrives="Mango posts each kind of event to the address plus a path (/events/call, /events/summary, "
            "/events/recording); callhook takes them all on the same channel. /events/summary, once per call, "
            "creates the dialog; the others are ignored.",
    signature={"scheme": "mango"},
    advanced_config={
        "field_mapping": {
            "call_id": "from_json(json).entry_id",
            "direction": "map_value(from_json(json).call_direction, `{\"1\": \"inbound\", \"2\": \"outbound\"}`)",
            "caller": "to_string(from_json(json).call_direction) == '2' && from_json(json).line_number"
                      " || from_json(json).from.number",
            "callee": "to_string(from_json(json).call_direction) == '1' && from_json(json).line_number"
                      " || from_json(json).to.number",
            "started_at": "from_json(json).create_time",
            "duration": "to_number(from_json(json).talk_time) > `0`"
                        " && seconds_between(from_json(json).talk_time, from_json(json).end_time) || `0`",
            "status": "map_value(from_json(json).entry_result, `{\"1\": \"answered\", \"0\": \"missed\"}`)",
            "operator_ext": "to_string(from_json(json).call_direction) == '2'"
                            " && from_json(json).from.extension || from_json(json).to.extension",
        },
        "accept_when": "from_json(json).call_direction != null",
        "default_region": "RU",
    },
    notes=["The call data is a JSON document inside the form field json; the mapping reads it with from_json.",
           RECORDING_VIA_ACTION + " (Mango: /events/recording gives recording_id, /vpbx/queries/recording/post "
           "a one-time link)."],
)

BINOTEL = Preset(
    name="binotel",
    title="Binotel call completed (API CALL COMPLETED)",
    docs_url="https://developers.binotel.ua/",
    what_to_paste=[f"'API CALL COMPLETED' address (asked from Binotel support or set in the cabinet): {TOKEN_URL}",
                   "Binotel does not sign webhooks: keep the token in the URL (and allow-list Binotel's IPs)."],
    events_to_enable=["apiCallCompleted"],
    arrives="One form post per finished call, with PHP bracket keys (callDetails[...]); Binotel expects "
            "{\"status\": \"success\"} back.",
    answer={"status": "success"},
    advanced_config={
        "field_mapping": {
            "call_id": "callDetails.generalCallID",
            "direction": "map_value(callDetails.callType, `{\"0\": \"inbound\", \"1\": \"outbound\"}`)",
            "caller": "callDetails.callType == '1' && callDetails.pbxNumberData.number || callDetails.externalNumber",
            "callee": "callDetails.callType == '1' && callDetails.externalNumber || callDetails.pbxNumberData.number",
            "started_at": "callDetails.startTime", "duration": "callDetails.billsec",
            "status": "callDetails.disposition", "recording_url": "callDetails.linkToCallRecordInMyBusiness",
            "operator_email": "callDetails.employeeData.email", "operator_ext": "callDetails.internalNumber",
        },
        "accept_when": "requestType == 'apiCallCompleted'",
        "default_region": "UA",
    },
    notes=["linkToCallRecordInMyBusiness opens in the Binotel cabinet (login needed): for transcription, let the "
           "enrichment action return a downloadable recording_url (Binotel API stats/call-record)."],
)

SIPUNI = Preset(
    name="sipuni",
    title="Sipuni call events",
    docs_url="https://sipuni.com/ru_RU/support",
    what_to_paste=[f"Settings > Integrations > API, 'Event notifications' URL (GET or POST): {TOKEN_URL}",
                   "Sipuni does not sign events: keep the token in the URL."],
    events_to_enable=["call start (event 1)", "call end (event 2)", "answer (event 3)"],
    arrives="Several events per call with the same call_id: 1 when it starts, 3 when answered, 2 when it ends "
            "(status, call_record_link), 4 for other legs (ignored). Some events carry no numbers: event 2 creates "
            "the dialog, events 1 and 3 fill what it lacks.",
    answer={"success": True},
    advanced_config={
        "field_mapping": {
            "call_id": "call_id",
            "direction": "src_type == '1' && 'inbound' || (dst_type == '1' && 'outbound' || null)",
            "caller": "src_num", "callee": "dst_num", "started_at": "call_start_timestamp",
            "duration": "event == '2' && call_answer_timestamp && call_answer_timestamp != '0'"
                        " && seconds_between(call_answer_timestamp, timestamp) || null",
            "status": "status", "recording_url": "call_record_link",
            "operator_ext": "dst_type == '2' && (short_dst_num || dst_num) || (src_type == '2' && (short_src_num ||"
                            " src_num) || null)",
        },
        "accept_when": "contains(['1', '2', '3'], event)",
        "update_when": "event != '2'",
        "default_region": "RU",
    },
    notes=["Duration is timestamp - call_answer_timestamp of the end event (Sipuni sends no duration field); it is "
           "null for unanswered calls."],
)

BITRIX24 = Preset(
    name="bitrix24",
    title="Bitrix24 telephony: OnVoximplantCallEnd (outbound webhook)",
    docs_url="https://apidocs.bitrix24.com/api-reference/telephony/events/on-voximplant-call-end.html",
    what_to_paste=[f"Developer resources > Outbound webhook, 'URL of your handler': {URL}",
                   "Set signature.secret to the webhook's application token ('Authentication code'): callhook "
                   "compares auth[application_token] in every event."],
    events_to_enable=["ONVOXIMPLANTCALLEND"],
    arrives="One form post (data[...], auth[...]) when the call ends.",
    signature={"scheme": "body-token", "field": "auth.application_token"},
    advanced_config={
        "field_mapping": {
            "call_id": "data.CALL_ID",
            "direction": "map_value(data.CALL_TYPE, `{\"1\": \"outbound\", \"2\": \"inbound\", \"3\": \"inbound\","
                         " \"4\": \"outbound\"}`)",
            "caller": "contains(['1', '4'], data.CALL_TYPE) && data.PORTAL_NUMBER || data.PHONE_NUMBER",
            "callee": "contains(['1', '4'], data.CALL_TYPE) && data.PHONE_NUMBER || data.PORTAL_NUMBER",
            "started_at": "data.CALL_START_DATE", "duration": "data.CALL_DURATION",
            "status": "data.CALL_FAILED_REASON || data.CALL_FAILED_CODE",
        },
        "accept_when": "event == 'ONVOXIMPLANTCALLEND'",
    },
    notes=[RECORDING_VIA_ACTION + " (Bitrix24: voximplant.statistic.get, RECORD_FILE_ID / CALL_RECORD_URL).",
           "PORTAL_USER_ID is a Bitrix24 user id, not an extension: map operator_email through the action."],
)

PRESETS: tuple[Preset, ...] = (TWILIO, AIRCALL, TELNYX, VONAGE, PLIVO, EXOTEL, ZADARMA, DIALPAD, RINGCENTRAL, MANGO,
                               BINOTEL, SIPUNI, BITRIX24)
