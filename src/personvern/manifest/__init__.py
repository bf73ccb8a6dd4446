"""The manifest: a service's privacy policy as code (schema, loading, references)."""
