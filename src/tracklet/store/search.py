"""The search grammar: filter strings, order_by clauses and page tokens.

A filter is a conjunction of comparisons joined by AND, as MLflow accepts it::

    metrics.loss < 0.5 AND params.lr = '0.01' AND tags.`mlflow.user` LIKE 'ann%'

Parsing happens in two steps. `_tokenize` and `_Parser` read the syntax shared by all searches
(identifiers, comparators, literals, lists). A `_Grammar` then checks each clause against what one
search allows (runs, experiments or logged models) and produces `Comparison` objects with canonical
keys (`created` -> `start_time`, `Run Name` -> `run_name`). Every bad input raises
`InvalidParameterValue`; `search_sql` compiles the results to SQL.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tracklet.errors import InvalidParameterValue

__all__ = [
    "Comparison",
    "OrderKey",
    "Value",
    "decode_page_token",
    "encode_page_token",
    "parse_evaluation_dataset_filter",
    "parse_evaluation_dataset_order_by",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_logged_model_filter",
    "parse_logged_model_order_by",
    "parse_model_version_filter",
    "parse_model_version_order_by",
    "parse_registered_model_filter",
    "parse_registered_model_order_by",
    "parse_run_filter",
    "parse_run_order_by",
    "parse_trace_filter",
    "parse_trace_order_by",
    "read_page_token",
]

Kind = Literal[
    "metric", "param", "tag", "attribute", "dataset", "metadata", "feedback", "expectation", "span", "span_attribute"
]
Value = str | int | float | tuple[str, ...] | tuple[int, ...] | None


@dataclass(frozen=True)
class Comparison:
    """One clause of a filter: `<kind>.<key> <op> <value>`.

    `op` is upper case (`=`, `!=`, `<`, `<=`, `>`, `>=`, `LIKE`, `ILIKE`, `RLIKE`, `IN`, `NOT IN`,
    `IS NULL`, `IS NOT NULL`). `value` is a float for metrics, an int or float for numeric attributes, a str
    for strings, a tuple for IN / NOT IN and None for IS [NOT] NULL.
    """

    kind: Kind
    key: str
    op: str
    value: Value


@dataclass(frozen=True)
class OrderKey:
    """One order_by field. `dataset_*` only narrow logged-model metric sorts."""

    kind: Kind
    key: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


# ---------------------------------------------------------------------------------------------
# Tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<ident>[A-Za-z_][\w.]*?\.(?:`[^`]*`|"(?:[^"]|"")*"))  # prefix.`quoted key`, span.attributes."key"
  | (?P<word>[A-Za-z_][\w.]*)                              # run_id, AND, tags.mlflow.runName
  | (?P<dquote>"(?:[^"]|"")*")
  | (?P<backtick>`[^`]*`)
  | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    type: str
    text: str
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.type == "word" and self.text.upper() in words


def _tokenize(text: str, what: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            if text[pos] in "'\"`":
                raise InvalidParameterValue(f"Invalid {what} '{text}': unterminated quoted string at position {pos}")
            raise InvalidParameterValue(
                f"Invalid {what} '{text}': unexpected character {text[pos]!r} at position {pos}"
            )
        kind = m.lastgroup
        assert kind is not None
        if kind != "ws":
            tokens.append(_Token(kind, m.group(), pos))
        pos = m.end()
    return tokens


def _unquote(text: str) -> str:
    """Strip the quotes of a '...', "..." or `...` token; a doubled quote stands for one."""
    quote = text[0]
    inner = text[1:-1]
    return inner if quote == "`" else inner.replace(quote * 2, quote)


@dataclass(frozen=True)
class _Identifier:
    prefix: str | None  # None when the identifier has no `<type>.` part
    key: str
    text: str


def _split_identifier(tok: _Token) -> _Identifier:
    if tok.type in ("dquote", "backtick"):
        return _Identifier(None, _unquote(tok.text), tok.text)
    if tok.type == "ident":
        start = min(i for i in (tok.text.find("`"), tok.text.find('"')) if i >= 0)
        prefix, _, middle = tok.text[: start - 1].partition(".")  # span.attributes.`k` -> attributes.k
        return _Identifier(prefix, (middle + "." if middle else "") + _unquote(tok.text[start:]), tok.text)
    if tok.type == "word":
        if "." not in tok.text:
            return _Identifier(None, tok.text, tok.text)
        prefix, _, key = tok.text.partition(".")  # tags.mlflow.runName -> key mlflow.runName
        if key:
            return _Identifier(prefix, key, tok.text)
    raise InvalidParameterValue(
        f"Invalid identifier '{tok.text}'. Columns should be specified as 'attribute.<key>', "
        "'metric.<key>', 'tag.<key>', 'dataset.<key>' or 'param.<key>'"
    )


# ---------------------------------------------------------------------------------------------
# Syntax shared by every search


@dataclass(frozen=True)
class _Literal:
    type: Literal["string", "number", "list", "none"]
    value: Any
    text: str


@dataclass(frozen=True)
class _Clause:
    ident: _Identifier
    op: str
    literal: _Literal


class _Parser:
    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what
        self.tokens = _tokenize(text, what)
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        tok = self.peek()
        if tok is None:
            raise InvalidParameterValue(f"Invalid {self.what} '{self.text}': unexpected end")
        self.i += 1
        return tok

    def fail(self, tok: _Token, expected: str) -> InvalidParameterValue:
        return InvalidParameterValue(
            f"Invalid {self.what} '{self.text}': expected {expected} at position {tok.pos}, found '{tok.text}'"
        )

    def clauses(self) -> list[_Clause]:
        for token in self.tokens:
            if token.is_word("OR"):
                raise InvalidParameterValue("Invalid clause(s) in filter string: 'OR'")
        out = [self.clause()]
        while (tok := self.peek()) is not None:
            if not tok.is_word("AND"):
                rest = self.text[tok.pos :]
                raise InvalidParameterValue(f"Invalid clause(s) in filter string: '{rest}'. Join comparisons with AND")
            self.take()
            out.append(self.clause())
        return out

    def clause(self) -> _Clause:
        tok = self.take()
        if tok.type in ("lparen", "rparen"):
            raise InvalidParameterValue(
                f"Invalid clause(s) in filter string: '{tok.text}'. Parentheses for grouping are not supported"
            )
        if tok.type not in ("word", "ident", "dquote", "backtick") or tok.is_word(
            "AND", "NOT", "IN", "IS", "LIKE", "ILIKE", "RLIKE", "NULL"
        ):
            raise self.fail(tok, "an identifier such as metrics.loss")
        ident = _split_identifier(tok)
        op = self.comparator()
        if op in ("IS NULL", "IS NOT NULL"):
            return _Clause(ident, op, _Literal("none", None, ""))
        return _Clause(ident, op, self.literal())

    def comparator(self) -> str:
        tok = self.take()
        if tok.type == "op":
            return {"==": "=", "<>": "!="}.get(tok.text, tok.text)
        if tok.is_word("LIKE", "ILIKE", "RLIKE", "IN"):
            return tok.text.upper()
        if tok.is_word("NOT") and (nxt := self.peek()) is not None and nxt.is_word("IN"):
            self.take()
            return "NOT IN"
        if tok.is_word("IS"):
            words = ["IS"]
            if (nxt := self.peek()) is not None and nxt.is_word("NOT"):
                words.append(self.take().text.upper())
            nxt = self.take()
            if nxt.is_word("NULL"):
                return " ".join([*words, "NULL"])
            raise self.fail(nxt, "NULL")
        raise self.fail(tok, "a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, RLIKE, IN, NOT IN, IS NULL)")

    def literal(self) -> _Literal:
        tok = self.take()
        if tok.type in ("string", "dquote"):
            return _Literal("string", _unquote(tok.text), tok.text)
        if tok.type == "number":
            number = float(tok.text) if re.search(r"[.eE]", tok.text) else int(tok.text)
            return _Literal("number", number, tok.text)
        if tok.type == "lparen":
            items: list[str] = []
            while True:
                item = self.take()
                if item.type not in ("string", "dquote"):
                    raise InvalidParameterValue(
                        "While parsing a list in the query, expected a non-empty list of "
                        f"quoted string values, found '{item.text}' in '{self.text}'"
                    )
                items.append(_unquote(item.text))
                sep = self.take()
                if sep.type == "rparen":
                    break
                if sep.type != "comma":
                    raise self.fail(sep, "',' or ')'")
            return _Literal("list", tuple(items), self.text[tok.pos : sep.pos + 1])
        raise self.fail(tok, "a value (a quoted string, a number or a list)")


# ---------------------------------------------------------------------------------------------
# What each search allows

_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
_LIST_OPS = frozenset({"IN", "NOT IN"})
_NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})


@dataclass(frozen=True)
class _Field:
    """How one key may be compared: allowed comparators and the literal it takes."""

    ops: frozenset[str]
    # id: experiment ids ('1' or 1); version: model version numbers (3 or '3'); scalar: a quoted string,
    # or a number (a number only with <, <=, >, >=)
    value: Literal["number", "integer", "string", "id", "version", "scalar"] = "string"


_METRIC = _Field(_NUMERIC_OPS, "number")
_NUMERIC_ATTRIBUTE = _Field(_NUMERIC_OPS, "number")


@dataclass(frozen=True)
class _Grammar:
    name: str  # used in messages: "runs", "experiments", "logged models"
    prefixes: Mapping[str, Kind]  # every accepted `<type>` spelling
    free_keys: Mapping[Kind, _Field]  # kinds whose keys are user data (metrics, params, tags)
    fixed_keys: Mapping[Kind, Mapping[str, _Field]]  # attribute / dataset keys, canonical names
    aliases: Mapping[str, str] = field(default_factory=dict)  # attribute alias -> canonical key
    order_kinds: frozenset[str] = frozenset()
    extra_order_keys: frozenset[str] = frozenset()  # orderable attributes not searchable
    unsupported: Mapping[str, str] = field(default_factory=dict)  # prefix -> why it cannot be searched
    # Keys of a fixed kind that open a family of free keys: (span, "attributes.") -> span_attribute
    key_families: Mapping[tuple[Kind, str], Kind] = field(default_factory=dict)
    redirects: Mapping[tuple[Kind, str], tuple[Kind, str]] = field(default_factory=dict)  # trace.text -> span

    def comparison(self, clause: _Clause) -> Comparison:
        kind, key = self.resolve(clause.ident, "filter")
        fld = self.field_for(kind, key)
        op = clause.op
        if op not in fld.ops:
            label = kind if kind in self.free_keys else f"{kind} '{key}'"
            if kind in ("span", "span_attribute"):
                label = f"'{clause.ident.text}'"
            if op in _LIST_OPS and kind == "attribute":
                listable = sorted(k for k, f in self.fixed_keys["attribute"].items() if "IN" in f.ops)
                raise InvalidParameterValue(
                    f"Only {listable} attributes support comparison with a list of quoted string "
                    f"values (got '{clause.ident.text} {op}')"
                )
            raise InvalidParameterValue(f"Invalid comparator '{op}' for {label}, expected one of {sorted(fld.ops)}")
        value = self.value(kind, key, fld, clause)
        if op == "RLIKE":
            try:
                re.compile(str(value))
            except re.error as err:
                raise InvalidParameterValue(f"Invalid regular expression '{value}' for RLIKE: {err}") from None
        return Comparison(kind, key, op, value)

    def resolve(self, ident: _Identifier, purpose: str) -> tuple[Kind, str]:
        if ident.prefix is None:
            kind: Kind = "attribute"
        else:
            prefix = ident.prefix.strip("`")
            if prefix in self.unsupported:
                raise InvalidParameterValue(f"Cannot search {self.name} by '{ident.text}': {self.unsupported[prefix]}")
            if prefix not in self.prefixes:
                raise InvalidParameterValue(
                    f"Invalid entity type '{prefix}' in '{ident.text}'. Valid values for "
                    f"{self.name} are {sorted(self.prefixes)}"
                )
            kind = self.prefixes[prefix]
        key = ident.key
        if kind == "attribute":
            key = self.aliases.get(key, key)
        kind, key = self.redirects.get((kind, key), (kind, key))
        for (family_of, start), family in self.key_families.items():
            if kind == family_of and key.startswith(start):
                if not key[len(start) :]:
                    raise InvalidParameterValue(f"Invalid identifier '{ident.text}': empty key after '{start}'")
                return family, key[len(start) :]
        if kind in self.fixed_keys:
            valid = set(self.fixed_keys[kind])
            if purpose == "order_by" and kind == "attribute":
                valid |= self.extra_order_keys
            if key not in valid:
                valid |= {f"{start}<key>" for (family_of, start) in self.key_families if family_of == kind}
                raise InvalidParameterValue(
                    f"Invalid {kind} key '{ident.key}' specified for {self.name}. Valid keys are {sorted(valid)}"
                )
        elif not key:
            raise InvalidParameterValue(f"Invalid identifier '{ident.text}': empty key")
        return kind, key

    def field_for(self, kind: Kind, key: str) -> _Field:
        if kind in self.free_keys:
            return self.free_keys[kind]
        return self.fixed_keys[kind][key]

    def value(self, kind: Kind, key: str, fld: _Field, clause: _Clause) -> Value:
        lit = clause.literal
        if clause.op in _NULL_OPS:
            return None
        if clause.op in _LIST_OPS:
            if lit.type != "list":
                raise InvalidParameterValue(
                    f"Expected a list of quoted string values for {clause.op}, e.g. ('a', 'b'). Got value {lit.text}"
                )
            items: tuple[str, ...] = lit.value
            if fld.value == "id":
                return tuple(_experiment_id(v) for v in items)
            return items
        if lit.type == "list":
            raise InvalidParameterValue(
                f"A list value is only allowed with IN / NOT IN, not '{clause.op}' (got {lit.text})"
            )
        if fld.value == "number" or fld.value == "integer":
            what = "metric" if kind == "metric" else f"numeric attribute: {key}"
            if lit.type != "number":
                raise InvalidParameterValue(f"Expected numeric value type for {what}. Found {lit.text}")
            if fld.value == "integer" and not isinstance(lit.value, int):
                raise InvalidParameterValue(f"Expected an integer value for {what}. Found {lit.text}")
            return float(lit.value) if kind == "metric" else lit.value
        if fld.value == "scalar":
            if clause.op in ("<", "<=", ">", ">=") and lit.type != "number":
                raise InvalidParameterValue(
                    f"Expected a numeric value for '{clause.op}' on {kind} '{key}'. Found {lit.text}"
                )
            if lit.type not in ("number", "string"):
                raise InvalidParameterValue(
                    f"Expected a quoted string or a number for {kind} '{key}'. Got value {lit.text}"
                )
            return lit.value  # type: ignore[no-any-return]
        if fld.value == "id":
            return _experiment_id(lit.value if lit.type == "string" else lit.text)
        if fld.value == "version":
            return _version_number(key, lit)
        if lit.type != "string":
            raise InvalidParameterValue(
                f"Expected a quoted string value for {kind} '{key}' (e.g. 'my-value'). Got value {lit.text}"
            )
        return str(lit.value)


def _experiment_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidParameterValue(f"Invalid experiment ID: '{text}'") from None


def _version_number(key: str, lit: _Literal) -> int:
    text = lit.value if lit.type == "string" else lit.text
    if lit.type in ("string", "number") and re.fullmatch(r"[+-]?\d+", str(text)):
        return int(text)
    raise InvalidParameterValue(f"Invalid value for numeric attribute '{key}': {lit.text}")


_STRING_ATTRIBUTE = _Field(_STRING_OPS | _LIST_OPS)
_ASSESSMENT = _Field(_STRING_OPS | _NULL_OPS | _NUMERIC_OPS, "scalar")
_SPAN_FIELD = _Field(_STRING_OPS | _LIST_OPS | {"RLIKE"})  # MLflow's comparators for span filters

RUNS = _Grammar(
    name="runs",
    prefixes={
        "metric": "metric",
        "metrics": "metric",
        "param": "param",
        "params": "param",
        "parameter": "param",
        "parameters": "param",
        "tag": "tag",
        "tags": "tag",
        "attribute": "attribute",
        "attributes": "attribute",
        "attr": "attribute",
        "run": "attribute",
        "dataset": "dataset",
        "datasets": "dataset",
    },  # fmt: skip
    free_keys={
        "metric": _METRIC,
        "param": _Field(_STRING_OPS | _NULL_OPS),
        "tag": _Field(_STRING_OPS | _NULL_OPS),
    },
    fixed_keys={
        "attribute": {
            "run_id": _STRING_ATTRIBUTE,
            "run_name": _Field(_STRING_OPS),
            "status": _Field(_STRING_OPS),
            "user_id": _Field(_STRING_OPS),
            "artifact_uri": _Field(_STRING_OPS),
            "start_time": _NUMERIC_ATTRIBUTE,
            "end_time": _NUMERIC_ATTRIBUTE,
        },
        "dataset": {k: _Field(_STRING_OPS | _LIST_OPS) for k in ("name", "digest", "context")},
    },
    aliases={
        "created": "start_time",
        "Created": "start_time",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
    },  # fmt: skip
    order_kinds=frozenset({"metric", "param", "tag", "attribute"}),
)

EXPERIMENTS = _Grammar(
    name="experiments",
    prefixes={
        "tag": "tag",
        "tags": "tag",
        "attribute": "attribute",
        "attributes": "attribute",
        "attr": "attribute",
    },  # fmt: skip
    free_keys={"tag": _Field(_STRING_OPS | _NULL_OPS)},
    fixed_keys={
        "attribute": {
            "name": _Field(_STRING_OPS),
            "experiment_id": _Field(frozenset({"=", "!="}) | _LIST_OPS, "id"),
            "creation_time": _Field(_NUMERIC_OPS, "integer"),
            "last_update_time": _Field(_NUMERIC_OPS, "integer"),
        }
    },
    order_kinds=frozenset({"attribute"}),
)

LOGGED_MODELS = _Grammar(
    name="logged models",
    prefixes={
        "metrics": "metric",
        "metric": "metric",
        "params": "param",
        "param": "param",
        "tags": "tag",
        "tag": "tag",
        "attributes": "attribute",
        "attribute": "attribute",
    },  # fmt: skip
    free_keys={"metric": _METRIC, "param": _Field(_STRING_OPS), "tag": _Field(_STRING_OPS)},
    fixed_keys={
        "attribute": {
            "name": _STRING_ATTRIBUTE,
            "model_id": _STRING_ATTRIBUTE,
            "model_type": _STRING_ATTRIBUTE,
            "status": _STRING_ATTRIBUTE,
            "source_run_id": _STRING_ATTRIBUTE,
            "creation_timestamp": _NUMERIC_ATTRIBUTE,
            "last_updated_timestamp": _NUMERIC_ATTRIBUTE,
        }
    },
    aliases={"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"},
    order_kinds=frozenset({"metric", "attribute"}),
)


_REGISTRY_PREFIXES: Mapping[str, Kind] = {"tag": "tag", "tags": "tag", "attribute": "attribute"}

REGISTERED_MODELS = _Grammar(
    name="registered models",
    prefixes=_REGISTRY_PREFIXES,
    free_keys={"tag": _Field(_STRING_OPS)},
    fixed_keys={"attribute": {"name": _STRING_ATTRIBUTE}},
    aliases={"timestamp": "last_updated_timestamp"},
    order_kinds=frozenset({"attribute"}),
    extra_order_keys=frozenset({"creation_timestamp", "last_updated_timestamp"}),
)

MODEL_VERSIONS = _Grammar(
    name="model versions",
    prefixes=_REGISTRY_PREFIXES,
    free_keys={"tag": _Field(_STRING_OPS)},
    fixed_keys={
        "attribute": {
            "name": _STRING_ATTRIBUTE,
            "run_id": _STRING_ATTRIBUTE,
            "source_path": _Field(_STRING_OPS),
            "version_number": _Field(_NUMERIC_OPS, "version"),
        }
    },
    order_kinds=frozenset({"attribute"}),
    extra_order_keys=frozenset({"creation_timestamp", "last_updated_timestamp"}),
)

# MLflow 3's search_traces. `name` and `run_id` are attributes to the user but live in a tag
# (`mlflow.traceName`) and in metadata (`mlflow.sourceRun`); `search_sql` maps them. `feedback.<name>`
# and `expectation.<name>` compare the value of the trace's valid assessment of that name. `span.<key>`
# and `span.attributes.<key>` compare the trace's spans (`trace.text` is `span.content`).
TRACES = _Grammar(
    name="traces",
    prefixes={
        "tag": "tag",
        "tags": "tag",
        "request_metadata": "metadata",
        "metadata": "metadata",
        "attribute": "attribute",
        "attributes": "attribute",
        "trace": "attribute",
        "feedback": "feedback",
        "expectation": "expectation",
        "span": "span",
    },  # fmt: skip
    free_keys={
        "tag": _Field(_STRING_OPS | _NULL_OPS),
        "metadata": _Field(_STRING_OPS | _NULL_OPS),
        "feedback": _ASSESSMENT,
        "expectation": _ASSESSMENT,
        "span_attribute": _SPAN_FIELD,
    },
    fixed_keys={
        "attribute": {
            "request_id": _STRING_ATTRIBUTE,
            "name": _STRING_ATTRIBUTE,
            "run_id": _STRING_ATTRIBUTE,
            "status": _STRING_ATTRIBUTE,
            "client_request_id": _STRING_ATTRIBUTE,
            "timestamp_ms": _NUMERIC_ATTRIBUTE,
            "execution_time_ms": _NUMERIC_ATTRIBUTE,
            "end_time_ms": _NUMERIC_ATTRIBUTE,
            "prompt": _Field(frozenset({"="})),  # a linked prompt version: `prompt = "name/3"`
        },
        "span": {
            "name": _SPAN_FIELD,
            "type": _SPAN_FIELD,
            "status": _SPAN_FIELD,
            "content": _Field(frozenset({"LIKE", "ILIKE"})),
        },
    },
    aliases={
        "trace_id": "request_id",
        "state": "status",
        "timestamp": "timestamp_ms",
        "execution_time": "execution_time_ms",
        "end_time": "end_time_ms",
    },  # fmt: skip
    order_kinds=frozenset({"attribute", "tag", "metadata"}),
    extra_order_keys=frozenset({"experiment_id"}),
    unsupported={"issue": "tracklet stores issue references on traces but does not search them"},
    key_families={("span", "attributes."): "span_attribute"},
    redirects={("attribute", "text"): ("span", "content")},
)


# MLflow 3's evaluation datasets (`mlflow.genai.datasets.search_datasets`). As in MLflow, `name` alone
# takes IN, and only name, created_time and last_update_time order.
EVALUATION_DATASETS = _Grammar(
    name="evaluation datasets",
    prefixes={"tag": "tag", "tags": "tag"},
    free_keys={"tag": _Field(_STRING_OPS)},
    fixed_keys={
        "attribute": {
            "name": _Field(_STRING_OPS | {"IN", "<", "<=", ">", ">="}),
            "created_by": _Field(_STRING_OPS),
            "last_updated_by": _Field(_STRING_OPS),
            "created_time": _Field(_NUMERIC_OPS, "integer"),
            "last_update_time": _Field(_NUMERIC_OPS, "integer"),
        }
    },
    order_kinds=frozenset({"attribute"}),
)
_DATASET_ORDER_KEYS = ("created_time", "last_update_time", "name")


# ---------------------------------------------------------------------------------------------
# Public parsing functions


def _parse_filter(grammar: _Grammar, filter_string: str | None) -> list[Comparison]:
    if filter_string is None:
        return []
    if not isinstance(filter_string, str):
        raise InvalidParameterValue(f"Filter must be a string, got {type(filter_string).__name__}")
    if not filter_string.strip():
        return []
    return [grammar.comparison(c) for c in _Parser(filter_string, "filter string").clauses()]


def parse_run_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a runs/search filter; empty or None means no condition."""
    return _parse_filter(RUNS, filter_string)


def parse_experiment_filter(filter_string: str | None) -> list[Comparison]:
    """Parse an experiments/search filter (name, experiment_id, creation_time, last_update_time, tags)."""
    return _parse_filter(EXPERIMENTS, filter_string)


def parse_logged_model_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a logged-models/search filter (attributes, metrics, params, tags)."""
    return _parse_filter(LOGGED_MODELS, filter_string)


def parse_registered_model_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a registered-models/search filter (`name`, `tags.<key>`)."""
    return _parse_filter(REGISTERED_MODELS, filter_string)


def parse_model_version_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a model-versions/search filter (`name`, `run_id`, `source_path`, `version_number`, `tags.<key>`)."""
    return _parse_filter(MODEL_VERSIONS, filter_string)


def parse_trace_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a traces/search filter (`trace.status = 'OK'`, `tags.k = 'v'`, `metadata.k LIKE 'v%'`,
    `trace.timestamp_ms > 1700000000000`, `trace.name = 'chat'`, `trace.run_id = '<run id>'`,
    `span.type = 'LLM'`, `span.attributes.model LIKE 'gpt%'`, `trace.text LIKE '%refund%'`,
    `prompt = "qa/2"`)."""
    return _parse_filter(TRACES, filter_string)


def parse_evaluation_dataset_filter(filter_string: str | None) -> list[Comparison]:
    """Parse an evaluation datasets/search filter (`name`, `created_by`, `last_updated_by`, `created_time`,
    `last_update_time`, `tags.<key>`)."""
    return _parse_filter(EVALUATION_DATASETS, filter_string)


def _parse_order_by_clause(grammar: _Grammar, clause: str) -> OrderKey:
    if not isinstance(clause, str) or not clause.strip():
        raise InvalidParameterValue(f"Invalid order_by clause '{clause}'. Could not be parsed.")
    parser = _Parser(clause, "order_by clause")
    tokens = parser.tokens
    if len(tokens) > 2 or tokens[0].type not in ("word", "ident", "dquote", "backtick"):
        raise InvalidParameterValue(f"Invalid order_by clause '{clause}'. Could not be parsed.")
    ascending = True
    if len(tokens) == 2:
        if not tokens[1].is_word("ASC", "DESC"):
            raise InvalidParameterValue(
                f"Invalid ordering key in order_by clause '{clause}': expected ASC or DESC, found '{tokens[1].text}'"
            )
        ascending = tokens[1].text.upper() == "ASC"
    kind, key = grammar.resolve(_split_identifier(tokens[0]), "order_by")
    if kind not in grammar.order_kinds:
        raise InvalidParameterValue(
            f"Invalid order_by entity '{kind}' in '{clause}' for {grammar.name}; "
            f"only {sorted(grammar.order_kinds)} can be ordered on"
        )
    return OrderKey(kind, key, ascending)


def _parse_order_by(grammar: _Grammar, order_by: Sequence[str] | None) -> list[OrderKey]:
    if order_by is None:
        return []
    if isinstance(order_by, str):
        order_by = [order_by]
    keys: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for clause in order_by:
        key = _parse_order_by_clause(grammar, clause)
        if (key.kind, key.key) in seen:
            raise InvalidParameterValue(f"`order_by` contains duplicate fields: {list(order_by)}")
        seen.add((key.kind, key.key))
        keys.append(key)
    return keys


def parse_trace_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """Parse traces/search order_by clauses: attributes (`timestamp_ms DESC`, `execution_time_ms`,
    `status`, `name`, `run_id`, `request_id`, `experiment_id`), tags and metadata, each with ASC or DESC."""
    return _parse_order_by(TRACES, order_by)


def parse_run_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """Parse runs/search order_by clauses such as `metrics.loss DESC` or `created`."""
    return _parse_order_by(RUNS, order_by)


def parse_experiment_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """Parse experiments/search order_by clauses (attributes only)."""
    return _parse_order_by(EXPERIMENTS, order_by)


def parse_registered_model_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """Parse registered-models/search order_by clauses: `name`, `last_updated_timestamp` (or `timestamp`),
    `creation_timestamp`, each with ASC or DESC."""
    return _parse_order_by(REGISTERED_MODELS, order_by)


def parse_model_version_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """Parse model-versions/search order_by clauses: `name`, `version_number`, `creation_timestamp`,
    `last_updated_timestamp`, each with ASC or DESC."""
    keys = _parse_order_by(MODEL_VERSIONS, order_by)
    orderable = ["creation_timestamp", "last_updated_timestamp", "name", "version_number"]
    for key in keys:
        if key.key not in orderable:  # run_id and source_path filter but do not sort, as in MLflow
            raise InvalidParameterValue(f"Invalid order by key '{key.key}' specified. Valid keys are {orderable}")
    return keys


def parse_evaluation_dataset_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """Parse evaluation datasets/search order_by clauses: `name`, `created_time`, `last_update_time`, each
    with ASC or DESC."""
    keys = _parse_order_by(EVALUATION_DATASETS, order_by)
    for key in keys:
        if key.key not in _DATASET_ORDER_KEYS:
            raise InvalidParameterValue(
                f"Invalid order by key '{key.key}' specified. Valid keys are {list(_DATASET_ORDER_KEYS)}"
            )
    return keys


def parse_logged_model_order_by(order_by: Sequence[Mapping[str, Any]] | None) -> list[OrderKey]:
    """Parse logged-models/search order_by objects `{field_name, ascending, dataset_name?, dataset_digest?}`.

    `field_name` is an attribute (aliases allowed) or `metrics.<key>`.
    """
    keys: list[OrderKey] = []
    for item in order_by or []:
        if not isinstance(item, Mapping):
            raise InvalidParameterValue("`order_by` must be a list of objects with a `field_name`.")
        name = item.get("field_name")
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameterValue("`field_name` in the `order_by` clause must be specified.")
        ascending = item.get("ascending", True)
        if ascending is None:
            ascending = True
        if not isinstance(ascending, bool):
            raise InvalidParameterValue(
                f"Value of `ascending` in the `order_by` clause must be a boolean, got {ascending!r} for field {name}."
            )
        dataset_name = item.get("dataset_name") or None
        dataset_digest = item.get("dataset_digest") or None
        if dataset_digest and not dataset_name:
            raise InvalidParameterValue("`dataset_digest` can only be specified if `dataset_name` is also specified.")
        prefix, dot, rest = name.strip().partition(".")
        if not dot:
            ident = _Identifier(None, name.strip(), name)
        elif prefix in ("metrics", "metric"):
            quoted = len(rest) > 1 and rest[0] == rest[-1] and rest[0] in '`"'
            ident = _Identifier(prefix, rest[1:-1] if quoted else rest, name)
        else:
            raise InvalidParameterValue(f"Invalid order by field name: {prefix}, only `metrics.<name>` is allowed.")
        kind, key = LOGGED_MODELS.resolve(ident, "order_by")
        keys.append(OrderKey(kind, key, ascending, dataset_name, dataset_digest))
    return keys


# ---------------------------------------------------------------------------------------------
# Page tokens


def encode_page_token(offset: int) -> str:
    """An opaque token for the page that starts at `offset`."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def read_page_token(token: str | None) -> dict[str, Any] | None:
    """The JSON object inside a page token (base64, URL-safe or plain); None when there is no token."""
    if not token:
        return None
    try:
        raw = token.strip().replace("+", "-").replace("/", "_")  # MLflow's tokens use plain base64
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, TypeError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise InvalidParameterValue(f"Invalid page token '{token}'. It could not be decoded.")
    return data


def decode_page_token(token: str | None) -> int:
    """The offset stored in a token from `encode_page_token`; no token means 0."""
    data = read_page_token(token)
    if data is None:
        return 0
    if "offset" not in data:
        raise InvalidParameterValue(f"Invalid page token '{token}'. It could not be decoded.")
    offset = data["offset"]
    # The upper bound keeps OFFSET (plus a page) within the databases' int64.
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < 2**62:
        raise InvalidParameterValue(f"Invalid page token '{token}'. Offset must be a non-negative integer.")
    return offset
