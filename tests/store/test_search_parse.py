"""The search grammar: what each filter / order_by / page token parses to, and what it rejects."""

from __future__ import annotations

import pytest

from tracklet.errors import InvalidParameterValue
from tracklet.store.search import (
    Comparison,
    OrderKey,
    decode_page_token,
    encode_page_token,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_logged_model_filter,
    parse_logged_model_order_by,
    parse_run_filter,
    parse_run_order_by,
    parse_trace_filter,
    parse_trace_order_by,
)


def one(filter_string: str) -> Comparison:
    (comparison,) = parse_run_filter(filter_string)
    return comparison


def rejects(parse, text, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameterValue, match=match):
        parse(text)


# --- runs: empty filters, conjunctions ---------------------------------------------------------


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_an_empty_filter_has_no_conditions(empty):
    assert parse_run_filter(empty) == []


@pytest.mark.parametrize("joiner", ["AND", "and", "And"])
def test_comparisons_are_joined_by_and_in_any_case(joiner):
    assert parse_run_filter(f"metrics.acc > 0.5 {joiner} params.lr = '0.1'") == [
        Comparison("metric", "acc", ">", 0.5),
        Comparison("param", "lr", "=", "0.1"),
    ]


def test_or_is_rejected_with_mlflows_message():
    rejects(parse_run_filter, "metrics.a > 1 OR metrics.b < 2", r"Invalid clause\(s\) in filter string: 'OR'")
    rejects(parse_run_filter, "metrics.a > 1 or metrics.b < 2", r"'OR'")


def test_parentheses_for_grouping_are_rejected():
    rejects(parse_run_filter, "(metrics.a > 1)", r"Invalid clause\(s\).*Parentheses")
    rejects(parse_run_filter, "metrics.a > 1 AND (params.b = 'x')", "Parentheses")


def test_clauses_without_and_between_them_are_rejected():
    rejects(parse_run_filter, "metrics.a > 1 metrics.b < 2", r"Invalid clause\(s\).*AND")


# --- runs: types and their aliases -------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "kind"),
    [
        ("metrics", "metric"), ("metric", "metric"),
        ("params", "param"), ("param", "param"), ("parameter", "param"), ("parameters", "param"),
        ("tags", "tag"), ("tag", "tag"),
    ],
)  # fmt: skip
def test_type_aliases(prefix, kind):
    value = "1" if kind == "metric" else "'1'"
    assert one(f"{prefix}.k = {value}").kind == kind


@pytest.mark.parametrize("prefix", ["attributes.", "attribute.", "attr.", "run.", ""])
def test_attribute_prefixes_and_no_prefix(prefix):
    assert one(f"{prefix}status = 'FINISHED'") == Comparison("attribute", "status", "=", "FINISHED")


@pytest.mark.parametrize("prefix", ["datasets", "dataset"])
def test_dataset_prefixes(prefix):
    assert one(f"{prefix}.name = 'mnist'") == Comparison("dataset", "name", "=", "mnist")


def test_unknown_type_is_rejected():
    rejects(parse_run_filter, "metricz.acc > 1", "Invalid entity type 'metricz'")


def test_unknown_attribute_and_dataset_keys_are_rejected():
    rejects(parse_run_filter, "attributes.colour = 'red'", "Invalid attribute key 'colour'")
    rejects(parse_run_filter, "colour = 'red'", "Invalid attribute key 'colour'")
    rejects(parse_run_filter, "datasets.size = 'big'", "Invalid dataset key 'size'")


# --- runs: keys ---------------------------------------------------------------------------------


def test_unquoted_dotted_keys_split_on_the_first_dot():
    assert one("tags.mlflow.runName = 'x'") == Comparison("tag", "mlflow.runName", "=", "x")


@pytest.mark.parametrize(
    "text", ["tags.`mlflow.user` = 'ann'", "tags.\"mlflow.user\" = 'ann'", "tag.`mlflow.user`='ann'"]
)
def test_keys_quoted_with_backticks_or_double_quotes(text):
    assert one(text) == Comparison("tag", "mlflow.user", "=", "ann")


def test_quoted_keys_may_hold_spaces_and_dashes():
    assert one("metrics.`my metric` < 1").key == "my metric"
    assert one('metrics."my-metric" < 1').key == "my-metric"


@pytest.mark.parametrize("text", ["created", "Created", "attributes.created"])
def test_created_means_start_time(text):
    assert one(f"{text} > 5") == Comparison("attribute", "start_time", ">", 5)


@pytest.mark.parametrize("text", ['"run name"', '"Run name"', "`Run Name`", 'attributes."Run Name"', "run_name"])
def test_run_name_aliases(text):
    assert one(f"{text} = 'x'") == Comparison("attribute", "run_name", "=", "x")


# --- runs: comparators and literals -------------------------------------------------------------


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_metric_comparators_take_numbers(op):
    assert one(f"metrics.acc {op} 0.5") == Comparison("metric", "acc", op, 0.5)


@pytest.mark.parametrize(("literal", "value"), [("1", 1.0), ("-2.5", -2.5), ("1e3", 1000.0), (".5", 0.5)])
def test_metric_values_are_floats(literal, value):
    assert one(f"metrics.acc > {literal}").value == value


@pytest.mark.parametrize("literal", ["'0.5'", '"0.5"', "('1')"])
def test_metric_with_a_quoted_value_is_rejected(literal):
    rejects(parse_run_filter, f"metrics.acc > {literal}", "Expected numeric value type for metric|list")


@pytest.mark.parametrize("clause", ["LIKE 'x'", "ILIKE 'x'", "IN ('x')", "IS NULL", "IS NOT NULL"])
def test_metric_rejects_string_comparators(clause):
    rejects(parse_run_filter, f"metrics.acc {clause}", "Invalid comparator")


@pytest.mark.parametrize("kind", ["params", "tags"])
@pytest.mark.parametrize("op", ["=", "!=", "LIKE", "ILIKE", "like", "ilike"])
def test_param_and_tag_string_comparators(kind, op):
    assert one(f"{kind}.k {op} 'v%'").op == op.upper()


@pytest.mark.parametrize("kind", ["params", "tags"])
def test_param_and_tag_null_checks(kind):
    assert one(f"{kind}.k IS NULL").op == "IS NULL"
    assert one(f"{kind}.k is not null") == Comparison(kind.rstrip("s"), "k", "IS NOT NULL", None)


@pytest.mark.parametrize("kind", ["params", "tags"])
@pytest.mark.parametrize("op", ["<", ">", "<=", ">=", "IN"])
def test_param_and_tag_reject_ordering_and_lists(kind, op):
    rejects(parse_run_filter, f"{kind}.k {op} 'a'", "Invalid comparator")


def test_strings_take_single_or_double_quotes():
    assert one("params.k = 'a b'").value == "a b"
    assert one('params.k = "a b"').value == "a b"
    assert one("params.k = 'it''s'").value == "it's"


def test_params_need_quoted_values():
    rejects(parse_run_filter, "params.lr = 0.1", "Expected a quoted string value for param")
    rejects(parse_run_filter, "tags.k = bare", "expected a value")


@pytest.mark.parametrize("key", ["run_id", "run_name", "status", "user_id", "artifact_uri"])
@pytest.mark.parametrize("op", ["=", "!=", "LIKE", "ILIKE"])
def test_string_attributes(key, op):
    assert one(f"attributes.{key} {op} 'x'") == Comparison("attribute", key, op, "x")


def test_in_and_not_in_for_run_id():
    assert one("attributes.run_id IN ('a', 'b')") == Comparison("attribute", "run_id", "IN", ("a", "b"))
    assert one('run_id not in ("a")') == Comparison("attribute", "run_id", "NOT IN", ("a",))


@pytest.mark.parametrize("key", ["run_name", "status", "user_id"])
def test_in_is_only_for_run_id(key):
    rejects(parse_run_filter, f"{key} IN ('a')", r"Only \['run_id'\] attributes support")


def test_in_needs_a_list_and_lists_need_in():
    rejects(parse_run_filter, "run_id IN 'a'", "Expected a list")
    rejects(parse_run_filter, "run_id = ('a')", "only allowed with IN")
    rejects(parse_run_filter, "run_id IN ()", "non-empty list")
    rejects(parse_run_filter, "run_id IN ('a' 'b')", "expected ',' or '\\)'")


@pytest.mark.parametrize("key", ["start_time", "end_time"])
@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_numeric_attributes(key, op):
    assert one(f"attributes.{key} {op} 1700000000000") == Comparison("attribute", key, op, 1700000000000)


def test_numeric_attributes_reject_strings_and_like():
    rejects(parse_run_filter, "start_time > '5'", "Expected numeric value type for numeric attribute: start_")
    rejects(parse_run_filter, "end_time LIKE '5%'", "Invalid comparator")


def test_attributes_reject_null_checks():
    rejects(parse_run_filter, "status IS NULL", "Invalid comparator 'IS NULL'")


@pytest.mark.parametrize("key", ["name", "digest", "context"])
@pytest.mark.parametrize(
    ("op", "literal", "value"),
    [
        ("=", "'x'", "x"),
        ("!=", "'x'", "x"),
        ("LIKE", "'x%'", "x%"),
        ("ILIKE", "'x%'", "x%"),
        ("IN", "('x','y')", ("x", "y")),
        ("NOT IN", "('x')", ("x",)),
    ],
)
def test_dataset_comparators(key, op, literal, value):
    assert one(f"datasets.{key} {op} {literal}") == Comparison("dataset", key, op, value)


def test_datasets_reject_ordering_comparators():
    rejects(parse_run_filter, "datasets.name > 'a'", "Invalid comparator")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("params.k = 'open", "unterminated quoted string"),
        ("metrics.a ~ 1", "unexpected character '~'"),
        ("metrics.a >", "unexpected end"),
        ("metrics.a", "unexpected end"),
        ("metrics.a 1", "expected a comparator"),
        ("params.a IS 'x'", "expected NULL"),
        ("metrics.a <> 1 AND", "unexpected end"),
        ("= 1", "expected an identifier"),
        ("tags. = 'x'", "Invalid identifier"),
        ("params.a NOT LIKE 'x'", "expected a comparator"),
    ],
)
def test_malformed_filters(text, match):
    rejects(parse_run_filter, text, match)


def test_no_other_exception_escapes_for_garbage():
    garbage = ["'", '"', "`", "((", "AND", "metrics.", "1 = 1", "params.a = 'x' AND", "run_id IN (", "🙂"]
    for text in garbage:
        with pytest.raises(InvalidParameterValue):
            parse_run_filter(text)


# --- runs: order_by -----------------------------------------------------------------------------


def test_run_order_by_defaults_to_ascending():
    assert parse_run_order_by(["metrics.acc"]) == [OrderKey("metric", "acc", True)]


@pytest.mark.parametrize(("direction", "ascending"), [("ASC", True), ("asc", True), ("DESC", False), ("desc", False)])
def test_run_order_by_direction(direction, ascending):
    assert parse_run_order_by([f"params.lr {direction}"]) == [OrderKey("param", "lr", ascending)]


def test_run_order_by_types_and_aliases():
    assert parse_run_order_by(["tags.`mlflow.user` DESC", "created", "`Run Name`", "attr.end_time"]) == [
        OrderKey("tag", "mlflow.user", False),
        OrderKey("attribute", "start_time", True),
        OrderKey("attribute", "run_name", True),
        OrderKey("attribute", "end_time", True),
    ]


def test_run_order_by_rejects_bad_direction_and_extra_words():
    rejects(parse_run_order_by, ["metrics.x sideways"], "Invalid ordering key in order_by clause")
    rejects(parse_run_order_by, ["metrics.x ASC please"], "Could not be parsed")
    rejects(parse_run_order_by, [""], "Could not be parsed")


def test_run_order_by_rejects_duplicates_even_through_aliases():
    rejects(parse_run_order_by, ["metrics.a", "metrics.a DESC"], "duplicate fields")
    rejects(parse_run_order_by, ["created", "start_time DESC"], "duplicate fields")


def test_run_order_by_rejects_datasets_and_unknown_attributes():
    rejects(parse_run_order_by, ["datasets.name"], "Invalid order_by entity 'dataset'")
    rejects(parse_run_order_by, ["colour"], "Invalid attribute key 'colour'")


# --- experiments --------------------------------------------------------------------------------


def test_experiment_filters():
    assert parse_experiment_filter(
        "name LIKE 'exp%' AND experiment_id IN ('1', '2') AND creation_time > 10 AND tags.team = 'x'"
    ) == [
        Comparison("attribute", "name", "LIKE", "exp%"),
        Comparison("attribute", "experiment_id", "IN", (1, 2)),
        Comparison("attribute", "creation_time", ">", 10),
        Comparison("tag", "team", "=", "x"),
    ]


def test_experiment_tag_null_checks_and_ilike():
    parsed = parse_experiment_filter("tags.a IS NULL AND tags.b IS NOT NULL AND tags.c ILIKE 'x'")
    assert [c.op for c in parsed] == ["IS NULL", "IS NOT NULL", "ILIKE"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("name IN ('a')", "Only \\['experiment_id'\\]"),
        ("experiment_id = 'abc'", "Invalid experiment ID"),
        ("experiment_id LIKE '1%'", "Invalid comparator"),
        ("creation_time > '5'", "Expected numeric value type"),
        ("last_update_time > 1.5", "Expected an integer"),
        ("metrics.acc > 1", "Invalid entity type 'metrics'"),
        ("artifact_location = 'x'", "Invalid attribute key"),
        ("tags.a > 'x'", "Invalid comparator"),
        ("name = 'a' OR name = 'b'", "'OR'"),
    ],
)
def test_experiment_filter_errors(text, match):
    rejects(parse_experiment_filter, text, match)


def test_experiment_order_by():
    order_by = ["name", "creation_time DESC", "last_update_time", "experiment_id desc"]
    assert parse_experiment_order_by(order_by) == [
        OrderKey("attribute", "name", True),
        OrderKey("attribute", "creation_time", False),
        OrderKey("attribute", "last_update_time", True),
        OrderKey("attribute", "experiment_id", False),
    ]


def test_experiment_order_by_rejects_tags_duplicates_and_unknown_keys():
    rejects(parse_experiment_order_by, ["tags.team"], "Invalid order_by entity 'tag'")
    rejects(parse_experiment_order_by, ["name", "name DESC"], "duplicate")
    rejects(parse_experiment_order_by, ["artifact_location"], "Invalid attribute key")


# --- logged models ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["name = 'm'", "name='m'", "attributes.name = 'm'"])
def test_logged_model_name_with_or_without_spaces(text):
    assert parse_logged_model_filter(text) == [Comparison("attribute", "name", "=", "m")]


def test_logged_model_filters():
    assert parse_logged_model_filter(
        "source_run_id='r1' AND metrics.acc >= 0.9 AND params.alpha != '1' AND tags.t ILIKE 'x%'"
        " AND creation_time > 5 AND last_updated_timestamp < 9 AND status IN ('READY')"
    ) == [
        Comparison("attribute", "source_run_id", "=", "r1"),
        Comparison("metric", "acc", ">=", 0.9),
        Comparison("param", "alpha", "!=", "1"),
        Comparison("tag", "t", "ILIKE", "x%"),
        Comparison("attribute", "creation_timestamp", ">", 5),
        Comparison("attribute", "last_updated_timestamp", "<", 9),
        Comparison("attribute", "status", "IN", ("READY",)),
    ]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("tags.t IS NULL", "Invalid comparator"),
        ("metrics.acc = 'x'", "Expected numeric value type for metric"),
        ("creation_timestamp = 'x'", "Expected numeric value type"),
        ("experiment_id = '1'", "Invalid attribute key"),
        ("datasets.name = 'x'", "Invalid entity type"),
    ],
)
def test_logged_model_filter_errors(text, match):
    rejects(parse_logged_model_filter, text, match)


def test_logged_model_order_by_objects():
    assert parse_logged_model_order_by(
        [
            {"field_name": "creation_time", "ascending": False},
            {"field_name": "metrics.acc", "dataset_name": "eval", "dataset_digest": "d"},
            {"field_name": "name"},
        ]
    ) == [
        OrderKey("attribute", "creation_timestamp", False),
        OrderKey("metric", "acc", True, "eval", "d"),
        OrderKey("attribute", "name", True),
    ]


@pytest.mark.parametrize(
    ("order_by", "match"),
    [
        (["name"], "list of objects"),
        ([{"ascending": True}], "field_name"),
        ([{"field_name": "params.a"}], "only `metrics.<name>`"),
        ([{"field_name": "colour"}], "Invalid attribute key"),
        ([{"field_name": "name", "ascending": "yes"}], "must be a boolean"),
        ([{"field_name": "metrics.a", "dataset_digest": "d"}], "dataset_digest"),
    ],
)
def test_logged_model_order_by_errors(order_by, match):
    rejects(parse_logged_model_order_by, order_by, match)


# --- page tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 1, 1000, 10**9])
def test_page_tokens_round_trip(offset):
    token = encode_page_token(offset)
    assert isinstance(token, str) and str(offset) not in token
    assert decode_page_token(token) == offset


@pytest.mark.parametrize("missing", [None, ""])
def test_no_page_token_means_the_first_page(missing):
    assert decode_page_token(missing) == 0


def test_mlflow_style_tokens_are_understood():
    assert decode_page_token("eyJvZmZzZXQiOiAxMDB9") == 100  # base64 of {"offset": 100}


@pytest.mark.parametrize(
    "garbage",
    ["not-a-token!", "e30=", "bnVsbA==", "eyJvZmZzZXQiOiAtMX0=", "eyJvZmZzZXQiOiAiMSJ9", "%%%", "\x00"],
)
def test_garbage_page_tokens_are_rejected(garbage):
    with pytest.raises(InvalidParameterValue, match="Invalid page token"):
        decode_page_token(garbage)


# -- traces ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trace.status = 'OK'", Comparison("attribute", "status", "=", "OK")),
        ("attributes.state != 'ERROR'", Comparison("attribute", "status", "!=", "ERROR")),
        ("trace_id IN ('tr-1', 'tr-2')", Comparison("attribute", "request_id", "IN", ("tr-1", "tr-2"))),
        ("trace.timestamp >= 5", Comparison("attribute", "timestamp_ms", ">=", 5)),
        ("trace.execution_time < 2.5", Comparison("attribute", "execution_time_ms", "<", 2.5)),
        ("trace.name LIKE 'chat%'", Comparison("attribute", "name", "LIKE", "chat%")),
        ("tags.`a.b` IS NULL", Comparison("tag", "a.b", "IS NULL", None)),
        ("request_metadata.`mlflow.user` = 'ann'", Comparison("metadata", "mlflow.user", "=", "ann")),
        ("feedback.score > 3", Comparison("feedback", "score", ">", 3)),
        ("feedback.correct = 'true'", Comparison("feedback", "correct", "=", "true")),
        ("expectation.answer ILIKE '%paris%'", Comparison("expectation", "answer", "ILIKE", "%paris%")),
        ("span.name = 'llm'", Comparison("span", "name", "=", "llm")),
        ("span.type IN ('LLM', 'TOOL')", Comparison("span", "type", "IN", ("LLM", "TOOL"))),
        ("span.status != 'ERROR'", Comparison("span", "status", "!=", "ERROR")),
        ("span.name RLIKE '^ll.$'", Comparison("span", "name", "RLIKE", "^ll.$")),
        ("span.content ILIKE '%Paris%'", Comparison("span", "content", "ILIKE", "%Paris%")),
        ("trace.text LIKE '%refund%'", Comparison("span", "content", "LIKE", "%refund%")),
        ("span.attributes.model NOT IN ('a')", Comparison("span_attribute", "model", "NOT IN", ("a",))),
        ("span.attributes.gen_ai.request.model = 'x'", Comparison("span_attribute", "gen_ai.request.model", "=", "x")),
        ("span.attributes.`a b.c` LIKE 'x%'", Comparison("span_attribute", "a b.c", "LIKE", "x%")),
    ],
)
def test_trace_filters_parse_to_canonical_keys(text, expected):
    assert parse_trace_filter(text) == [expected]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("issue.id = 'x'", "does not search them"),
        (
            "span.colour = 'x'",
            r"Invalid span key 'colour'.*\['attributes.<key>', 'content', 'name', 'status', 'type'\]",
        ),
        ("span.attributes. = 'x'", "empty key after 'attributes.'"),
        ("span.content = 'x'", r"Invalid comparator '=' for 'span.content', expected one of \['ILIKE', 'LIKE'\]"),
        ("trace.text IN ('x')", "Invalid comparator 'IN' for 'trace.text'"),
        ("span.name > 'a'", "Invalid comparator '>' for 'span.name'"),
        ("span.attributes.tokens = 12", "Expected a quoted string value"),
        ("span.name RLIKE '(('", "Invalid regular expression"),
        ("tags.team RLIKE 'a'", "Invalid comparator 'RLIKE' for tag"),
        ("trace.status > 'OK'", "Invalid comparator '>'"),
        ("trace.timestamp_ms > 'soon'", "Expected numeric value"),
        ("feedback.score > 'high'", "Expected a numeric value"),
        ("feedback.score IN ('a')", "Invalid comparator 'IN'"),
        ("metadata.k > 1", "Invalid comparator '>'"),
    ],
)
def test_trace_filters_refuse_what_tracklet_cannot_search(text, match):
    rejects(parse_trace_filter, text, match)


def test_trace_order_by_takes_attributes_tags_and_metadata_but_not_assessments():
    assert parse_trace_order_by(["timestamp DESC", "tags.team", "metadata.`mlflow.user` ASC", "experiment_id"]) == [
        OrderKey("attribute", "timestamp_ms", ascending=False),
        OrderKey("tag", "team"),
        OrderKey("metadata", "mlflow.user"),
        OrderKey("attribute", "experiment_id"),
    ]
    rejects(parse_trace_order_by, ["feedback.score"], "Invalid order_by entity 'feedback'")
