"""The federation tests' upstream (oidc-provider on Node) and helpers to look into the database."""
