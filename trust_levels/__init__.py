"""trust_levels part of the Bürgerkonto."""
