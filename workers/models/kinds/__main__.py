"""python -m workers.models.kinds: print the README's capability table."""

from workers.models.kinds import capability_table

print(capability_table(), end="")
