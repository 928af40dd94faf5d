"""What the service tells its operators: a structured log line and metrics per request, and the metrics."""
