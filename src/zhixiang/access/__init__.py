"""Who may do what: the department directory, roles and permissions, and the caller (`Principal`).

Every capability asks this package; it knows none of them. Other packages import only from here.
"""

from zhixiang.access._departments import (
    DEFAULT_DEPARTMENTS,
    Department,
    DepartmentDirectory,
    DepartmentKind,
    load_departments,
    parse_departments,
)
from zhixiang.access._permissions import (
    ANONYMOUS,
    CITYWIDE_ROLES,
    PERMISSIONS,
    ROLE_LABELS,
    STAFF_ROLES,
    SYSTEM,
    Permission,
    Principal,
    PrincipalKind,
    Role,
    permission,
)
from zhixiang.access._store import (
    AccessStore,
    KeyView,
    SignedIn,
    Throttle,
    UserView,
    open_access,
    operator,
)

__all__ = [
    "ANONYMOUS",
    "CITYWIDE_ROLES",
    "DEFAULT_DEPARTMENTS",
    "PERMISSIONS",
    "ROLE_LABELS",
    "STAFF_ROLES",
    "SYSTEM",
    "AccessStore",
    "Department",
    "DepartmentDirectory",
    "DepartmentKind",
    "KeyView",
    "Permission",
    "Principal",
    "PrincipalKind",
    "Role",
    "SignedIn",
    "Throttle",
    "UserView",
    "load_departments",
    "open_access",
    "operator",
    "parse_departments",
    "permission",
]
