"""Request and response records, one module per capability, shared by the edges and the services."""
