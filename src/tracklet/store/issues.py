"""MLflow 3's issues: problems found in an experiment's traces, made by `mlflow.genai.discover_issues` (or
a person), read, updated and searched.

As in MLflow's store: an issue's experiment must exist and be active when it is made; a search is
ordered by severity (high first, none last), then (when counted) by how many traces it touches, then
newest first; it filters on `status` and `source_run_id` with `=` and `!=` joined by AND. A trace
touches an issue when it has an assessment of kind "issue" named with the issue's id.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Connection, RowMapping, case, func, literal_column, select, update

from tracklet.errors import InvalidParameterValue, ResourceDoesNotExist
from tracklet.store import schema as s
from tracklet.store._util import now_ms
from tracklet.store.database import Database
from tracklet.store.label_schemas import active_experiment
from tracklet.store.search import decode_page_token, encode_page_token
from tracklet.store.workspaces import current_workspace

ISSUE_ID_PREFIX = "iss-"
STATUSES = ("pending", "rejected", "resolved")
SEVERITIES = ("not_an_issue", "low", "medium", "high")  # lowest first
FILTER_FIELDS = ("status", "source_run_id")
_CLAUSE = re.compile(r"""^\s*(?P<key>[`"]?\w+[`"]?)\s*(?P<op>!=|<>|<=|>=|=|<|>|\w+)\s*(?P<value>'[^']*'|"[^"]*")\s*$""")
_AND = re.compile(r"""\s+AND\s+(?=(?:[^'"]|'[^']*'|"[^"]*")*$)""", re.IGNORECASE)


class Issue(msgspec.Struct):
    issue_id: str
    experiment_id: int
    name: str
    description: str
    status: str
    severity: str | None
    root_causes: list[str]
    source_run_id: str | None
    categories: list[str]
    created_timestamp: int
    last_updated_timestamp: int
    created_by: str | None
    trace_count: int | None = None


class IssueChanges(msgspec.Struct):
    """An update: the fields given (None: keep)."""

    name: str | None = None
    description: str | None = None
    status: str | None = None
    severity: str | None = None


def _issue(row: RowMapping, trace_count: int | None = None) -> Issue:
    return Issue(
        issue_id=row["issue_id"],
        experiment_id=row["experiment_id"],
        name=row["name"],
        description=row["description"],
        status=row["status"],
        severity=row["severity"],
        root_causes=json.loads(row["root_causes"]) if row["root_causes"] else [],
        source_run_id=row["source_run_id"],
        categories=json.loads(row["categories"]) if row["categories"] else [],
        created_timestamp=row["created_timestamp"],
        last_updated_timestamp=row["last_updated_timestamp"],
        created_by=row["created_by"],
        trace_count=trace_count,
    )


def parse_issue_filter(text: str) -> list[ColumnElement[bool]]:
    """`status = 'resolved' AND source_run_id != 'abc'` as conditions, with MLflow's messages."""
    conditions: list[ColumnElement[bool]] = []
    for clause in _AND.split(text.strip()):
        if re.search(r"\s+OR\s+", clause, re.IGNORECASE):
            raise InvalidParameterValue("Invalid clause(s) in filter string: OR")
        found = _CLAUSE.match(clause)
        if found is None:
            raise InvalidParameterValue(f"Invalid filter string '{text}'")
        key, op, value = found.group("key").strip('`"'), found.group("op").upper(), found.group("value")[1:-1]
        if key not in FILTER_FIELDS:
            raise InvalidParameterValue(
                f"Invalid filter field '{key}'. Supported fields: {{'status', 'source_run_id'}}"
            )
        if op not in ("=", "!="):
            raise InvalidParameterValue(f"Invalid comparator '{op}'. Supported comparators: {{'!=', '='}}")
        column = s.issues.c[key]
        conditions.append(column == value if op == "=" else column != value)
    return conditions


class IssueStore:
    db: Database

    def create_issue(
        self,
        experiment_id: int,
        name: str,
        description: str,
        status: str,
        severity: str | None,
        root_causes: list[str],
        source_run_id: str | None,
        categories: list[str],
        created_by: str | None,
    ) -> Issue:
        now = now_ms()
        made = Issue(
            ISSUE_ID_PREFIX + uuid.uuid4().hex,
            experiment_id,
            name,
            description,
            status,
            severity,
            root_causes,
            source_run_id,
            categories,
            now,
            now,
            created_by,
        )
        row: dict[str, Any] = {f: getattr(made, f) for f in made.__struct_fields__ if f != "trace_count"}
        row["root_causes"] = json.dumps(root_causes) if root_causes else None
        row["categories"] = json.dumps(categories) if categories else None
        with self.db.write() as conn:
            active_experiment(conn, experiment_id)
            if source_run_id is not None:
                runs = s.runs
                if conn.execute(select(runs.c.run_uuid).where(runs.c.run_uuid == source_run_id)).first() is None:
                    raise InvalidParameterValue(
                        f"Run '{source_run_id}' does not exist: it cannot be the issue's source_run_id."
                    )
            conn.execute(s.issues.insert().values(row))
        return made

    def _issue_row(self, conn: Connection, issue_id: str) -> RowMapping:
        row = conn.execute(select(s.issues).where(s.issues.c.issue_id == issue_id)).mappings().first()
        if row is None:
            raise ResourceDoesNotExist(f"Issue with ID '{issue_id}' not found")
        return row

    def get_issue(self, issue_id: str) -> Issue:
        with self.db.read() as conn:
            return _issue(self._issue_row(conn, issue_id))

    def update_issue(self, issue_id: str, changes: IssueChanges) -> Issue:
        table = s.issues
        values: dict[str, Any] = {k: v for k, v in msgspec.structs.asdict(changes).items() if v is not None}
        values["last_updated_timestamp"] = now_ms()
        with self.db.write() as conn:
            self._issue_row(conn, issue_id)
            conn.execute(update(table).where(table.c.issue_id == issue_id).values(values))
            return _issue(self._issue_row(conn, issue_id))

    def search_issues(
        self,
        experiment_id: int | None,
        filter_string: str | None,
        max_results: int,
        page_token: str | None,
        include_trace_count: bool,
    ) -> tuple[list[Issue], str | None]:
        table, assessments = s.issues, s.trace_assessments
        offset = decode_page_token(page_token)
        conditions = parse_issue_filter(filter_string) if filter_string else []
        if experiment_id is not None:
            conditions.append(table.c.experiment_id == experiment_id)
        elif (workspace := current_workspace()) is not None:  # every experiment's: the workspace's only
            experiments = s.experiments
            mine = select(experiments.c.experiment_id).where(experiments.c.workspace == workspace)
            conditions.append(table.c.experiment_id.in_(mine))
        rank = case({severity: i for i, severity in enumerate(SEVERITIES)}, value=table.c.severity, else_=-1)
        traces = (
            select(func.count(func.distinct(assessments.c.trace_id)))
            # `kind` as a literal: SQLite uses the partial index of issue references only for a literal.
            .where(assessments.c.name == table.c.issue_id, assessments.c.kind == literal_column("'issue'"))
            .scalar_subquery()
        )
        order = [rank.desc(), *([traces.desc()] if include_trace_count else []), table.c.created_timestamp.desc()]
        columns = [table, traces.label("trace_count")] if include_trace_count else [table]
        query = (
            select(*columns)
            .where(*conditions)
            .order_by(*order, table.c.issue_id.desc())
            .offset(offset)
            .limit(max_results + 1)
        )
        with self.db.read() as conn:
            rows = list(conn.execute(query).mappings())
        found = [_issue(row, row["trace_count"] if include_trace_count else None) for row in rows[:max_results]]
        return found, encode_page_token(offset + max_results) if len(rows) > max_results else None
