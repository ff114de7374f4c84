"""GET /v2/conversations/{conversationId}: the caller's conversation with its newest
1,000 messages, oldest first, from one Query on the conversation's partition."""

import json
import os
import re

import boto3
import jwt
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

MAX_MESSAGES = 1000
TABLE_NAME = os.environ["TABLE_NAME"]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException",
             "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable"}

# SESSION_SIGNING_KEYS: `kid:secret[,kid:secret...]`, newest first. A token names its key
# by `kid`; a token without one is checked against the newest.
KEYS = dict(
    entry.strip().split(":", 1)
    for entry in os.environ.get("SESSION_SIGNING_KEYS", "").split(",")
    if entry.strip()
)
NEWEST_KID = next(iter(KEYS), None)

dynamodb = boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT") or None)
deserializer = TypeDeserializer()


class ApiError(Exception):
    def __init__(self, status, code, message, details=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details, headers or {}


def lambda_handler(event, context):
    try:
        caller = authenticate(event)
        conversation_id = (event.get("pathParameters") or {}).get("conversationId")
        if not isinstance(conversation_id, str) or not UUID.match(conversation_id):
            raise ApiError(400, "INVALID_REQUEST_BODY", "conversationId must be a UUID",
                           {"field": "conversationId"})
        body = read_conversation(caller, conversation_id.lower())
        response = {"statusCode": 200, "headers": {"content-type": "application/json"},
                    "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False)}
    except ApiError as error:
        response = error_response(error)
    except Exception as error:  # SDK failures: logged, never returned
        print(f"request failed: {error!r}")
        code = error.response["Error"]["Code"] if isinstance(error, ClientError) else None
        if code in THROTTLED:
            response = error_response(ApiError(
                503, "SERVICE_UNAVAILABLE",
                "The service is temporarily unavailable, please retry later",
                {"retryAfter": 1}, {"retry-after": "1"}))
        else:
            response = error_response(ApiError(500, "INTERNAL_SERVER_ERROR",
                                               "An internal server error occurred"))
    sent = header(event, "x-request-id")
    response["headers"]["x-request-id"] = (
        sent if isinstance(sent, str) and REQUEST_ID.match(sent) else context.aws_request_id)
    return response


def header(event, name):
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def authenticate(event):
    """The caller named by `Authorization: Bearer <token>`: its project and visitor."""
    scheme, _, token = (header(event, "authorization") or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized(presented=False)
    try:
        kid = jwt.get_unverified_header(token).get("kid") or NEWEST_KID
        claims = jwt.decode(token, KEYS[kid], algorithms=["HS256"], leeway=30,
                            options={"require": ["exp", "sub"]})
        # PyJWT checks exp, nbf and iat (not in the future) with the leeway itself.
        if not UUID.match(claims["sub"]) or not UUID.match(str(claims.get("pid"))):
            raise ValueError("bad claims")
    except Exception:
        raise unauthorized(presented=True)
    return {"project": claims["pid"].lower(), "visitor": claims["sub"].lower()}


def unauthorized(presented):
    challenge = 'Bearer error="invalid_token"' if presented else "Bearer"
    return ApiError(401, "UNAUTHORIZED", "Invalid or missing session token",
                    headers={"www-authenticate": challenge})


def read_conversation(caller, conversation_id):
    pk = f"P#{caller['project']}#C#{conversation_id}"
    # Newest first: messages (`M#<uuidv7>`) sort after the conversation item (`C`), so a
    # descending query yields the newest messages and then, last, the conversation.
    messages, conversation, start_key = [], None, None
    while True:
        request = {
            "TableName": TABLE_NAME,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": MAX_MESSAGES + 1 - len(messages),
        }
        if start_key:
            request["ExclusiveStartKey"] = start_key
        page = dynamodb.query(**request)
        for raw in page.get("Items", []):
            item = {name: deserializer.deserialize(value) for name, value in raw.items()}
            if item["sk"] == "C":
                conversation = item
            elif item["sk"].startswith("M#") and len(messages) < MAX_MESSAGES:
                messages.append(item)
        start_key = page.get("LastEvaluatedKey")
        if conversation or len(messages) >= MAX_MESSAGES or not start_key:
            break
    if conversation is None and messages:
        # More messages than are returned: the conversation item was not reached.
        raw = dynamodb.get_item(TableName=TABLE_NAME, ConsistentRead=True,
                                Key={"pk": {"S": pk}, "sk": {"S": "C"}}).get("Item")
        if raw:
            conversation = {name: deserializer.deserialize(value) for name, value in raw.items()}
    if conversation is None:
        raise ApiError(404, "CONVERSATION_NOT_FOUND", "Conversation not found!",
                       {"conversationId": conversation_id})
    if conversation["visitorId"] != caller["visitor"]:
        raise ApiError(403, "FORBIDDEN", "Access denied to this conversation")
    return {
        "object": "conversation",
        "id": conversation["id"],
        "createdAt": conversation["createdAt"],
        "updatedAt": conversation["updatedAt"],
        "status": conversation["status"],
        "closedAt": conversation.get("closedAt"),
        "closeReason": conversation.get("closeReason"),
        "lastInteractionAt": conversation["lastInteractionAt"],
        "isHumanHandled": conversation.get("isHumanHandled", False),
        "humanAgent": human_agent(conversation.get("humanAgent")),
        "title": conversation.get("title"),
        "messages": [message(conversation_id, item) for item in reversed(messages)],
    }


def message(chat_id, item):
    """A message with all fifteen keys; `parts` and `metadata` are stored as JSON text."""
    return {
        "object": "message",
        "id": item["id"],
        "createdAt": item["createdAt"],
        "chatId": chat_id,
        "role": item["role"],
        "parts": json.loads(item["parts"]) if item.get("parts") else [],
        "status": item.get("status"),
        "error": item.get("error"),
        "feedback": item.get("feedback"),
        "feedbackAt": item.get("feedbackAt"),
        "metadata": json.loads(item["metadata"]) if item.get("metadata") else None,
        "humanAgent": human_agent(item.get("humanAgent")),
        "pageUrl": item.get("pageUrl"),
        "pageTitle": item.get("pageTitle"),
        "textSelection": item.get("textSelection"),
    }


def human_agent(agent):
    return {"name": agent.get("name"), "image": agent.get("image")} if agent else None


def error_response(error):
    body = {"error": {"message": error.message, "code": error.code}}
    if error.details:
        body["error"]["details"] = error.details
    return {"statusCode": error.status,
            "headers": {"content-type": "application/json", **error.headers},
            "body": json.dumps(body, separators=(",", ":"))}
