enum _PlaceholderCompliance {}
