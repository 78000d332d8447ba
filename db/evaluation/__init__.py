"""Property-company evaluation (信用评价, 红黑榜, DESIGN §4.5)."""
