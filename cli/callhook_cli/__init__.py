"""The `callhook` admin and ops CLI (docs/cli.md): configuration items, dialogs, raw events, executions, presets."""
