"""The field catalog: canonical facts about each kind of entity, who owns them and how sensitive they are."""

from zhixiang.catalog._catalog import (
    Catalog,
    CatalogError,
    Field,
    FieldType,
    Sensitivity,
    load_catalog,
)

__all__ = ["Catalog", "CatalogError", "Field", "FieldType", "Sensitivity", "load_catalog"]
