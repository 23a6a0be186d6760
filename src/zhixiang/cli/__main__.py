"""`python -m zhixiang.cli`: the same as the `zhixiang` command."""

from zhixiang.cli import app

app()
