"""federation part of the Bürgerkonto."""
