enum _PlaceholderRemediation {}
