"""Every setting of the platform, in one place: read once from `ZHIXIANG_*` environment variables.

Nothing else in the code reads the environment. Paths default to files under `ZHIXIANG_HOME`
(default `./var`), so the embedded default needs no server; production points the URLs at
PostgreSQL. `zhixiang settings` (CLI) prints what is in effect.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Locations, connection strings and limits; each field is the env var `ZHIXIANG_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="ZHIXIANG_", frozen=True, extra="ignore")

    home: Path = Field(Path("var"), description="平台数据目录（嵌入式默认的全部文件都在这里）")
    warehouse: str = Field(
        "", description="数据仓库：duckdb:///文件 或 postgresql://…；默认 home/zhixiang.duckdb"
    )
    tickets_db: str = Field("", description="工单库 SQLAlchemy 地址；默认 home/tickets.db (SQLite)")
    access_db: str = Field("", description="账号、密钥、会话与审计库；默认 home/access.db (SQLite)")
    insight_db: str = Field("", description="主动发现（预警）库 SQLAlchemy 地址；默认与工单库相同")
    knowledge_db: str = Field(
        "", description="政策文件库 SQLAlchemy 地址；默认 home/knowledge.db (SQLite)"
    )
    knowledge_index: Path | None = Field(
        None, description="政策文件库的检索索引目录；默认 home/knowledge-index"
    )
    knowledge_llm_url: str = Field(
        "",
        description="可选：改写答案的 OpenAI 兼容接口地址（如 http://127.0.0.1:8080/v1）；默认关闭",
    )
    knowledge_llm_model: str = Field("", description="改写答案所用的模型名")
    knowledge_llm_key_file: Path | None = Field(None, description="改写接口的 API 密钥文件（可选）")
    grants_db: str = Field(
        "", description="免申即享兑现台账库 SQLAlchemy 地址；默认 home/grants.db (SQLite)"
    )
    demo_laws_limit: int | None = Field(
        None, ge=0, description="make demo 导入的法规部数（按目录均匀抽取）；默认全部 3,422 部"
    )
    policies: Path | None = Field(None, description="政策文件目录；默认内置示例政策")
    tickets_rules: Path | None = Field(None, description="接诉即办规则文件；默认内置 rules.yaml")
    departments: Path | None = Field(None, description="部门目录文件；默认内置 departments.yaml")
    holidays: Path | None = Field(None, description="节假日与调休补充文件（日历库未收录的年份）")
    classifier_model: Path | None = Field(None, description="诉求分类模型；默认随包发布的模型")
    shared_data: Path | None = Field(
        None, description="真实数据目录（../shared/data），测试与评估用"
    )
    audit_key_file: Path | None = Field(
        None, description="审计链 HMAC 密钥文件；默认 home/secrets/audit.key"
    )
    audit_checkpoint_file: Path | None = Field(
        None,
        description="审计链头部签名检查点（只追加的文件，应放在数据库之外）；默认 home/secrets/audit-checkpoints.jsonl",
    )
    snapshots_keep: int = Field(
        2,
        ge=0,
        description="每个数据来源保留几个以前导入的快照（当前快照之外）；更早的在导入后删除",
    )
    max_body_bytes: int = Field(1_000_000, gt=0, description="任何请求体的上限（字节）")
    session_hours: float = Field(8.0, gt=0, description="登录会话有效时长（小时）")
    photo_max_bytes: int = Field(5_000_000, gt=0, description="便民服务上传照片的上限（字节）")
    password_hash_memory: int = Field(
        65536, ge=1024, description="Argon2 口令散列的内存开销（KiB）；调高后旧散列在下次登录时升级"
    )
    password_hash_rounds: int = Field(3, ge=1, le=20, description="Argon2 口令散列的迭代次数")
    results_keep: int = Field(3, ge=2, description="保留最近几个完成的匹配批次（至少 2）")
    match_memory_limit: str = Field(
        "3GB", description="批量匹配时 DuckDB 的内存上限，超出部分写到临时文件"
    )
    match_threads: int = Field(0, ge=0, description="批量匹配的线程数；0 为全部核心")
    spark_master: str = Field(
        "local[2]", description="Spark 引擎的 master（local[N]、spark://…、yarn、k8s://…）"
    )
    spark_driver_memory: str = Field(
        "4g",
        description="Spark driver 的内存（本地模式下也是执行者的内存；JVM 启动前生效）；"
        "Spark 默认的 1g 在本机 1000 万主体时 JVM 退出",
    )
    cookie_secure: bool = Field(
        True, description="会话 Cookie 仅经 HTTPS 发送（本机演示可设为 false）"
    )
    review_db: str = Field(
        "", description="智能快审（申请与审核）库 SQLAlchemy 地址；默认与工单库相同"
    )

    @model_validator(mode="after")
    def _defaults_under_home(self) -> Settings:
        home = self.home.resolve()
        defaults = {
            "home": home,
            "warehouse": self.warehouse or f"duckdb://{home / 'zhixiang.duckdb'}",
            "tickets_db": self.tickets_db or f"sqlite:///{home / 'tickets.db'}",
            "access_db": self.access_db or f"sqlite:///{home / 'access.db'}",
            "knowledge_db": self.knowledge_db or f"sqlite:///{home / 'knowledge.db'}",
            "grants_db": self.grants_db or f"sqlite:///{home / 'grants.db'}",
            "knowledge_index": self.knowledge_index or home / "knowledge-index",
            "audit_key_file": self.audit_key_file or home / "secrets" / "audit.key",
            "audit_checkpoint_file": self.audit_checkpoint_file
            or home / "secrets" / "audit-checkpoints.jsonl",
        }
        defaults["review_db"] = self.review_db or defaults["tickets_db"]
        for name, value in defaults.items():
            object.__setattr__(self, name, value)
        return self

    # Names the rest of the code has always used.
    @property
    def warehouse_url(self) -> str:
        return self.warehouse

    @property
    def tickets_url(self) -> str:
        return self.tickets_db

    @property
    def policies_dir(self) -> Path | None:
        return self.policies

    @property
    def shared_data_dir(self) -> Path:
        """Real data for tests and evaluation: $ZHIXIANG_SHARED_DATA, else the nearest `shared/data`
        beside the checkout or one of its parents (a git worktree sits a level deeper)."""
        if self.shared_data is not None:
            return self.shared_data
        checkout = Path(__file__).resolve().parents[2]
        beside = [folder / "shared" / "data" for folder in checkout.parents]
        return next((path for path in beside if path.is_dir()), beside[0])

    @property
    def results_dir(self) -> Path:
        return self.home / "results"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"


def load_settings(**overrides: object) -> Settings:
    """The settings in effect: the environment, then `overrides` (tests and the CLI's options)."""
    return Settings(**overrides)  # type: ignore[arg-type]


__all__ = ["Settings", "load_settings"]
