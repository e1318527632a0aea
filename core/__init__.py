"""leadhub's domain: the contact store, normalisation, identity resolution, ingest. No Flask, no HTTP."""
