from ninja import Schema


class DepartmentOut(Schema):
    id: int
    name: str
    kind: str
    parent_id: int | None
    path: str


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    data_scope: str
    department_id: int | None
    is_active: bool
    version: int
