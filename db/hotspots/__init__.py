"""Hot spots (主动治理, DESIGN §4.7)."""
