"""Intake channels: one module per way a request arrives, each mapping its format onto `TicketDraft`.

| channel | module | entry point |
| --- | --- | --- |
| REST (`POST /requests/tickets`) | `rest` | `submit` |
| Open311 GeoReport v2 | `open311` | `parse_body`, `draft`, `list_filters`, `public_request` |
| the public web form | `webform` | `submit_web_form` |
| 12345 work-order export (Beijing layout) | `hotline12345` | `import_work_orders` |

A new channel is one new module here; none of them imports the web layer.
"""

from zhixiang.tickets.channels import hotline12345, open311, rest, webform
from zhixiang.tickets.channels.hotline12345 import ImportSummary, import_work_orders
from zhixiang.tickets.channels.webform import submit_web_form

__all__ = [
    "ImportSummary",
    "hotline12345",
    "import_work_orders",
    "open311",
    "rest",
    "submit_web_form",
    "webform",
]
