"""The HTTP edge: route registry, admission middleware, problems, CORS, logs."""
