enum _PlaceholderDrift {}
