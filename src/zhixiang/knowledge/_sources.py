"""Reading policy documents from files: JSON lines, Markdown, plain text, HTML, Word, PDF, a law folder.

Each reader yields `DocumentDraft`s and `ImportProblem`s; a bad record is reported with its file and
line and never stops the others. Metadata the file does not give (文号, dates of effect and expiry,
the 文号 of replaced documents, region, audience) is read from the text by `complete_metadata`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

from zhixiang.knowledge._structure import chinese_number

DOC_NO = re.compile(
    r"[\u4e00-\u9fa5]{1,12}(?:〔|\[|［|【|\()\d{4}(?:〕|\]|］|】|\))\s*第?\d{1,4}\s*号"
    r"|[\u4e00-\u9fa5]{2,16}令第\d{1,4}号"
)
_CN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_EFFECT = re.compile(
    r"自\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|印发之日|公布之日|发布之日)\s*起\s*(?:施行|实施|执行)"
)
_SELF = r"本(?:办法|通知|细则|实施细则|规定|方案|条例|意见|决定|指引|公告|通告)[^。\n]{0,30}?"
_TERM = re.compile(_SELF + r"有效期(?:为)?\s*([\d一二三四五六七八九十两]+)\s*年")
_TERM_UNTIL = re.compile(_SELF + r"有效期(?:调整)?至\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)")
_PAGE_EFFECT = re.compile(r"实施日期\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)")
_PAGE_EXPIRY = re.compile(r"失效日期\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)")
_REPEALED_SENTENCE = re.compile(r"[^。\n]*同时废止")
AUDIENCES = ("居民", "企业")
_RESIDENT_WORDS = (
    "居民",
    "家庭",
    "个人",
    "老年人",
    "户籍",
    "失业人员",
    "残疾人",
    "儿童",
    "市民",
    "参保人",
)
_ENTERPRISE_WORDS = ("企业", "市场主体", "用人单位", "个体工商户", "公司", "经营者", "小微")


@dataclass(frozen=True)
class ImportProblem:
    """Something an import could not use, and where: `file:line` and what was wrong."""

    where: str
    message: str
    fatal: bool = True  # False: imported anyway, with this warning

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class DocumentDraft:
    """A document as read from its source, before it is stored."""

    key: str
    title: str
    text: str
    origin: str
    doc_no: str = ""
    issuer: str = ""
    region: str = ""
    kind: str = ""
    audience: tuple[str, ...] = ()
    issued_on: date | None = None
    effective_on: date | None = None
    expires_on: date | None = None
    source_url: str = ""
    note: str = ""
    replaces: tuple[str, ...] = ()
    repealed: bool = False


@dataclass
class Batch:
    """What one reader produced: drafts to store and problems to report."""

    drafts: list[DocumentDraft] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)


# ---------------------------------------------------------------- dates and metadata


def parse_cn_date(text: str) -> date | None:
    m = _CN_DATE.search(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _iso(value: object, what: str, where: str, problems: list[ImportProblem]) -> date | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        found = parse_cn_date(text)
        if found is None:
            problems.append(
                ImportProblem(where, f"{what}不是日期: {text!r}（已忽略）", fatal=False)
            )
        return found


def _add_years(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def infer_region(*texts: str) -> str:
    """Where a document applies, as a path of names: 全国, 广东省, 广东省广州市, 广东省广州市天河区."""
    joined = " ".join(texts)
    if "天河" in joined:
        return "广东省广州市天河区"
    if "广州" in joined or joined.startswith("穗") or "穗府" in joined:
        return "广东省广州市"
    if "广东" in joined or "粤" in joined[:2]:
        return "广东省"
    return "全国"


def infer_audience(title: str, text: str) -> tuple[str, ...]:
    """居民, 企业 or both, from the words the document uses most (an officer can correct it)."""
    sample = title * 5 + text[:4000]
    resident = sum(sample.count(w) for w in _RESIDENT_WORDS)
    enterprise = sum(sample.count(w) for w in _ENTERPRISE_WORDS)
    found = []
    if resident >= max(2, enterprise // 4):
        found.append("居民")
    if enterprise >= max(2, resident // 4):
        found.append("企业")
    return tuple(found) or AUDIENCES


def complete_metadata(draft: DocumentDraft) -> DocumentDraft:
    """Fill what the source left empty from the text: 文号, dates, replaced 文号, region, audience."""
    text, note = draft.text, draft.note
    doc_no = draft.doc_no
    if not doc_no:
        for line in text.splitlines()[:3]:
            m = DOC_NO.fullmatch(line.strip())
            if m:
                doc_no = m.group(0)
                break
    effective = draft.effective_on
    expiry = draft.expires_on
    page_effect, page_expiry = _PAGE_EFFECT.search(note), _PAGE_EXPIRY.search(note)
    if effective is None and page_effect:
        effective = parse_cn_date(page_effect.group(1))
    if expiry is None and page_expiry:
        expiry = parse_cn_date(page_expiry.group(1))
    tail = text[-1500:]
    if effective is None:
        m = _EFFECT.search(tail) or _EFFECT.search(text)
        if m:
            effective = parse_cn_date(m.group(1)) or draft.issued_on
    if expiry is None:
        until = _TERM_UNTIL.search(text)
        term = _TERM.search(text)
        if until:
            expiry = parse_cn_date(until.group(1))
        elif term and (effective or draft.issued_on):
            years = chinese_number(term.group(1))
            if years:
                expiry = _add_years(effective or draft.issued_on, years) - timedelta(days=1)  # type: ignore[arg-type]
    replaces = list(draft.replaces)
    for sentence in _REPEALED_SENTENCE.findall(text):
        for m in DOC_NO.finditer(sentence):
            number = m.group(0)
            if number != doc_no and number not in replaces:
                replaces.append(number)
    return replace(
        draft,
        doc_no=doc_no,
        effective_on=effective or draft.issued_on,
        expires_on=expiry,
        replaces=tuple(replaces),
        region=draft.region or infer_region(draft.issuer, draft.title, doc_no),
        audience=draft.audience or infer_audience(draft.title, text),
    )


# ---------------------------------------------------------------- readers


def read_jsonl(path: Path) -> Batch:
    """One JSON object a line: title, text and optionally issuer, doc_no, dates, source_url, …"""
    batch = Batch()
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        batch.problems.append(ImportProblem(str(path), f"无法读取文件: {exc}"))
        return batch
    for number, line in enumerate(lines, start=1):
        where = f"{path}:{number}"
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            batch.problems.append(
                ImportProblem(where, f"不是有效的 JSON（第{exc.colno}列: {exc.msg}）")
            )
            continue
        if not isinstance(record, dict):
            batch.problems.append(ImportProblem(where, "每行应为一个 JSON 对象"))
            continue
        title = str(record.get("title") or "").strip()
        text = str(record.get("text") or "").strip()
        missing = [name for name, value in (("title", title), ("text", text)) if not value]
        if missing:
            batch.problems.append(ImportProblem(where, f"缺少必填字段: {', '.join(missing)}"))
            continue
        problems: list[ImportProblem] = []
        audience = record.get("audience") or ()
        if isinstance(audience, str):
            audience = tuple(a for a in re.split(r"[,，、/ ]+", audience) if a)
        unknown = [a for a in audience if a not in AUDIENCES]
        if unknown:
            problems.append(
                ImportProblem(where, f"未知的适用对象 {unknown}（应为 居民/企业，已忽略）", False)
            )
            audience = tuple(a for a in audience if a in AUDIENCES)
        replaces = record.get("replaces") or ()
        if isinstance(replaces, str):
            replaces = (replaces,)
        draft = DocumentDraft(
            key=str(record.get("id") or record.get("doc_no") or f"{path.stem}:{number}"),
            title=title,
            text=text,
            origin=where,
            doc_no=str(record.get("doc_no") or "").strip(),
            issuer=str(record.get("issuer") or "").strip(),
            region=str(record.get("region") or "").strip(),
            kind=str(record.get("kind") or "").strip(),
            audience=tuple(audience),
            issued_on=_iso(
                record.get("publish_date") or record.get("issued_on"), "发布日期", where, problems
            ),
            effective_on=_iso(record.get("effective_on"), "施行日期", where, problems),
            expires_on=_iso(record.get("expires_on"), "失效日期", where, problems),
            source_url=str(record.get("source_url") or "").strip(),
            note=str(record.get("note") or ""),
            replaces=tuple(str(r) for r in replaces),
            repealed=bool(record.get("repealed", False)),
        )
        batch.problems.extend(problems)
        batch.drafts.append(draft)
    return batch


_LAW_ISSUERS = (
    "全国人民代表大会常务委员会",
    "全国人民代表大会",
    "国务院",
    "最高人民法院",
    "最高人民检察院",
)
_LOCAL_ISSUER = re.compile(
    r"([\u4e00-\u9fa5]{2,10}?(?:省|市|自治区))第[一二三四五六七八九十]+届人民代表大会常务委员会"
)
_LAW_KINDS = {
    "DLC": "地方性法规",
    "行政法规": "行政法规",
    "司法解释": "司法解释",
    "部门规章": "部门规章",
}


def _markdown_parts(text: str) -> tuple[str, str, str]:
    """(title, header, body) of a Markdown file: the `#` heading, the lines before INFO END, the rest."""
    title = ""
    for line in text.splitlines():
        if line.startswith("# "):
            title = line[2:].strip()
            break
    if "<!-- INFO END -->" in text:
        header, body = text.split("<!-- INFO END -->", 1)
    else:
        header, body = "", text
    body = "\n".join(line for line in body.splitlines() if not line.startswith("# "))
    header = "\n".join(line for line in header.splitlines() if not line.startswith("# "))
    return title, header.strip(), body.strip()


def read_markdown(path: Path, key: str | None = None) -> Batch:
    batch = Batch()
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        batch.problems.append(ImportProblem(str(path), f"无法读取文件: {exc}"))
        return batch
    title, header, body = _markdown_parts(text)
    if not body:
        batch.problems.append(ImportProblem(str(path), "文件没有正文"))
        return batch
    issued = parse_cn_date(header) if header else None
    batch.drafts.append(
        DocumentDraft(
            key=key or str(path),
            title=title or path.stem,
            text=body,
            origin=str(path),
            issued_on=issued,
            note=header,
        )
    )
    return batch


def read_text(path: Path) -> Batch:
    batch = Batch()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        batch.problems.append(ImportProblem(str(path), f"无法读取文件: {exc}"))
        return batch
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        batch.problems.append(ImportProblem(str(path), "无法识别文件编码（应为 UTF-8 或 GBK）"))
        return batch
    batch.drafts.extend(_plain(text, path, str(path), batch.problems).drafts)
    return batch


def _plain(text: str, path: Path, origin: str, problems: list[ImportProblem]) -> Batch:
    """A document whose title is its first line (or the line after a 文号 line)."""
    batch = Batch()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        problems.append(ImportProblem(origin, "文件没有可读的文字"))
        return batch
    title = lines[0]
    if DOC_NO.fullmatch(title) and len(lines) > 1:
        title = lines[1]
    issued = None
    for line in lines[-6:]:
        if len(line) <= 16:
            issued = parse_cn_date(line) or issued
    batch.drafts.append(
        DocumentDraft(
            key=str(path), title=title[:200], text="\n".join(lines), origin=origin, issued_on=issued
        )
    )
    return batch


_CONTENT_SELECTORS = (
    "#zoomcon",
    "div.article-content",
    "div.info_cont",
    "div.newsMain",
    "div#content",
    "article",
    "main",
    "div.content",
    "body",
)
_BLOCK_TAGS = "p, div, br, li, tr, h1, h2, h3, h4, h5, h6, table, section"


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML page: the main content block, block elements on their own lines."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    for tag in ("script", "style", "nav", "header", "footer", "noscript", "iframe"):
        for node in tree.css(tag):
            node.decompose()
    title_node = tree.css_first("h1") or tree.css_first("title")
    title = title_node.text(strip=True) if title_node else ""
    main = None
    for selector in _CONTENT_SELECTORS:
        main = tree.css_first(selector)
        if main is not None and main.text(strip=True):
            break
    if main is None:
        return title, ""
    for row in main.css("tr"):
        cells = [c.text(separator="", strip=True) for c in row.css("td, th")]
        row.replace_with(" | ".join(cells) + "\n")
    for node in main.css(_BLOCK_TAGS):
        node.insert_after("\n")
    text = main.text(separator="", strip=False)
    lines = [re.sub(r"[ \t\u00a0\u3000]+", " ", line).strip() for line in text.splitlines()]
    return title, "\n".join(line for line in lines if line)


def read_html(path: Path) -> Batch:
    batch = Batch()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        batch.problems.append(ImportProblem(str(path), f"无法读取文件: {exc}"))
        return batch
    html = raw.decode("utf-8", errors="replace")
    if "\ufffd" in html[:5000] and b"charset=gb" in raw[:2000].lower():
        html = raw.decode("gb18030", errors="replace")
    title, text = html_to_text(html)
    if not text:
        batch.problems.append(ImportProblem(str(path), "网页中找不到正文（可能是残缺的 HTML）"))
        return batch
    found = _plain(text, path, str(path), batch.problems)
    batch.drafts.extend(
        replace(d, title=title or d.title) if title and len(title) <= 200 else d
        for d in found.drafts
    )
    return batch


def read_docx(path: Path) -> Batch:
    batch = Batch()
    try:
        import docx
    except ImportError:
        batch.problems.append(ImportProblem(str(path), "读取 Word 文件需要安装 python-docx"))
        return batch
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises several kinds for a damaged file
        batch.problems.append(ImportProblem(str(path), f"无法打开 Word 文件: {exc}"))
        return batch
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        lines.extend(" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows)
    batch.drafts.extend(_plain("\n".join(lines), path, str(path), batch.problems).drafts)
    return batch


def read_pdf(path: Path) -> Batch:
    batch = Batch()
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:
        batch.problems.append(ImportProblem(str(path), "读取 PDF 文件需要安装 pypdf"))
        return batch
    try:
        text = "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    except (PdfReadError, OSError, ValueError) as exc:
        batch.problems.append(ImportProblem(str(path), f"无法读取 PDF: {exc}"))
        return batch
    if not text.strip():
        batch.problems.append(ImportProblem(str(path), "PDF 没有文字层（可能是扫描件），无法导入"))
        return batch
    batch.drafts.extend(_plain(text, path, str(path), batch.problems).drafts)
    return batch


def _law_region(path: str, title: str) -> str:
    parts = path.split("/")
    if parts[0] != "DLC" or len(parts) < 2:
        return "全国"
    province = parts[1].removesuffix("地方法规")
    municipality = province in ("北京", "上海", "天津", "重庆")
    province_name = province + ("市" if municipality else "省")
    m = re.match(r"^([\u4e00-\u9fa5]{2,4}?市)", title)
    if m and not municipality and not title.startswith(province):
        return province_name + m.group(1)
    return province_name


def _law_issuer(header: str, category: str) -> str:
    local = _LOCAL_ISSUER.search(header)
    if local:
        return local.group(1) + "人民代表大会常务委员会"
    for issuer in _LAW_ISSUERS:
        if issuer in header:
            return issuer
    return {"行政法规": "国务院", "司法解释": "最高人民法院"}.get(category, "")


def iter_laws(folder: Path, limit: int | None = None) -> Iterator[tuple[int, int, Batch]]:
    """The laws listed in `folder/INDEX.csv`, one Markdown file each: (done, total, batch).

    With `limit`, only that many laws, taken evenly across the list (so every category and
    region of the collection is represented), e.g. for a quick demo.
    """
    index = folder / "INDEX.csv"
    with index.open(encoding="utf-8") as handle:
        numbered = list(enumerate(csv.DictReader(handle), start=1))
    if limit is not None and 0 <= limit < len(numbered):
        numbered = [numbered[len(numbered) * k // limit] for k in range(limit)] if limit else []
    for done, (i, row) in enumerate(numbered, start=1):
        path = folder / row["path"]
        batch = read_markdown(path, key="laws/" + row["path"])
        drafts = []
        for draft in batch.drafts:
            category = row.get("category", "")
            issued = _iso(row.get("date"), "日期", f"{index}:{i + 1}", batch.problems)
            drafts.append(
                replace(
                    draft,
                    title=row.get("title") or draft.title,
                    issuer=_law_issuer(draft.note, category),
                    region=_law_region(row["path"], row.get("title") or draft.title),
                    kind=_LAW_KINDS.get(category, "法律"),
                    issued_on=issued or draft.issued_on,
                    effective_on=issued or draft.issued_on,
                    audience=AUDIENCES,
                    origin=f"{index}:{i + 1}",
                )
            )
        batch.drafts = drafts
        yield done, len(numbered), batch


READERS = {
    ".jsonl": read_jsonl,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".txt": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".docx": read_docx,
    ".pdf": read_pdf,
}


def read_file(path: Path) -> Batch:
    """Read one file by its extension; an unknown extension is a problem, not a crash."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        batch = Batch()
        kinds = "、".join(sorted(READERS))
        batch.problems.append(
            ImportProblem(
                str(path), f"不支持的文件类型 {path.suffix or '(无扩展名)'}（可导入: {kinds}）"
            )
        )
        return batch
    return reader(path)
