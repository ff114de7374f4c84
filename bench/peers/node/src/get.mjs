// GET /v2/conversations/{conversationId}: the caller's conversation with its newest
// 1,000 messages, oldest first, from one Query on the conversation's partition.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { authenticate, errorResponse, forbidden, notFound, requestId, uuid } from './api.mjs';

const MAX_MESSAGES = 1000;
const TABLE_NAME = process.env.TABLE_NAME;
const ddb = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint: process.env.DYNAMODB_ENDPOINT || undefined }),
);

export const handler = async (event, context) => {
  let response;
  try {
    const caller = await authenticate(event);
    const id = uuid(event.pathParameters?.conversationId, 'conversationId');
    const conversation = await readConversation(caller, id);
    response = {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(conversation),
    };
  } catch (error) {
    response = errorResponse(error);
  }
  response.headers['x-request-id'] = requestId(event, context);
  return response;
};

async function readConversation(caller, id) {
  const pk = `P#${caller.project}#C#${id}`;
  // Newest first: messages (`M#<uuidv7>`) sort after the conversation item (`C`), so a
  // descending query yields the newest messages and then, last, the conversation.
  const messages = [];
  let conversation;
  let ExclusiveStartKey;
  do {
    const page = await ddb.send(new QueryCommand({
      TableName: TABLE_NAME,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ScanIndexForward: false,
      ConsistentRead: true,
      Limit: MAX_MESSAGES + 1 - messages.length,
      ExclusiveStartKey,
    }));
    for (const item of page.Items ?? []) {
      if (item.sk === 'C') conversation = item;
      else if (item.sk.startsWith('M#') && messages.length < MAX_MESSAGES) messages.push(item);
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (!conversation && messages.length < MAX_MESSAGES && ExclusiveStartKey);
  if (!conversation && messages.length > 0) {
    // More messages than are returned: the conversation item was not reached.
    ({ Item: conversation } = await ddb.send(new GetCommand({
      TableName: TABLE_NAME, Key: { pk, sk: 'C' }, ConsistentRead: true,
    })));
  }
  if (!conversation) throw notFound(id);
  if (conversation.visitorId !== caller.visitor) throw forbidden();
  return {
    object: 'conversation',
    id: conversation.id,
    createdAt: conversation.createdAt,
    updatedAt: conversation.updatedAt,
    status: conversation.status,
    closedAt: conversation.closedAt ?? null,
    closeReason: conversation.closeReason ?? null,
    lastInteractionAt: conversation.lastInteractionAt,
    isHumanHandled: conversation.isHumanHandled ?? false,
    humanAgent: humanAgent(conversation.humanAgent),
    title: conversation.title ?? null,
    messages: messages.reverse().map((item) => message(id, item)),
  };
}

// A message with all fifteen keys; `parts` and `metadata` are stored as JSON text.
const message = (chatId, item) => ({
  object: 'message',
  id: item.id,
  createdAt: item.createdAt,
  chatId,
  role: item.role,
  parts: item.parts ? JSON.parse(item.parts) : [],
  status: item.status ?? null,
  error: item.error ?? null,
  feedback: item.feedback ?? null,
  feedbackAt: item.feedbackAt ?? null,
  metadata: item.metadata ? JSON.parse(item.metadata) : null,
  humanAgent: humanAgent(item.humanAgent),
  pageUrl: item.pageUrl ?? null,
  pageTitle: item.pageTitle ?? null,
  textSelection: item.textSelection ?? null,
});

const humanAgent = (agent) =>
  agent ? { name: agent.name ?? null, image: agent.image ?? null } : null;
