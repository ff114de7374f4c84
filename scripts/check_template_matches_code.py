#!/usr/bin/env python3
"""Checks that template.yaml and the Rust code agree, and fails loudly when they do not.

What it compares:
- the DynamoDB table: key attributes, index name and keys, TTL attribute (the constants in
  shared/storage/src/keys.rs; shared/storage/src/table.rs creates it), billing mode and
  projection;
- the functions: each `Binary` is a `[[bin]]` of the crate its `CodeUri` names, every
  function binary under functions/ is deployed, runtime/architecture/build method;
- the environment: every variable the template sets is one the code reads (the crates that
  run on Lambda, shared/*/src but the test kit, and functions/*/src), the required ones are
  set, and keys never appear inline;
- IAM: each function's DynamoDB actions are exactly the ones it is meant to use, on this
  table only, and every DynamoDB operation the code calls is granted to some function;
- the API, after SAM's own transform (the one CloudFormation runs on deploy): every route
  reaches its function, the completion route streams (`ResponseTransferMode:
  RESPONSE_STREAM` becomes `responseTransferMode: STREAM` and the
  response-streaming-invocations URI) with a long timeout, and each path has a preflight
  whose allowed methods, headers and cache time are what the local server answers with
  (shared/edge/src/cors.rs);
- live updates: the WebSocket API's three routes reach the live function, `$default` is
  two-way, the push policy grants ManageConnections on that API alone and is attached by
  exactly the functions that push (PUSHERS), the table's stream (both images) feeds the push
  function alone through one event source mapping whose filters are the code's
  (STREAM_FILTERS in functions/push/src/lib.rs), and the distribution's CloudFront Function
  is cloudfront/ws-rewrite.js byte for byte;
- the knowledge: the bucket (encrypted, no public access, no ACLs, TLS only, incomplete
  uploads aborted), the FIFO queue with its dead-letter queue and a visibility timeout above
  the worker's timeout, the worker's queue mapping (one job at a time, batch item failures)
  and its schedule, the two functions' S3 rights on the bucket's objects and SQS rights on
  the queue alone, no S3 or SQS right for any other function, and every S3 or SQS call the
  code makes granted to some function;
- the model providers: the functions that call the OpenAI-compatible server (OPENAI_USERS)
  are given its URL and its key's secret from the two parameters, and may read that secret
  only when the deployment names one (Fn::If HasOpenAiApiKey), no other function is told of
  it; the knowledge's two functions (EMBEDDERS) hold bedrock:InvokeModel on Titan Text
  Embeddings V2 alone (the model the code's InvokeModel call speaks to), and no other
  function holds bedrock:InvokeModel.

Run by scripts/check-template.sh inside its venv (PyYAML and aws-sam-translator come with
cfn-lint and aws-sam-cli). Exit status 1 on any mismatch; the last line reads
"N passed, N failed". No network: SAM's transform runs offline with a stub for the two AWS
managed policies it names.

    scripts/check_template_matches_code.py [-q] [--root DIR] [--template FILE] [--transformed-out FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any, Iterator

import yaml

# --------------------------------------------------------------------------------------------
# What the deployment is meant to be. Change these together with template.yaml and the code.
# --------------------------------------------------------------------------------------------

# Binary -> its routes, each (HTTP method, path, streams?), as in API.md and DESIGN.md
# ("Functions, one per resource").
ROUTES = {
    "get-conversation": [("GET", "/v2/conversations/{conversationId}", False)],
    "close-conversation": [("POST", "/v2/conversations/{conversationId}/close", False)],
    "chat-completion": [
        ("POST", "/v2/chat/completions", True),
        ("POST", "/v2/conversations/{conversationId}/messages", True),
    ],
    "conversations": [
        ("GET", "/v2/conversations", False),
        ("POST", "/v2/conversations", False),
        ("GET", "/v2/conversations/{conversationId}/messages", False),
    ],
    "feedback": [("POST", "/v2/messages/{messageId}/feedback", False)],
    "chat-projects": [("GET", "/v2/projects/current", False)],
    "chat-identity": [("POST", "/v2/identity/init", False), ("GET", "/v2/identity/me", False)],
    "chat-agents": [
        ("POST", "/v2/conversations/{conversationId}/handoff", False),
        ("POST", "/v2/conversations/{conversationId}/agent-messages", False),
        ("POST", "/v2/conversations/{conversationId}/release", False),
    ],
    # The WebSocket API's routes, not the REST API's (check_live).
    "chat-live": [],
    # The table stream's consumer (check_stream).
    "chat-push": [],
    # The knowledge (API.md Part 3): search and the secret-key routes.
    "knowledge": [
        ("GET", "/v2/search", False),
        ("GET", "/v2/knowledge/sources", False),
        ("POST", "/v2/knowledge/sources", False),
        ("GET", "/v2/knowledge/sources/{sourceId}", False),
        ("PATCH", "/v2/knowledge/sources/{sourceId}", False),
        ("DELETE", "/v2/knowledge/sources/{sourceId}", False),
        ("POST", "/v2/knowledge/sources/{sourceId}/sync", False),
        ("GET", "/v2/knowledge/sources/{sourceId}/pages", False),
        ("GET", "/v2/projects/{projectId}/qnas", False),
        ("POST", "/v2/projects/{projectId}/qnas", False),
        ("GET", "/v2/projects/{projectId}/qnas/{qnaId}", False),
        ("PATCH", "/v2/projects/{projectId}/qnas/{qnaId}", False),
        ("DELETE", "/v2/projects/{projectId}/qnas/{qnaId}", False),
    ],
    # The knowledge queue's consumer and the schedule's target (check_knowledge).
    "crawl-worker": [],
}

# The order a preflight names a path's methods in (as local/src/server.rs spells them).
METHOD_ORDER = ["GET", "POST", "PATCH", "DELETE"]

# The routes a publishable key authorises (`?apiKey=`): their preflight lets any page ask,
# and the function decides by the key's origins (local/src/server.rs `takes_api_key`).
PUBLISHABLE_KEY_PATHS = {"/v2/projects/current", "/v2/identity/init", "/v2/search"}

# The DynamoDB actions each function's code uses, no more. TransactWriteItems is no IAM action:
# a transaction is authorised as the Put/Update/Delete/ConditionCheck items it holds.
DYNAMODB_ACTIONS = {
    "get-conversation": {"Query", "GetItem", "UpdateItem"},
    "close-conversation": {"UpdateItem", "GetItem"},
    "chat-completion": {"GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "ConditionCheckItem"},
    "chat-projects": {"BatchGetItem"},
    "chat-identity": {"BatchGetItem", "GetItem", "PutItem", "UpdateItem"},
    "conversations": {"Query", "GetItem", "PutItem", "UpdateItem"},
    "feedback": {"GetItem", "UpdateItem"},
    "chat-agents": {"GetItem", "UpdateItem", "PutItem", "ConditionCheckItem"},
    "chat-live": {"BatchGetItem", "ConditionCheckItem", "PutItem", "DeleteItem"},
    # The sockets listed and the gone ones forgotten; the stream read by its mapping.
    "chat-push": {"Query", "DeleteItem", "DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"},
    # Keys (GetItem, BatchGetItem for a publishable key), sources, pairs, pages (Query), a
    # source and its URL claim in one transaction and a pair (PutItem, DeleteItem), the
    # counters and a queued sync (UpdateItem).
    "knowledge": {"GetItem", "BatchGetItem", "Query", "PutItem", "DeleteItem", "UpdateItem"},
    # Sources and pages (GetItem, Query; the schedule's Query on gsi1), a sync's marks and
    # the index version (UpdateItem), a source's pages (BatchWriteItem).
    "crawl-worker": {"GetItem", "Query", "UpdateItem", "BatchWriteItem"},
}

# Indexes a function may Query besides the table (anything else is a finding).
INDEX_QUERIES = {
    "conversations": {"gsi1", "gsi2"},
    "crawl-worker": {"gsi1"},
}

# The DynamoDB Streams actions: granted on the table's stream, never on the table.
STREAM_ACTIONS = {"DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"}

# Other actions a function may hold (the signing-key secret is required for every function).
OTHER_ACTIONS = {
    "get-conversation": {"secretsmanager:GetSecretValue"},
    "close-conversation": {"secretsmanager:GetSecretValue"},
    # Answers (ConverseStream), grounded in the project's index snapshot (read only), the
    # question embedded by Titan V2 when the index names it.
    "chat-completion": {
        "secretsmanager:GetSecretValue", "bedrock:InvokeModelWithResponseStream",
        "s3:GetObject", "bedrock:InvokeModel",
    },
    "chat-projects": {"secretsmanager:GetSecretValue"},
    "chat-identity": {"secretsmanager:GetSecretValue"},
    "conversations": {"secretsmanager:GetSecretValue"},
    "feedback": {"secretsmanager:GetSecretValue"},
    "chat-agents": {"secretsmanager:GetSecretValue"},
    "chat-live": {"secretsmanager:GetSecretValue"},
    "chat-push": {"secretsmanager:GetSecretValue"},
    # Snapshots read, documents written, jobs queued; a question embedded (Titan V2).
    "knowledge": {
        "secretsmanager:GetSecretValue", "s3:GetObject", "s3:PutObject", "sqs:SendMessage",
        "bedrock:InvokeModel",
    },
    # Bundles, documents and snapshots read, written and removed (ListBucket: a missing
    # object is 404, not 403); the tick's jobs queued; the queue consumed by its mapping;
    # passages embedded (Titan V2).
    "crawl-worker": {
        "secretsmanager:GetSecretValue",
        "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
        "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
        "bedrock:InvokeModel",
    },
}

# The functions that call the OpenAI-compatible server (chat, embeddings): each is given its
# base URL and its key's secret from these parameters, and may read that secret only under
# this condition (an empty parameter: no OpenAI provider, and no grant on an empty ARN).
OPENAI_USERS = {"chat-completion", "knowledge", "crawl-worker"}
OPENAI_ENV = {"OPENAI_API_KEY_SECRET_ARN": "OpenAiApiKeySecretArn", "OPENAI_BASE_URL": "OpenAiBaseUrl"}
OPENAI_KEY_PARAM = "OpenAiApiKeySecretArn"
OPENAI_KEY_CONDITION = "HasOpenAiApiKey"
# Semantic search's Bedrock embedding model (shared/knowledge/src/embeddings.rs calls
# InvokeModel, one text a call): these functions alone hold bedrock:InvokeModel, on it alone.
EMBEDDERS = {"knowledge", "crawl-worker", "chat-completion"}
EMBEDDINGS_RS = "shared/knowledge/src/embeddings.rs"
EMBEDDING_MODEL_ID = "amazon.titan-embed-text-v2:0"
EMBEDDING_MODEL_ARN = {"Fn::Sub": f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}::foundation-model/{EMBEDDING_MODEL_ID}"}
EMBEDDING_ACTION = "bedrock:InvokeModel"

# The knowledge's resources (template.yaml) and what the code expects of them.
KNOWLEDGE_FUNCTIONS = {"knowledge", "crawl-worker"}
# Functions that read index snapshots to ground answers (API.md §16), and nothing else of
# the knowledge: GetObject on the bucket's objects, told the bucket, not the queue.
SNAPSHOT_READERS = {"chat-completion"}
QUEUE_WORKER = "crawl-worker"
KNOWLEDGE_BUCKET = "KnowledgeBucket"
KNOWLEDGE_QUEUE = "KnowledgeQueue"
KNOWLEDGE_DLQ = "KnowledgeDeadLetterQueue"
# Every object key the code writes is under this prefix (shared/knowledge/src/blobs.rs).
KNOWLEDGE_BLOBS = "shared/knowledge/src/blobs.rs"
KNOWLEDGE_PREFIX = "projects/"
KNOWLEDGE_SCHEDULE = "rate(15 minutes)"
DLQ_RETENTION_SECS = 14 * 24 * 3600
S3_OBJECT_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
S3_BUCKET_ACTIONS = {"s3:ListBucket"}
SQS_SEND_ACTIONS = {"sqs:SendMessage"}
# What Lambda's event source mapping polls a queue with (the consumer's role holds them).
SQS_POLLER_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
# SDK operation -> IAM action, for the S3 and SQS calls the code makes.
BLOB_AND_QUEUE_OPERATIONS = {
    "get_object": "s3:GetObject",
    "put_object": "s3:PutObject",
    "delete_object": "s3:DeleteObject",
    "send_message": "sqs:SendMessage",
}
BLOB_AND_QUEUE_CALL_RE = re.compile(r"\.(" + "|".join(BLOB_AND_QUEUE_OPERATIONS) + r")\(\)")

# The functions that push to the widget's sockets: each attaches the stack's push policy
# (execute-api:ManageConnections on the WebSocket API only) and is told its endpoint; no
# other function has either. The writes push nothing: the table's stream feeds the pusher.
PUSHERS = {"chat-push"}
PUSH_CRATE = "functions/push/src/lib.rs"
STREAM_FILTERS_RE = re.compile(r'r#"(\{.*?\})"#')
PUSH_ENDPOINT_VAR = "LIVE_MANAGEMENT_ENDPOINT"
# The CloudFront Function's source, embedded in the template byte for byte.
WS_REWRITE_JS = "cloudfront/ws-rewrite.js"
WS_PATH_PATTERN = "/v2/conversations/*/ws"

# Crates that may be missing on this branch while they are written elsewhere: their function
# is then checked only for what the template alone can tell.
PENDING_CRATES: dict[str, str] = {}

# Variables the template sets before the code reads them: name -> the crate whose absence
# excuses it (None: excused until the code reads it, with a warning every run).
PENDING_ENV = {
    "OPENAI_API_KEY_SECRET_ARN": "functions/completion",
    "OPENAI_BASE_URL": "functions/completion",
}

# Variables every function must have, and ones no deployment may set.
REQUIRED_ENV = {"TABLE_NAME", "SESSION_SIGNING_KEYS_SECRET_ARN", "LOG_FORMAT"}
FUNCTION_ENV = {
    "chat-completion": {"OPENAI_API_KEY_SECRET_ARN", "OPENAI_BASE_URL"},
    "chat-push": {"LIVE_MANAGEMENT_ENDPOINT"},
    "knowledge": {"KNOWLEDGE_BUCKET", "KNOWLEDGE_QUEUE_URL", "OPENAI_API_KEY_SECRET_ARN", "OPENAI_BASE_URL"},
    "crawl-worker": {"KNOWLEDGE_BUCKET", "KNOWLEDGE_QUEUE_URL", "OPENAI_API_KEY_SECRET_ARN", "OPENAI_BASE_URL"},
}
FORBIDDEN_ENV = {
    "SESSION_SIGNING_KEYS": "keys inline in the configuration; use SESSION_SIGNING_KEYS_SECRET_ARN",
    "DYNAMODB_ENDPOINT": "a local engine's endpoint",
    "S3_ENDPOINT_URL": "a local engine's endpoint",
    "KNOWLEDGE_ALLOW_LOOPBACK": "the crawler would fetch loopback addresses (the local server's own)",
    "OPENAI_API_KEY": "a key inline in the configuration; use OPENAI_API_KEY_SECRET_ARN",
}

# SDK operation -> IAM action, for the DynamoDB calls the code makes.
SDK_OPERATIONS = {
    "get_item": "GetItem",
    "batch_get_item": "BatchGetItem",
    "query": "Query",
    "scan": "Scan",
    "put_item": "PutItem",
    "update_item": "UpdateItem",
    "delete_item": "DeleteItem",
    "batch_write_item": "BatchWriteItem",
    "transact_get_items": "GetItem",
}
TRANSACT_MEMBERS = {
    "Put::builder": "PutItem",
    "Update::builder": "UpdateItem",
    "Delete::builder": "DeleteItem",
    "ConditionCheck::builder": "ConditionCheckItem",
}

STREAM_TIMEOUT_MAX_MS = 900_000  # API Gateway: a streamed response lasts at most 15 minutes
LAMBDA_TIMEOUT_MAX_S = 900  # Lambda's maximum
BUFFERED_TIMEOUT_MAX_MS = 29_000  # API Gateway's default (and, without a quota raise, maximum)


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


class Report:
    def __init__(self, quiet: bool = False) -> None:
        self.passed = 0
        self.failed = 0
        self.quiet = quiet

    def check(self, ok: bool, what: str, why: str = "") -> bool:
        if ok:
            self.passed += 1
            if not self.quiet:
                print(f"ok    {what}")
        else:
            self.failed += 1
            print(f"FAIL  {what}" + (f"\n      {why}" if why else ""))
        return ok

    def equal(self, what: str, template: Any, code: Any, source: str) -> bool:
        return self.check(
            template == code,
            what,
            f"template.yaml has {template!r}, {source} has {code!r}",
        )

    @staticmethod
    def warn(what: str) -> None:
        print(f"WARN  {what}")


# --------------------------------------------------------------------------------------------
# Reading the template: a YAML loader that turns CloudFormation's short tags into their long
# form (!Ref x -> {"Ref": x}, !GetAtt a.b -> {"Fn::GetAtt": [a, b]}, !Sub s -> {"Fn::Sub": s}).
# --------------------------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """SAM's transform, offline: local CodeUris become a dummy S3 location (as `sam validate`
    does) and the managed policies SAM adds for X-Ray and logging come from a stub."""
    from samtranslator.translator.transform import transform

    class ManagedPolicies:
        def load(self) -> dict[str, str]:
            return {
                "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            }

    fragment = copy.deepcopy(template)
    for resource in fragment.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://placeholder-bucket/placeholder.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(fragment, {}, ManagedPolicies())


# --------------------------------------------------------------------------------------------
# Reading the code
# --------------------------------------------------------------------------------------------

CONST_RE = re.compile(r'pub\s+const\s+([A-Z_][A-Z0-9_]*)\s*:\s*&str\s*=\s*"([^"]*)"\s*;')
# get("X"), get_opt("X"), std::env::var("X"), var_os("X"), lookup("X"), env_or("X", ..),
# parse_number(&get, "X", ...): a reading function's name, then the variable's name.
ENV_READ_RE = re.compile(
    r'(?:\b(?:\w+_)?(?:get|var|var_os|lookup|env|required|number|millis|flag|spelled)(?:_\w+)?|\bparse_\w+\(\s*&?\s*\w+\s*,)\s*\(?\s*"([A-Z][A-Z0-9_]*)"'
)
# pub const SIGNING_KEYS_VAR: &str = "SESSION_SIGNING_KEYS": a variable's name kept in a constant.
ENV_CONST_RE = re.compile(r'pub\s+const\s+[A-Z0-9_]*_VAR\s*:\s*&str\s*=\s*"([A-Z][A-Z0-9_]*)"\s*;')
SDK_CALL_RE = re.compile(r"\.(" + "|".join(SDK_OPERATIONS) + r"|transact_write_items)\(\)")


MAX_AGE_RE = re.compile(r"pub\s+const\s+MAX_AGE_SECS\s*:\s*u32\s*=\s*(\d+)\s*;")


def code_preflight(root: Path) -> tuple[str | None, str | None]:
    """The preflight's Access-Control-Allow-Headers and Max-Age in shared/edge/src/cors.rs."""
    path = root / "shared/edge/src/cors.rs"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    max_age = MAX_AGE_RE.search(text)
    return dict(CONST_RE.findall(text)).get("ALLOW_HEADERS"), max_age.group(1) if max_age else None


def rust_files(root: Path, dirs: list[str]) -> Iterator[Path]:
    for d in dirs:
        yield from sorted((root / d).glob("**/*.rs"))


def lambda_dirs(root: Path) -> list[str]:
    """The source folders of the crates a function binary links: the layers and the functions."""
    layers = [str(p.relative_to(root)) for p in sorted(root.glob("shared/*/src")) if p.parent.name != "testkit"]
    return layers + [str(p.relative_to(root)) for p in sorted(root.glob("functions/*/src"))]


def code_env_reads(root: Path) -> dict[str, set[str]]:
    """Variable name -> files that read it, in the crates that run on Lambda."""
    reads: dict[str, set[str]] = {}
    for path in rust_files(root, lambda_dirs(root)):
        text = path.read_text(encoding="utf-8")
        for name in ENV_READ_RE.findall(text) + ENV_CONST_RE.findall(text):
            reads.setdefault(name, set()).add(str(path.relative_to(root)))
    return reads


def code_dynamodb_actions(root: Path) -> dict[str, set[str]]:
    """IAM action -> files whose DynamoDB calls need it. table.rs is left out: it creates the
    table for local runs and tests; on AWS the template creates it."""
    needed: dict[str, set[str]] = {}
    for path in rust_files(root, lambda_dirs(root)):
        # table.rs creates the table, projects.rs, import.rs and backfill.rs are the
        # operator's and the seed's writes: none of them runs on Lambda.
        if path.name in ("table.rs", "projects.rs", "import.rs", "backfill.rs"):
            continue
        text = path.read_text(encoding="utf-8")
        for op in SDK_CALL_RE.findall(text):
            actions = (
                {a for marker, a in TRANSACT_MEMBERS.items() if marker in text} or {"TransactWriteItems?"}
                if op == "transact_write_items"
                else {SDK_OPERATIONS[op]}
            )
            for action in actions:
                needed.setdefault(action, set()).add(str(path.relative_to(root)))
    return needed


def cargo_bins(root: Path) -> dict[str, str]:
    """[[bin]] name -> crate folder, for every crate under functions/."""
    bins: dict[str, str] = {}
    for manifest in sorted(root.glob("functions/*/Cargo.toml")):
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        crate = str(manifest.parent.relative_to(root))
        names = [b["name"] for b in data.get("bin", [])] or [data["package"]["name"]]
        for name in names:
            bins[name] = crate
    return bins


# --------------------------------------------------------------------------------------------
# Template helpers
# --------------------------------------------------------------------------------------------


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == kind}


def function_properties(template: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """A function's properties with the template's Globals merged in, as SAM merges them."""
    merged = copy.deepcopy(template.get("Globals", {}).get("Function", {}))
    for key, value in props.items():
        if key == "Environment":
            variables = merged.setdefault("Environment", {}).setdefault("Variables", {})
            variables.update(value.get("Variables", {}))
        else:
            merged[key] = value
    return merged


def statements(policies: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement in a SAM Policies list, both branches of any Fn::If."""

    def expand(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict) and "Fn::If" in node:
            for branch in node["Fn::If"][1:]:
                yield from expand(branch)
        elif isinstance(node, dict) and "Effect" in node:
            yield node

    for policy in policies if isinstance(policies, list) else [policies]:
        if isinstance(policy, dict) and "Statement" in policy:
            for statement in policy["Statement"]:
                yield from expand(statement)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def is_literal(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def key_schema(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k.get("AttributeName"), k.get("KeyType")) for k in schema or []]


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------


def check_table(r: Report, root: Path, template: dict[str, Any]) -> str | None:
    print("--- table (shared/storage/src/keys.rs, table.rs)")
    source = "shared/storage/src/table.rs"
    keys = "shared/storage/src/keys.rs"
    table_rs = (root / source).read_text(encoding="utf-8")
    consts = dict(CONST_RE.findall((root / keys).read_text(encoding="utf-8")))
    wanted = [
        "PARTITION_KEY", "SORT_KEY", "VISITOR_INDEX", "VISITOR_INDEX_PK", "VISITOR_INDEX_SK",
        "PROJECT_INDEX", "PROJECT_INDEX_PK", "PROJECT_INDEX_SK", "TTL_ATTRIBUTE",
    ]
    missing = [c for c in wanted if c not in consts]
    if not r.check(not missing, f"{keys} defines {', '.join(wanted)}", f"not found: {missing}; update this script"):
        return None
    for marker, what in [
        ("BillingMode::PayPerRequest", "on-demand billing"),
        ("ProjectionType::All", "index projection ALL"),
        ("ScalarAttributeType::S", "string key attributes"),
        (".enabled(true)", "TTL enabled"),
    ]:
        r.check(marker in table_rs, f"{source} creates the table with {what} ({marker})", "not found in the code")

    tables = resources_of(template, "AWS::DynamoDB::Table")
    if not r.check(len(tables) == 1, "template.yaml declares one DynamoDB table", f"found {sorted(tables)}"):
        return None
    name, table = next(iter(tables.items()))
    p = table.get("Properties", {})
    pk, sk = consts["PARTITION_KEY"], consts["SORT_KEY"]
    ipk, isk, index = consts["VISITOR_INDEX_PK"], consts["VISITOR_INDEX_SK"], consts["VISITOR_INDEX"]
    ppk, psk, pindex = consts["PROJECT_INDEX_PK"], consts["PROJECT_INDEX_SK"], consts["PROJECT_INDEX"]
    r.equal("table key schema", key_schema(p.get("KeySchema")), [(pk, "HASH"), (sk, "RANGE")], source)
    r.equal(
        "table attribute definitions (all strings)",
        sorted((a.get("AttributeName"), a.get("AttributeType")) for a in p.get("AttributeDefinitions", [])),
        sorted({(pk, "S"), (sk, "S"), (ipk, "S"), (isk, "S"), (ppk, "S"), (psk, "S")}),
        source,
    )
    gsis = p.get("GlobalSecondaryIndexes", [])
    r.equal("index names", [g.get("IndexName") for g in gsis], [index, pindex], source)
    for g in gsis:
        for index_name, hash_key, range_key in [(index, ipk, isk), (pindex, ppk, psk)]:
            if g.get("IndexName") == index_name:
                r.equal(f"index {index_name} key schema", key_schema(g.get("KeySchema")), [(hash_key, "HASH"), (range_key, "RANGE")], source)
                r.equal(f"index {index_name} projection", g.get("Projection", {}).get("ProjectionType"), "ALL", source)
    ttl = p.get("TimeToLiveSpecification", {})
    r.equal("TTL attribute", ttl.get("AttributeName"), consts["TTL_ATTRIBUTE"], source)
    r.equal("TTL enabled", ttl.get("Enabled"), True, source)
    r.equal("billing mode", p.get("BillingMode"), "PAY_PER_REQUEST", source)
    r.check(
        p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True,
        "point-in-time recovery on",
    )
    r.check(
        isinstance(p.get("DeletionProtectionEnabled"), dict),
        "deletion protection set from a parameter",
        f"DeletionProtectionEnabled is {p.get('DeletionProtectionEnabled')!r}",
    )
    return name


def check_functions(r: Report, root: Path, template: dict[str, Any], table: str | None) -> dict[str, str]:
    """Returns binary -> logical id of the function deploying it."""
    print("--- functions and binaries (functions/*/Cargo.toml)")
    bins = cargo_bins(root)
    members = tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8"))["workspace"]["members"]
    deployed: dict[str, str] = {}
    architecture = template.get("Parameters", {}).get("Architecture", {})
    r.equal("Architecture parameter default", architecture.get("Default"), "arm64", "the design (Graviton)")
    r.equal(
        "Architecture parameter values",
        architecture.get("AllowedValues"),
        ["arm64", "x86_64"],
        "what scripts/sam-build.sh builds",
    )
    for logical_id, resource in resources_of(template, "AWS::Serverless::Function").items():
        props = function_properties(template, resource.get("Properties", {}))
        meta = resource.get("Metadata", {})
        binary = meta.get("BuildProperties", {}).get("Binary")
        code_uri = str(props.get("CodeUri", "")).rstrip("/")
        label = f"{logical_id} ({binary})"
        r.equal(f"{label} build method", meta.get("BuildMethod"), "rust-cargolambda", "cargo-lambda builds")
        r.equal(f"{label} runtime", props.get("Runtime"), "provided.al2023", "the design")
        r.equal(
            f"{label} architectures",
            props.get("Architectures"),
            [{"Ref": "Architecture"}],
            "the Architecture parameter",
        )
        r.equal(f"{label} handler", props.get("Handler"), "bootstrap", "cargo-lambda's output")
        if not r.check(binary in ROUTES, f"{label} is one of the API's functions", f"expected one of {sorted(ROUTES)}"):
            continue
        r.check(binary not in deployed, f"{label} deployed once", f"also {deployed.get(binary)}")
        deployed[binary] = logical_id
        if (root / code_uri / "Cargo.toml").is_file():
            r.check(
                bins.get(binary) == code_uri,
                f"{label}: CodeUri {code_uri} has a [[bin]] named {binary}",
                f"[[bin]] names under functions/: {bins}",
            )
            r.check(code_uri in members, f"{label}: {code_uri} is a workspace member", f"members: {members}")
        elif code_uri in PENDING_CRATES:
            r.warn(f"{label}: {code_uri}/Cargo.toml does not exist yet ({PENDING_CRATES[code_uri]}); binary name unchecked")
        else:
            r.check(False, f"{label}: CodeUri {code_uri} is a crate", f"{code_uri}/Cargo.toml not found")
        timeout = props.get("Timeout")
        streams = any(route[2] for route in ROUTES[binary])
        if binary == QUEUE_WORKER:
            # No API in front: Lambda's own limit (and the queue's visibility timeout, in
            # check_knowledge).
            r.check(
                isinstance(timeout, int) and 60 <= timeout <= LAMBDA_TIMEOUT_MAX_S,
                f"{label} timeout {timeout} s long enough for a crawl, within Lambda's {LAMBDA_TIMEOUT_MAX_S} s",
            )
        else:
            r.check(
                isinstance(timeout, int) and (timeout >= 300 if streams else timeout <= BUFFERED_TIMEOUT_MAX_MS // 1000),
                f"{label} timeout {timeout} s " + ("long enough for a stream (>= 300 s)" if streams else "within API Gateway's 29 s"),
            )
        r.equal(f"{label} tracing", props.get("Tracing"), "Active", "the design")
        log_group = props.get("LoggingConfig", {}).get("LogGroup", {})
        group = template["Resources"].get(log_group.get("Ref", "") if isinstance(log_group, dict) else "", {})
        r.check(
            group.get("Type") == "AWS::Logs::LogGroup" and "RetentionInDays" in group.get("Properties", {}),
            f"{label} logs to its own log group with a retention",
        )
    for binary, crate in bins.items():
        r.check(binary in deployed, f"[[bin]] {binary} ({crate}) is deployed by a function in template.yaml")
    for binary in ROUTES:
        r.check(binary in deployed, f"template.yaml deploys {binary}")
    return deployed


def check_env(r: Report, root: Path, template: dict[str, Any], deployed: dict[str, str], table: str | None) -> None:
    print("--- environment (the settings of shared/*/src and the functions' sources)")
    reads = code_env_reads(root)
    for name in ["TABLE_NAME", "SESSION_SIGNING_KEYS_SECRET_ARN", "LOG_FORMAT"]:
        r.check(
            name in reads,
            f"the code reads {name}",
            "not found by this script's patterns: the code changed how it reads the environment; update ENV_READ_RE",
        )
    if not r.quiet:
        print(f"      the code reads: {', '.join(sorted(reads))}")
    resources = template.get("Resources", {})
    for binary, logical_id in deployed.items():
        props = function_properties(template, resources[logical_id].get("Properties", {}))
        env = props.get("Environment", {}).get("Variables", {})
        label = f"{logical_id} ({binary})"
        for name in sorted(env):
            if name in reads:
                r.check(True, f"{label}: {name} is read by {', '.join(sorted(reads[name]))}")
            elif name in PENDING_ENV and (
                PENDING_ENV[name] is None or not (root / PENDING_ENV[name] / "Cargo.toml").is_file()
            ):
                why = f"{PENDING_ENV[name]} does not exist yet" if PENDING_ENV[name] else "its code change is pending"
                r.warn(f"{label}: {name} is read by no code yet ({why})")
            else:
                r.check(False, f"{label}: {name} is read by the code", "no code reads it: a typo, or a stale variable")
        for name in sorted(REQUIRED_ENV | FUNCTION_ENV.get(binary, set())):
            r.check(name in env, f"{label} sets {name}")
        for name, why in FORBIDDEN_ENV.items():
            r.check(name not in env, f"{label} does not set {name}", why)
        r.equal(f"{label} LOG_FORMAT", env.get("LOG_FORMAT"), "json", "the design")
        if table:
            r.equal(f"{label} TABLE_NAME", env.get("TABLE_NAME"), {"Ref": table}, "the table resource")
        keys = env.get("SESSION_SIGNING_KEYS_SECRET_ARN")
        r.check(keys is not None and not is_literal(keys), f"{label}: the signing-key secret comes from a resource or parameter", f"it is {keys!r}")


def check_iam(r: Report, root: Path, template: dict[str, Any], deployed: dict[str, str], table: str | None) -> None:
    print("--- IAM (least privilege on the table; the code's DynamoDB calls)")
    resources = template.get("Resources", {})
    granted_any: set[str] = set()
    table_arn = {"Fn::GetAtt": [table, "Arn"]}
    for binary, logical_id in deployed.items():
        props = resources[logical_id].get("Properties", {})
        label = f"{logical_id} ({binary})"
        dynamo: set[str] = set()
        other: set[str] = set()
        for st in statements(props.get("Policies", [])):
            actions = as_list(st.get("Action", []))
            for action in actions:
                r.check("*" not in str(action), f"{label}: action {action} has no wildcard")
            r.check(st.get("Effect") == "Allow" and "NotAction" not in st and "NotResource" not in st, f"{label}: statement {st.get('Sid')} is a plain Allow")
            d = {a.split(":", 1)[1] for a in actions if str(a).startswith("dynamodb:")}
            dynamo |= d
            other |= {a for a in actions if not str(a).startswith("dynamodb:")}
            streams = d & STREAM_ACTIONS
            if streams:
                r.check(streams == d, f"{label}: statement {st.get('Sid')} holds stream actions alone", f"has {sorted(d)}")
                for res in as_list(st.get("Resource")):
                    on_stream = res == {"Fn::GetAtt": [table, "StreamArn"]} or res == {"Fn::Sub": f"${{{table}.Arn}}/stream/*"}
                    r.check(on_stream, f"{label}: stream actions only on table {table}'s stream", f"resource {res!r}")
                d = set()
            if d:
                for res in as_list(st.get("Resource")):
                    on_table = res == table_arn
                    sub = res.get("Fn::Sub") if isinstance(res, dict) else None
                    on_index = isinstance(sub, str) and re.fullmatch(rf"\$\{{{table}\.Arn\}}/index/[\w.-]+", sub)
                    r.check(bool(on_table or on_index), f"{label}: DynamoDB actions only on table {table} (or its index)", f"resource {res!r}")
                    if on_index:
                        index = sub.rsplit("/", 1)[1]
                        r.check(
                            d == {"Query"} and index in INDEX_QUERIES.get(binary, set()),
                            f"{label}: Query alone on index {index}, one it reads",
                            f"actions {sorted(d)}; the indexes it may query: {sorted(INDEX_QUERIES.get(binary, set()))}",
                        )
        granted_any |= dynamo
        r.equal(f"{label} DynamoDB actions", sorted(dynamo), sorted(DYNAMODB_ACTIONS[binary]), "this script's DYNAMODB_ACTIONS")
        r.check(other <= OTHER_ACTIONS[binary], f"{label}: no actions beyond {sorted(OTHER_ACTIONS[binary])}", f"has {sorted(other - OTHER_ACTIONS[binary])}")
        env = function_properties(template, props).get("Environment", {}).get("Variables", {})
        keys = env.get("SESSION_SIGNING_KEYS_SECRET_ARN")
        r.check(
            any(
                "secretsmanager:GetSecretValue" in as_list(st.get("Action")) and keys in as_list(st.get("Resource"))
                for st in statements(props.get("Policies", []))
            ),
            f"{label} may read the signing-key secret it is given (GetSecretValue on SESSION_SIGNING_KEYS_SECRET_ARN)",
        )
    needed = code_dynamodb_actions(root)
    for action, files in sorted(needed.items()):
        r.check(
            action in granted_any,
            f"the code's DynamoDB calls need dynamodb:{action} ({', '.join(sorted(files))}); some function has it",
            "no function in template.yaml is granted it",
        )


def check_api(r: Report, root: Path, template: dict[str, Any], transformed: dict[str, Any], deployed: dict[str, str]) -> None:
    print("--- API (after SAM's transform, as CloudFormation will see it)")
    allow_headers, max_age = code_preflight(root)
    apis = resources_of(template, "AWS::Serverless::Api")
    if not r.check(len(apis) == 1, "one AWS::Serverless::Api", f"found {sorted(apis)}"):
        return
    api_id, api = next(iter(apis.items()))
    r.equal("endpoint type", api["Properties"].get("EndpointConfiguration", {}).get("Type"), "REGIONAL", "the design")
    r.check(api["Properties"].get("TracingEnabled") is True, "API tracing (X-Ray) on")
    r.check(any(o for o in template.get("Outputs", {}).values() if api_id in json.dumps(o.get("Value"))), "the API's URL is an output")
    resources = template.get("Resources", {})
    for binary, logical_id in deployed.items():
        events = [e for e in resources[logical_id]["Properties"].get("Events", {}).values() if e.get("Type") == "Api"]
        for method, path, streams in ROUTES[binary]:
            matching = [
                e for e in events
                if e["Properties"].get("Path") == path and e["Properties"].get("Method", "").upper() == method
                and e["Properties"].get("RestApiId") == {"Ref": api_id}
            ]
            r.check(bool(matching), f"{logical_id}: event {method} {path} on {api_id}", f"events: {events}")
            for e in matching:
                mode = e["Properties"].get("ResponseTransferMode")
                if streams:
                    r.equal(
                        f"{logical_id}: {method} {path} ResponseTransferMode (SAM's spelling; STREAM is silently ignored)",
                        mode, "RESPONSE_STREAM", "the design",
                    )
                else:
                    r.check(mode is None, f"{logical_id}: {method} {path} is buffered", f"ResponseTransferMode {mode!r}")
        r.check(
            len(events) == len(ROUTES[binary]),
            f"{logical_id}: exactly its {len(ROUTES[binary])} route(s)",
            f"events: {[(e['Properties'].get('Method'), e['Properties'].get('Path')) for e in events]}",
        )
    rest = transformed["Resources"].get(api_id, {})
    paths = rest.get("Properties", {}).get("Body", {}).get("paths", {})
    # The methods each path takes, as its preflight names them (GET before POST).
    path_methods: dict[str, list[str]] = {}
    for routes in ROUTES.values():
        for method, path, _ in routes:
            path_methods.setdefault(path, []).append(method)
    checked_preflights: set[str] = set()
    for binary, logical_id in deployed.items():
        for method, path, streams in ROUTES[binary]:
            op = paths.get(path, {}).get(method.lower())
            if not r.check(op is not None, f"transformed API has {method} {path}", f"paths: { {p: sorted(v) for p, v in paths.items()} } (MergeDefinitions?)"):
                continue
            integration = op.get("x-amazon-apigateway-integration", {})
            uri = json.dumps(integration.get("uri"))
            r.equal(f"{method} {path} integration type", integration.get("type"), "aws_proxy", "Lambda proxy")
            r.check(f"${{{logical_id}.Arn}}" in uri, f"{method} {path} invokes {logical_id}", f"uri {uri}")
            timeout = integration.get("timeoutInMillis")
            if streams:
                r.equal(f"{method} {path} responseTransferMode", integration.get("responseTransferMode"), "STREAM", "the design")
                r.check("/response-streaming-invocations" in uri, f"{method} {path} uses InvokeWithResponseStream", f"uri {uri}")
                r.check(
                    isinstance(timeout, int) and BUFFERED_TIMEOUT_MAX_MS < timeout <= STREAM_TIMEOUT_MAX_MS,
                    f"{method} {path} integration timeout {timeout} ms is long (29 s < t <= 15 min)",
                )
            else:
                r.check("responseTransferMode" not in integration, f"{method} {path} is buffered")
            if path in checked_preflights:
                continue
            checked_preflights.add(path)
            if not r.check("options" in paths.get(path, {}), f"{path} answers the CORS preflight (OPTIONS)"):
                continue
            # The local server answers preflights itself (shared/edge/src/cors.rs): the same values.
            preflight = (
                paths[path]["options"].get("x-amazon-apigateway-integration", {})
                .get("responses", {}).get("default", {}).get("responseParameters", {})
            )
            header = "method.response.header.Access-Control-"
            r.equal(f"{path} preflight Allow-Methods", preflight.get(header + "Allow-Methods"),
                    "'" + ",".join(sorted(path_methods[path], key=METHOD_ORDER.index)) + ",OPTIONS'", "the path's routes")
            r.equal(f"{path} preflight Allow-Headers", preflight.get(header + "Allow-Headers"),
                    f"'{allow_headers}'", "shared/edge/src/cors.rs ALLOW_HEADERS")
            r.equal(f"{path} preflight Max-Age", preflight.get(header + "Max-Age"),
                    f"'{max_age}'", "shared/edge/src/cors.rs MAX_AGE_SECS")
            # A publishable key's route echoes any page's origin (the key decides on the real
            # request); every other route answers by the deployment's AllowedOrigins.
            answer = json.dumps(
                paths[path]["options"].get("x-amazon-apigateway-integration", {})
                .get("responses", {}).get("default", {}).get("responseTemplates", {})
            )
            by_key = path in PUBLISHABLE_KEY_PATHS
            r.check(
                ("AllowedOrigins" not in answer) if by_key else ("${AllowedOrigins}" in answer),
                f"{path} preflight " + ("lets any page ask (a publishable key's route)" if by_key else "allows the deployment's AllowedOrigins"),
                f"its response template: {answer[:200]}",
            )


def check_live(r: Report, root: Path, template: dict[str, Any], deployed: dict[str, str]) -> None:
    print("--- live updates (the WebSocket API, the push policy, the distribution)")
    resources = template.get("Resources", {})
    apis = [k for k, v in resources_of(template, "AWS::ApiGatewayV2::Api").items() if v["Properties"].get("ProtocolType") == "WEBSOCKET"]
    if not r.check(len(apis) == 1, "one WebSocket API", f"found {apis}"):
        return
    api = apis[0]
    live = deployed.get("chat-live")
    if not r.check(live is not None, "the live function is deployed"):
        return
    integrations = {
        k for k, v in resources_of(template, "AWS::ApiGatewayV2::Integration").items()
        if v["Properties"].get("ApiId") == {"Ref": api}
        and v["Properties"].get("IntegrationType") == "AWS_PROXY"
        and f"${{{live}.Arn}}" in json.dumps(v["Properties"].get("IntegrationUri"))
    }
    r.check(bool(integrations), f"a Lambda proxy integration of {api} invokes {live}")
    routes = {v["Properties"].get("RouteKey"): (k, v["Properties"]) for k, v in resources_of(template, "AWS::ApiGatewayV2::Route").items() if v["Properties"].get("ApiId") == {"Ref": api}}
    r.equal(f"{api} routes", sorted(routes), ["$connect", "$default", "$disconnect"], "shared/sockets and functions/live")
    for key, (_, props) in routes.items():
        target = props.get("Target", {}).get("Fn::Sub", "") if isinstance(props.get("Target"), dict) else ""
        r.check(any(f"integrations/${{{i}}}" == target for i in integrations), f"{key} goes to {live}", f"target {props.get('Target')!r}")
    default_id = routes.get("$default", (None, {}))[0]
    r.check(
        routes.get("$default", (None, {}))[1].get("RouteResponseSelectionExpression") == "$default"
        and any(v["Properties"].get("RouteId") == {"Ref": default_id} for v in resources_of(template, "AWS::ApiGatewayV2::RouteResponse").values()),
        "$default is a two-way route (pong is its response: the live function needs no ManageConnections)",
    )
    stages = [v["Properties"] for v in resources_of(template, "AWS::ApiGatewayV2::Stage").values() if v["Properties"].get("ApiId") == {"Ref": api}]
    r.check(len(stages) == 1 and stages[0].get("AutoDeploy") is True, f"{api} has one auto-deployed stage")
    permissions = [
        v["Properties"] for v in resources_of(template, "AWS::Lambda::Permission").values()
        if v["Properties"].get("FunctionName") == {"Ref": live}
    ]
    r.check(
        any(p.get("Principal") == "apigateway.amazonaws.com" and f"${{{api}}}/*" in json.dumps(p.get("SourceArn")) for p in permissions),
        f"{api} may invoke {live} (and only it)",
    )
    # The push policy: ManageConnections on this API's connections, nothing else.
    policies = {
        k: v for k, v in resources_of(template, "AWS::IAM::ManagedPolicy").items()
        if "execute-api:ManageConnections" in json.dumps(v["Properties"].get("PolicyDocument"))
    }
    if r.check(len(policies) == 1, "one managed policy grants execute-api:ManageConnections", f"found {sorted(policies)}"):
        policy_id, policy = next(iter(policies.items()))
        sts = policy["Properties"]["PolicyDocument"]["Statement"]
        r.check(all(as_list(st.get("Action")) == ["execute-api:ManageConnections"] and st.get("Effect") == "Allow" for st in sts), f"{policy_id} allows ManageConnections alone")
        for st in sts:
            for res in as_list(st.get("Resource")):
                sub = res.get("Fn::Sub", "") if isinstance(res, dict) else ""
                r.check(
                    re.fullmatch(r"arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{" + api + r"\}/\$\{StageName\}/(POST|DELETE)/@connections/\*", sub) is not None,
                    f"{policy_id}: only {api}'s connections", f"resource {res!r}",
                )
        for binary, logical_id in deployed.items():
            props = function_properties(template, resources[logical_id].get("Properties", {}))
            attaches = {"Ref": policy_id} in as_list(props.get("Policies", []))
            env = props.get("Environment", {}).get("Variables", {})
            if binary in PUSHERS:
                r.check(attaches, f"{logical_id} ({binary}) attaches {policy_id}: it pushes")
                r.check(PUSH_ENDPOINT_VAR in env and f"${{{api}}}" in json.dumps(env.get(PUSH_ENDPOINT_VAR)), f"{logical_id} ({binary}): {PUSH_ENDPOINT_VAR} is {api}'s stage")
            else:
                r.check(not attaches, f"{logical_id} ({binary}) does not push: no {policy_id}")
                r.check(PUSH_ENDPOINT_VAR not in env, f"{logical_id} ({binary}) has no {PUSH_ENDPOINT_VAR}")
    # The distribution and its function, behind the parameter.
    functions = resources_of(template, "AWS::CloudFront::Function")
    if r.check(len(functions) == 1, "one CloudFront Function"):
        fn_id, fn = next(iter(functions.items()))
        r.equal(f"{fn_id} runtime", fn["Properties"].get("FunctionConfig", {}).get("Runtime"), "cloudfront-js-2.0", "the design")
        source = (root / WS_REWRITE_JS).read_text(encoding="utf-8")
        r.check(fn["Properties"].get("FunctionCode") == source, f"{fn_id}'s code is {WS_REWRITE_JS} byte for byte", "they differ: copy the file into FunctionCode")
        r.check(fn.get("Condition") == "DistributionEnabled", f"{fn_id} exists only with EnableDistribution")
    distributions = resources_of(template, "AWS::CloudFront::Distribution")
    if r.check(len(distributions) == 1, "one CloudFront distribution"):
        dist = next(iter(distributions.values()))
        r.check(dist.get("Condition") == "DistributionEnabled", "the distribution exists only with EnableDistribution")
        config = dist["Properties"]["DistributionConfig"]
        origins = {o["Id"]: o for o in config.get("Origins", [])}
        behaviors = {b.get("PathPattern"): b for b in config.get("CacheBehaviors", [])}
        ws = behaviors.get(WS_PATH_PATTERN)
        if r.check(ws is not None, f"a cache behaviour for {WS_PATH_PATTERN}"):
            origin = origins.get(ws.get("TargetOriginId"), {})
            r.check(f"${{{api}}}" in json.dumps(origin.get("DomainName")), f"{WS_PATH_PATTERN} goes to {api}")
            r.check(
                any(a.get("EventType") == "viewer-request" and "WsRewriteFunction" in json.dumps(a.get("FunctionARN")) for a in ws.get("FunctionAssociations", [])),
                f"{WS_PATH_PATTERN} runs the rewrite on the viewer request",
            )
        default = origins.get(config.get("DefaultCacheBehavior", {}).get("TargetOriginId"), {})
        r.check("${ChatApi}" in json.dumps(default.get("DomainName")), "everything else goes to the REST API")


def check_stream(r: Report, root: Path, template: dict[str, Any], transformed: dict[str, Any], deployed: dict[str, str], table: str | None) -> None:
    print("--- the table's stream (functions/push/src/lib.rs, shared/storage/src/table.rs)")
    resources = template.get("Resources", {})
    if table:
        spec = resources[table]["Properties"].get("StreamSpecification", {})
        r.equal("table stream view type", spec.get("StreamViewType"), "NEW_AND_OLD_IMAGES", "shared/storage/src/changes.rs (a handoff is told by what changed)")
        r.check("StreamViewType::NewAndOldImages" in (root / "shared/storage/src/table.rs").read_text(encoding="utf-8"), "shared/storage/src/table.rs creates the same stream")
    push = deployed.get("chat-push")
    stream_arn = {"Fn::GetAtt": [table, "StreamArn"]}
    mappings = {
        k: v for k, v in resources_of(template, "AWS::Lambda::EventSourceMapping").items()
        if v["Properties"].get("EventSourceArn") == stream_arn or v["Properties"].get("FunctionName") == {"Ref": push}
    }
    if not r.check(push is not None and len(mappings) == 1, "one event source mapping of the table's stream, for the push function", f"found {sorted(mappings)}"):
        return
    mapping = next(iter(mappings.values()))["Properties"]
    r.equal("the mapping's function", mapping.get("FunctionName"), {"Ref": push}, "the push function")
    r.equal("the mapping's source", mapping.get("EventSourceArn"), {"Fn::GetAtt": [table, "StreamArn"]}, "the table's stream")
    r.equal("the mapping starts at", mapping.get("StartingPosition"), "LATEST", "live updates (nothing older is worth telling)")
    r.equal("the mapping reports batch item failures", mapping.get("FunctionResponseTypes"), ["ReportBatchItemFailures"], f"{PUSH_CRATE} (it names the first record to tell again)")
    r.check(isinstance(mapping.get("MaximumRetryAttempts"), int) and isinstance(mapping.get("MaximumRecordAgeInSeconds"), int), "the mapping's retries and record age are bounded (no shard held up for a day)")
    code = STREAM_FILTERS_RE.findall((root / PUSH_CRATE).read_text(encoding="utf-8"))
    wanted = [json.loads(p) for p in code]
    got = [json.loads(f.get("Pattern", "null")) for f in mapping.get("FilterCriteria", {}).get("Filters", [])]
    r.equal("the mapping's filters", got, wanted, f"{PUSH_CRATE} STREAM_FILTERS")
    r.check(len(wanted) == 2, f"{PUSH_CRATE} has its two STREAM_FILTERS", f"found {len(wanted)}")
    for binary, logical_id in deployed.items():
        events = resources[logical_id]["Properties"].get("Events", {}).values()
        r.check(not any(e.get("Type") in ("DynamoDB", "Kinesis") for e in events), f"{logical_id} ({binary}) has no SAM stream event (it would attach AWSLambdaDynamoDBExecutionRole)")
    # After SAM's transform: no role holds the managed policy granting every stream.
    for logical_id, role in resources_of(transformed, "AWS::IAM::Role").items():
        managed = json.dumps(role.get("Properties", {}).get("ManagedPolicyArns", []))
        r.check("AWSLambdaDynamoDBExecutionRole" not in managed, f"{logical_id} holds no AWSLambdaDynamoDBExecutionRole")


def check_knowledge(r: Report, root: Path, template: dict[str, Any], transformed: dict[str, Any], deployed: dict[str, str]) -> None:
    print("--- the knowledge (its bucket, its queue, the worker's mapping and schedule, S3 and SQS rights)")
    resources = template.get("Resources", {})
    bucket = resources.get(KNOWLEDGE_BUCKET, {})
    queue = resources.get(KNOWLEDGE_QUEUE, {})
    dlq = resources.get(KNOWLEDGE_DLQ, {})
    bucket_arn = {"Fn::GetAtt": [KNOWLEDGE_BUCKET, "Arn"]}
    objects_arn = {"Fn::Sub": f"${{{KNOWLEDGE_BUCKET}.Arn}}/{KNOWLEDGE_PREFIX}*"}
    queue_arn = {"Fn::GetAtt": [KNOWLEDGE_QUEUE, "Arn"]}

    # The bucket: private, encrypted, no ACLs, TLS only.
    if r.check(bucket.get("Type") == "AWS::S3::Bucket", f"{KNOWLEDGE_BUCKET} is an S3 bucket"):
        props = bucket.get("Properties", {})
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        r.check(
            bool(rules) and all(
                rule.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in ("AES256", "aws:kms", "aws:kms:dsse")
                for rule in rules
            ),
            f"{KNOWLEDGE_BUCKET} encrypts at rest by default",
            f"BucketEncryption {props.get('BucketEncryption')!r}",
        )
        block = props.get("PublicAccessBlockConfiguration", {})
        for setting in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]:
            r.check(block.get(setting) is True, f"{KNOWLEDGE_BUCKET} public access block: {setting} true")
        r.equal(
            f"{KNOWLEDGE_BUCKET} object ownership",
            [rule.get("ObjectOwnership") for rule in props.get("OwnershipControls", {}).get("Rules", [])],
            ["BucketOwnerEnforced"], "the design (no ACLs)",
        )
        r.check(
            any(
                rule.get("Status") == "Enabled"
                and isinstance(rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"), int)
                for rule in props.get("LifecycleConfiguration", {}).get("Rules", [])
            ),
            f"{KNOWLEDGE_BUCKET} aborts incomplete multipart uploads",
        )
        r.check(
            "WebsiteConfiguration" not in props and "AccessControl" not in props,
            f"{KNOWLEDGE_BUCKET} is no website and sets no canned ACL",
        )
        policies = [
            v["Properties"] for v in resources_of(template, "AWS::S3::BucketPolicy").values()
            if v["Properties"].get("Bucket") == {"Ref": KNOWLEDGE_BUCKET}
        ]
        tls_only = False
        for policy in policies:
            for st in policy.get("PolicyDocument", {}).get("Statement", []):
                condition = st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
                targets = as_list(st.get("Resource"))
                tls_only |= (
                    st.get("Effect") == "Deny"
                    and st.get("Principal") in ("*", {"AWS": "*"})
                    and as_list(st.get("Action")) == ["s3:*"]
                    and str(condition).lower() == "false"
                    and bucket_arn in targets
                    and {"Fn::Sub": f"${{{KNOWLEDGE_BUCKET}.Arn}}/*"} in targets
                )
                r.check(
                    st.get("Effect") == "Deny",
                    f"{KNOWLEDGE_BUCKET}'s policy only denies (statement {st.get('Sid')}): the functions' roles grant",
                )
        r.check(tls_only, f"{KNOWLEDGE_BUCKET}'s policy denies every request without TLS (aws:SecureTransport false), on the bucket and its objects")
    keys = re.findall(r'format!\(\s*"([^"]*)"', (root / KNOWLEDGE_BLOBS).read_text(encoding="utf-8"))
    r.check(
        bool(keys) and all(k.startswith(KNOWLEDGE_PREFIX) for k in keys),
        f"every object key of {KNOWLEDGE_BLOBS} is under {KNOWLEDGE_PREFIX} (the functions' S3 rights)",
        f"keys: {keys}",
    )

    # The queue: FIFO, encrypted, its failures dead-lettered.
    worker_id = deployed.get(QUEUE_WORKER)
    worker = function_properties(template, resources.get(worker_id, {}).get("Properties", {})) if worker_id else {}
    if r.check(queue.get("Type") == "AWS::SQS::Queue", f"{KNOWLEDGE_QUEUE} is an SQS queue"):
        props = queue.get("Properties", {})
        r.check(props.get("FifoQueue") is True, f"{KNOWLEDGE_QUEUE} is FIFO (shared/knowledge/src/jobs.rs sends group and deduplication ids)")
        name = props.get("QueueName", ".fifo")
        name = name.get("Fn::Sub", "") if isinstance(name, dict) else name
        r.check(str(name).endswith(".fifo"), f"{KNOWLEDGE_QUEUE}'s name ends in .fifo", f"QueueName {props.get('QueueName')!r}")
        r.check(props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, f"{KNOWLEDGE_QUEUE} is encrypted at rest")
        redrive = props.get("RedrivePolicy", {})
        r.equal(f"{KNOWLEDGE_QUEUE} dead-letter queue", redrive.get("deadLetterTargetArn"), {"Fn::GetAtt": [KNOWLEDGE_DLQ, "Arn"]}, "the design")
        r.check(isinstance(redrive.get("maxReceiveCount"), int) and 1 <= redrive["maxReceiveCount"] <= 10, f"{KNOWLEDGE_QUEUE} retries a job a few times before dead-lettering it", f"maxReceiveCount {redrive.get('maxReceiveCount')!r}")
        visibility, timeout = props.get("VisibilityTimeout"), worker.get("Timeout")
        r.check(
            isinstance(visibility, int) and isinstance(timeout, int) and visibility > timeout,
            f"{KNOWLEDGE_QUEUE} visibility timeout {visibility} s above the worker's timeout {timeout} s (no job taken twice at once)",
        )
    if r.check(dlq.get("Type") == "AWS::SQS::Queue", f"{KNOWLEDGE_DLQ} is an SQS queue"):
        props = dlq.get("Properties", {})
        r.check(props.get("FifoQueue") is True, f"{KNOWLEDGE_DLQ} is FIFO (a FIFO queue's dead letters must be)")
        r.check(props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, f"{KNOWLEDGE_DLQ} is encrypted at rest")
        r.equal(f"{KNOWLEDGE_DLQ} retention", props.get("MessageRetentionPeriod"), DLQ_RETENTION_SECS, "the design (14 days)")
        r.check("RedrivePolicy" not in props, f"{KNOWLEDGE_DLQ} is the end of the line")

    # The worker: the queue's one consumer, one job at a time, and the schedule's target.
    if r.check(worker_id is not None, f"{QUEUE_WORKER} is deployed"):
        r.check(
            str(worker.get("Environment", {}).get("Variables", {}).get("KNOWLEDGE_CRAWL_BUDGET_MS", "600000")).isdigit()
            and int(worker["Environment"]["Variables"].get("KNOWLEDGE_CRAWL_BUDGET_MS", "600000")) < 1000 * int(worker.get("Timeout") or 0),
            f"{worker_id}: the crawl budget (KNOWLEDGE_CRAWL_BUDGET_MS, 600 s by default) ends before its timeout",
        )
        r.check(worker.get("MemorySize", 0) >= 1024, f"{worker_id} has 1 GB or more (the index is built in memory and /tmp)")
        r.check(worker.get("EphemeralStorage", {}).get("Size", 512) >= 2048, f"{worker_id} has 2 GB or more of /tmp (the build and the snapshot's tar)")
        mappings = {
            k: v["Properties"] for k, v in resources_of(template, "AWS::Lambda::EventSourceMapping").items()
            if v["Properties"].get("EventSourceArn") == queue_arn
        }
        if r.check(len(mappings) == 1, f"one event source mapping of {KNOWLEDGE_QUEUE}", f"found {sorted(mappings)}"):
            mapping = next(iter(mappings.values()))
            r.equal("the queue mapping's function", mapping.get("FunctionName"), {"Ref": worker_id}, "the crawl worker")
            r.equal("the queue mapping reports batch item failures", mapping.get("FunctionResponseTypes"), ["ReportBatchItemFailures"], "functions/crawl/src/lib.rs (it names the jobs that failed)")
            r.equal("the queue mapping's batch size", mapping.get("BatchSize"), 1, "the design (a sync may take minutes)")
            r.check(mapping.get("Enabled", True) is not False, "the queue mapping is enabled")
        r.check("batch_item_failures" in (root / "functions/crawl/src/lib.rs").read_text(encoding="utf-8"), "functions/crawl/src/lib.rs answers batchItemFailures")
        events = list(resources[worker_id]["Properties"].get("Events", {}).values())
        schedules = [e for e in events if e.get("Type") == "Schedule"]
        r.check(
            len(schedules) == 1 and schedules[0]["Properties"].get("Schedule") == KNOWLEDGE_SCHEDULE
            and schedules[0]["Properties"].get("Enabled", True) is not False
            and schedules[0]["Properties"].get("State", "ENABLED") == "ENABLED",
            f"{worker_id} ticks on a schedule, {KNOWLEDGE_SCHEDULE}",
            f"events: {events}",
        )
        r.check(
            all(e.get("Type") == "Schedule" for e in events),
            f"{worker_id}'s only event is its schedule (the queue comes through its mapping)",
        )
        rules = [
            v["Properties"] for v in resources_of(transformed, "AWS::Events::Rule").values()
            if any(f"{worker_id}" in json.dumps(target.get("Arn")) for target in v["Properties"].get("Targets", []))
        ]
        r.check(len(rules) == 1 and rules[0].get("ScheduleExpression") == KNOWLEDGE_SCHEDULE, f"after SAM's transform, one EventBridge rule invokes {worker_id}")
    for binary, logical_id in deployed.items():
        events = resources[logical_id]["Properties"].get("Events", {}).values()
        r.check(not any(e.get("Type") == "SQS" for e in events), f"{logical_id} ({binary}) has no SAM SQS event (it would attach AWSLambdaSQSQueueExecutionRole)")
        if binary != QUEUE_WORKER:
            r.check(not any(e.get("Type") in ("Schedule", "ScheduleV2") for e in events), f"{logical_id} ({binary}) runs on no schedule")
    for logical_id, role in resources_of(transformed, "AWS::IAM::Role").items():
        managed = json.dumps(role.get("Properties", {}).get("ManagedPolicyArns", []))
        r.check("AWSLambdaSQSQueueExecutionRole" not in managed, f"{logical_id} holds no AWSLambdaSQSQueueExecutionRole")

    # S3 and SQS rights: the two functions alone, on the bucket's objects and the queue alone.
    granted_any: set[str] = set()
    for binary, logical_id in deployed.items():
        props = resources[logical_id].get("Properties", {})
        label = f"{logical_id} ({binary})"
        env = function_properties(template, props).get("Environment", {}).get("Variables", {})
        s3_sqs: set[str] = set()
        for st in statements(props.get("Policies", [])):
            actions = {str(a) for a in as_list(st.get("Action", []))}
            s3 = {a for a in actions if a.startswith("s3:")}
            sqs = {a for a in actions if a.startswith("sqs:")}
            s3_sqs |= s3 | sqs
            if s3 & S3_OBJECT_ACTIONS:
                r.check(s3 <= S3_OBJECT_ACTIONS, f"{label}: statement {st.get('Sid')} holds object actions alone", f"has {sorted(s3)}")
                r.equal(f"{label}: S3 object actions only on {KNOWLEDGE_BUCKET}'s objects under {KNOWLEDGE_PREFIX}", as_list(st.get("Resource")), [objects_arn], "the bucket")
            if s3 & S3_BUCKET_ACTIONS:
                r.check(s3 <= S3_BUCKET_ACTIONS, f"{label}: statement {st.get('Sid')} holds bucket actions alone", f"has {sorted(s3)}")
                r.equal(f"{label}: S3 bucket actions only on {KNOWLEDGE_BUCKET}", as_list(st.get("Resource")), [bucket_arn], "the bucket")
            if sqs:
                r.equal(f"{label}: SQS actions only on {KNOWLEDGE_QUEUE}", as_list(st.get("Resource")), [queue_arn], "the queue")
            if s3 | sqs:
                r.check(actions == s3 or actions == sqs, f"{label}: statement {st.get('Sid')} holds S3 or SQS actions alone", f"has {sorted(actions)}")
        granted_any |= s3_sqs
        if binary in KNOWLEDGE_FUNCTIONS:
            wanted = {a for a in OTHER_ACTIONS[binary] if a.startswith(("s3:", "sqs:"))}
            r.equal(f"{label} S3 and SQS actions", sorted(s3_sqs), sorted(wanted), "this script's OTHER_ACTIONS")
            r.check((s3_sqs & SQS_POLLER_ACTIONS == set()) or binary == QUEUE_WORKER, f"{label}: only the queue's consumer polls it")
            r.equal(f"{label} KNOWLEDGE_BUCKET", env.get("KNOWLEDGE_BUCKET"), {"Ref": KNOWLEDGE_BUCKET}, "the bucket resource")
            r.equal(f"{label} KNOWLEDGE_QUEUE_URL", env.get("KNOWLEDGE_QUEUE_URL"), {"Ref": KNOWLEDGE_QUEUE}, "the queue resource (Ref is its URL)")
        elif binary in SNAPSHOT_READERS:
            r.equal(f"{label} S3 and SQS actions", sorted(s3_sqs), ["s3:GetObject"], "it reads snapshots, nothing more")
            r.equal(f"{label} KNOWLEDGE_BUCKET", env.get("KNOWLEDGE_BUCKET"), {"Ref": KNOWLEDGE_BUCKET}, "the bucket resource")
            r.check(
                sorted(n for n in env if n.startswith("KNOWLEDGE_")) == ["KNOWLEDGE_BUCKET"],
                f"{label} is told the bucket alone of the knowledge", f"sets {sorted(n for n in env if n.startswith('KNOWLEDGE_'))}",
            )
        else:
            r.check(not s3_sqs, f"{label} never searches or crawls: no S3 or SQS right", f"has {sorted(s3_sqs)}")
            r.check(
                not any(name.startswith("KNOWLEDGE_") for name in env),
                f"{label} is told nothing of the knowledge", f"sets {sorted(n for n in env if n.startswith('KNOWLEDGE_'))}",
            )
    needed: dict[str, set[str]] = {}
    for path in rust_files(root, lambda_dirs(root)):
        for op in BLOB_AND_QUEUE_CALL_RE.findall(path.read_text(encoding="utf-8")):
            needed.setdefault(BLOB_AND_QUEUE_OPERATIONS[op], set()).add(str(path.relative_to(root)))
    for action in sorted(BLOB_AND_QUEUE_OPERATIONS.values()):
        r.check(action in needed, f"the code calls {action} (this script's BLOB_AND_QUEUE_OPERATIONS is current)", "no call found")
    for action, files in sorted(needed.items()):
        r.check(action in granted_any, f"the code's {action} ({', '.join(sorted(files))}); some function has it", "no function in template.yaml is granted it")


def check_providers(r: Report, root: Path, template: dict[str, Any], deployed: dict[str, str]) -> None:
    print("--- model providers (the OpenAI key's secret and URL; Bedrock's embedding model)")
    resources = template.get("Resources", {})
    key_ref = {"Ref": OPENAI_KEY_PARAM}
    conditions = template.get("Conditions", {})
    r.equal(
        f"condition {OPENAI_KEY_CONDITION}", conditions.get(OPENAI_KEY_CONDITION),
        {"Fn::Not": [{"Fn::Equals": [key_ref, ""]}]}, f"the design (a key's secret given in {OPENAI_KEY_PARAM})",
    )
    embeddings_rs = (root / EMBEDDINGS_RS).read_text(encoding="utf-8")
    r.check(".invoke_model()" in embeddings_rs and ".invoke_model_with_response_stream()" not in embeddings_rs,
            f"{EMBEDDINGS_RS} embeds by InvokeModel (the action {EMBEDDING_ACTION})")
    r.check(EMBEDDING_MODEL_ID in embeddings_rs, f"{EMBEDDINGS_RS} names {EMBEDDING_MODEL_ID}")
    for binary, logical_id in deployed.items():
        props = resources[logical_id].get("Properties", {})
        label = f"{logical_id} ({binary})"
        env = function_properties(template, props).get("Environment", {}).get("Variables", {})
        raw = [
            st for policy in as_list(props.get("Policies", []))
            if isinstance(policy, dict) for st in policy.get("Statement", [])
        ]
        on_key = [st for st in statements(props.get("Policies", [])) if key_ref in as_list(st.get("Resource"))]
        conditional = [
            st for st in raw
            if isinstance(st, dict) and "Fn::If" in st and st["Fn::If"][0] == OPENAI_KEY_CONDITION
        ]
        if binary in OPENAI_USERS:
            for name, param in OPENAI_ENV.items():
                r.equal(f"{label} {name}", env.get(name), {"Ref": param}, f"the {param} parameter")
            # The one statement on the key's secret: GetSecretValue, under the condition, with
            # nothing in the other branch.
            r.check(
                len(on_key) == 1 and len(conditional) == 1
                and len(conditional[0]["Fn::If"]) == 3
                and conditional[0]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
                and isinstance(conditional[0]["Fn::If"][1], dict)
                and conditional[0]["Fn::If"][1].get("Effect") == "Allow"
                and as_list(conditional[0]["Fn::If"][1].get("Action")) == ["secretsmanager:GetSecretValue"]
                and as_list(conditional[0]["Fn::If"][1].get("Resource")) == [key_ref],
                f"{label} may read the OpenAI key's secret (GetSecretValue on {OPENAI_KEY_PARAM}) only when one is given ({OPENAI_KEY_CONDITION})",
                f"statements on it: {on_key}; conditional ones: {conditional}",
            )
        else:
            r.check(
                not any(name in env for name in OPENAI_ENV) and not on_key,
                f"{label} is told nothing of the OpenAI provider (no OPENAI_* variable, no right on its key's secret)",
            )
        invoking = [st for st in statements(props.get("Policies", [])) if EMBEDDING_ACTION in as_list(st.get("Action"))]
        bedrock = {str(a) for st in statements(props.get("Policies", [])) for a in as_list(st.get("Action")) if str(a).startswith("bedrock:")}
        if binary in EMBEDDERS:
            wanted_bedrock = {a for a in OTHER_ACTIONS[binary] if a.startswith("bedrock:")}
            r.equal(f"{label} Bedrock actions", sorted(bedrock), sorted(wanted_bedrock), f"{EMBEDDINGS_RS} (InvokeModel) and, to answer, the streaming action")
            r.check(
                len(invoking) == 1
                and as_list(invoking[0].get("Action")) == [EMBEDDING_ACTION]
                and as_list(invoking[0].get("Resource")) == [EMBEDDING_MODEL_ARN]
                and invoking[0] in raw,
                f"{label}: one unconditional statement grants {EMBEDDING_ACTION}, alone, on {EMBEDDING_MODEL_ID} alone in this region",
                f"statements: {invoking}",
            )
            # Exactly its actions: none missing (check_iam finds any beyond them).
            other = {
                str(a) for st in statements(props.get("Policies", []))
                for a in as_list(st.get("Action")) if not str(a).startswith("dynamodb:")
            }
            r.equal(f"{label} actions beside DynamoDB", sorted(other), sorted(OTHER_ACTIONS[binary]), "this script's OTHER_ACTIONS")
        else:
            r.check(
                not invoking,
                f"{label} holds no {EMBEDDING_ACTION} (the embedding model is the knowledge's alone)",
                f"statements: {invoking}",
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent, help="the repository")
    parser.add_argument("--template", type=Path, help="default: <root>/template.yaml")
    parser.add_argument("--transformed-out", type=Path, help="also write SAM's transform of the template here (JSON)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only failures, warnings and the totals")
    args = parser.parse_args()
    root = args.root.resolve()
    template_path = args.template or root / "template.yaml"
    print(f"checking {template_path} against the code in {root}")

    r = Report(args.quiet)
    template = load_template(template_path)
    try:
        transformed = sam_transform(template)
        r.check(True, "SAM transforms the template")
    except Exception as error:  # noqa: BLE001 - any failure of the transform is a finding
        r.check(False, "SAM transforms the template", f"{type(error).__name__}: {error}")
        transformed = {"Resources": {}}
    if args.transformed_out:
        args.transformed_out.write_text(json.dumps(transformed, indent=1), encoding="utf-8")

    table = check_table(r, root, template)
    deployed = check_functions(r, root, template, table)
    check_env(r, root, template, deployed, table)
    check_iam(r, root, template, deployed, table)
    check_api(r, root, template, transformed, deployed)
    check_live(r, root, template, deployed)
    check_stream(r, root, template, transformed, deployed, table)
    check_knowledge(r, root, template, transformed, deployed)
    check_providers(r, root, template, deployed)

    if r.failed:
        print(f"\ntemplate.yaml and the code DISAGREE: {r.failed} check(s) failed (FAIL lines above)")
    print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
