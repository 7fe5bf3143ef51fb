"""The Celery side: the app, queues and routing, the retry/dead-letter policy, and thin tasks."""
