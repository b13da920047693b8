"""The synthetic environment of §7.2 (MATH.md §7): environment, data, trainers, metrics."""
