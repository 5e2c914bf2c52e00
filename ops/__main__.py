"""Entry point of ``python -m ops``."""

from ops.cli import app

if __name__ == "__main__":
    app(prog_name="python -m ops")
