"""What the `callhook` CLI reads and writes through, kept out of the Lambda layer (no function imports it).

Built on the layer's package (`callhook`: models, repositories, the services the functions run), so the CLI checks
and writes with the functions' own code. Laid out like the layer: `services/` (config, replay, action test,
diagnosis, history, dead letters, erasure), `repositories/` (the SQS adapter of dead letters), `models/`.
`tests/build/test_layer_contents.py` proves the split: the layer holds exactly what the functions import.
"""
