"""The worker's Celery app with a 3-s Redis visibility timeout — far below how long the test's
recording download takes — so Redis hands the running task to another pool process. Settings
refuse such a configuration (the timeout must exceed the task time limit); only this test
builds it, to watch a real redelivery happen."""
from workers.celery_app import celery

# kombu sweeps for expired unacked messages every interval × throttle seconds (100 s by default)
celery.conf.broker_transport_options = {**celery.conf.broker_transport_options, "visibility_timeout": 3,
                                        "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
app = celery
