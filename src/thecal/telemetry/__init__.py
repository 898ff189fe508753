"""Secure telemetry between the pump and its programmers: frames, keys, pairing, endpoint, transport.

Theory of operation. Every device owns an Ed25519 key certified with its role
by an enrolment authority. A programmer or PTM pairs with a pump only inside
the short window a proximity step (the magnet over the implant) opens; the
handshake proves both keys and agrees link keys (pairing). After that each
command travels in one frame: a canonical CBOR header of version, type, sender
key id and counter, and a ChaCha20-Poly1305 body that authenticates the header
(frames, link). The pump checks, in order, version, key, authenticity, counter
freshness, the command table and the sender's role before its dispatcher sees
anything (endpoint, commands); counters and the replies to state-changing
commands are saved before anything is acknowledged (counters, replies,
persistence), so a retried command id gets its first answer back instead of a
second execution, and a bolus whose outcome is unknown counts as delivered
(client). Transports only move bytes (transport). A command becomes a firmware
command, and a firmware command a telemetry command, through one mapping
(pump_commands); the table itself holds no clinical rule: the firmware
enforces the hard limits of the drug label it holds. The pump's side
(endpoint) never imports the programmer's side (client, device_files).
"""
