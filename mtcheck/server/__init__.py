"""The HTTP service behind ``mtcheck serve``: app (routes and the page), service (checking and its
limits), http (middleware: body limit, headers, timeouts) and schemas (the OpenAPI shapes)."""
