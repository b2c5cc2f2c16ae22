"""Examples that use the Bürgerkonto from the outside, as a portal would."""
