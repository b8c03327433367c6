"""A form webhook with a field named `Action` (found by the fuzzer): moto read the invoke's body as a query string
and dispatched it as that unknown AWS action (500). The local API front now invokes with a URL query."""

from __future__ import annotations

from tests.support.stack import StackClient, unique


def test_form_webhook_with_an_action_field_becomes_a_dialog(stack: StackClient) -> None:
    # Given a channel of form webhooks, and a provider that sends a field named Action (as IVR callbacks do)
    ch = stack.channel(advanced_config={"field_mapping": {"call_id": "CallSid", "status": "Action"}})
    call_id = unique("call")
    # When
    resp = stack.post(ch, form={"CallSid": call_id, "Action": "Hangup", "Ö": "Ó񾏳"})
    # Then
    assert resp.status_code == 200, resp.text
    dialog = stack.dialog_for(ch, call_id)
    assert dialog is not None and dialog.telephony.status == "Hangup"
