"""The `callhook` admin and ops CLI (CONTRACT §5): configuration items, dialogs, raw events, executions, presets."""
