"""The offline tooling: the `interlock-platform` command (cli.py) and what it runs. The program
(`__main__.py`, core/, the layers) never imports it (tests/test_architecture.py holds that)."""

# Names the platform checkout the tooling reads; `interlock-platform --platform DIR` sets it
PLATFORM_ENV = "INTERLOCK_PLATFORM_ROOT"
