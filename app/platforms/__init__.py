"""The voice platforms we take events from (docs/integrations.md): how each signs its events
(signatures.py) and how each event's payload maps to a call (one module per platform). Pure
functions: no I/O, so the web process can run them inside its request."""
