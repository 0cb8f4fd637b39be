enum _PlaceholderInventory {}
