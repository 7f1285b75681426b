"""The pure core: config contract, derived model and plans. No Pulumi imports (a test holds that)."""
