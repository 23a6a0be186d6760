"""`python -m zhixiang.cli`: the same as the `zhixiang` command."""

from zhixiang.cli import app

if __name__ == "__main__":  # spawned server workers import this module again
    app()
