"""Moving between a Fides (fideslang) dataset and the manifest's data map, both ways."""
