"""callscope's worker process: the analysis pipeline as Celery tasks (see workers/pipeline.py)."""
