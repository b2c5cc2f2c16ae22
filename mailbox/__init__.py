"""mailbox part of the Bürgerkonto."""
