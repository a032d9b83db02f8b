"""The REST API (Powertools APIGatewayRestResolver with validation; OpenAPI at GET /openapi.json)."""
