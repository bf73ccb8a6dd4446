"""The privacy policy: rendered from the manifest, versioned, diffed, announced."""
