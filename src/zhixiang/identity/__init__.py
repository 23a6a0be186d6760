"""Standard identifiers that join departments' data: 统一社会信用代码, 身份证号, 行政区划代码."""

from zhixiang.identity._codes import (
    CREDIT_CODE_ALPHABET,
    ID_PROVINCES,
    IdentifierError,
    credit_code_check_char,
    normalize_identifier,
    validate_credit_code,
    validate_id_number,
)
from zhixiang.identity._masking import mask_id_number, mask_id_number_sql, mask_name
from zhixiang.identity._regions import (
    XIAMEN_DISTRICTS,
    Region,
    RegionLevel,
    lookup_region,
    normalize_region_code,
    region_code_of,
    region_code_source,
    region_code_table,
    region_prefix,
    validate_region_code,
)

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "ID_PROVINCES",
    "XIAMEN_DISTRICTS",
    "IdentifierError",
    "Region",
    "RegionLevel",
    "credit_code_check_char",
    "lookup_region",
    "mask_id_number",
    "mask_id_number_sql",
    "mask_name",
    "normalize_identifier",
    "normalize_region_code",
    "region_code_of",
    "region_code_source",
    "region_code_table",
    "region_prefix",
    "validate_credit_code",
    "validate_id_number",
    "validate_region_code",
]
