"""The web: server-rendered pages for staff (工作台) and the public portals (企业服务, 便民服务).

Pages hang on the API's own FastAPI app (`mount`), sign people in through `zhixiang.access` and
call the same capability public faces the API calls; they hold no business logic and never query
a database themselves. Templates and the vendored browser assets (ECharts, htmx, the 厦门 map)
ship inside this package: nothing is fetched from the internet at run time.
"""

from zhixiang.web._app import PAGE_PREFIXES, is_page, mount

__all__ = ["PAGE_PREFIXES", "is_page", "mount"]
