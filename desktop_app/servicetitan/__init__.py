"""ServiceTitan REST API v2 client (no Qt).

- client.ServiceTitanClient: transport (token, rate limit, retries) plus the endpoint methods
  from resources.ServiceTitanResources.
- models: typed records; connection.check_connection: `test-connection --servicetitan`.
"""
