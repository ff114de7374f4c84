// POST /v2/chat/completions: one turn of a stored conversation, answered by the offline
// provider and streamed as the AI SDK's UI message stream (or, without `stream`, as
// one JSON document). DynamoDB: one BatchGetItem, one TransactWriteItems for the turn,
// one UpdateItem finishing the assistant message.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand, DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { createUIMessageStream, createUIMessageStreamResponse } from 'ai';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import {
  ApiError, authenticate, errorResponse, forbidden, invalid, requestId, unprocessable,
} from './api.mjs';

const TABLE_NAME = process.env.TABLE_NAME;
const ddb = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint: process.env.DYNAMODB_ENDPOINT || undefined }),
);

// The offline provider's defaults; an assistant's model id may override them
// (`offline:first=200,gap=50,tokens=12`).
const OFFLINE = {
  first: Number(process.env.OFFLINE_FIRST_TOKEN_MS ?? 150),
  gap: Number(process.env.OFFLINE_TOKEN_GAP_MS ?? 30),
  tokens: Number(process.env.OFFLINE_TOKENS ?? 24),
};
const DEFAULT_ASSISTANT = { provider: 'offline', model: 'offline', tier: 'standard' };
const MAX_BODY_BYTES = 256 * 1024;

export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  const headers = { 'x-request-id': requestId(event, context) };
  let response;
  try {
    response = await complete(event, headers);
  } catch (error) {
    const { statusCode, headers: errorHeaders, body } = errorResponse(error);
    response = new Response(body, { status: statusCode, headers: { ...errorHeaders, ...headers } });
  }
  // The status and headers go first (the prelude), then the body as it is produced.
  const httpStream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: response.status,
    headers: Object.fromEntries(response.headers),
  });
  await pipeline(Readable.fromWeb(response.body), httpStream);
});

async function complete(event, headers) {
  const caller = await authenticate(event);
  const request = parseBody(event);
  const conversationId = request.conversationId?.toLowerCase() ?? uuidv7();
  const assistantId = request.assistantId?.toLowerCase();
  const context = await readTurnContext(caller, conversationId, assistantId);
  const assistant = chooseAssistant(caller, conversationId, assistantId, context);
  if (assistant.provider !== 'offline') {
    throw new Error(`this peer answers with the offline provider only, not ${assistant.provider}`);
  }

  const now = new Date().toISOString();
  const userMessageId = uuidv7();
  const messageId = uuidv7();
  await writeTurn(caller, conversationId, now, [
    { id: userMessageId, role: 'user', parts: textParts(request.messages.at(-1).content), status: 'complete' },
    { id: messageId, role: 'assistant', parts: '[]', status: 'streaming' },
  ]);
  headers['x-conversation-id'] = conversationId;

  // The model's context: the assistant's system prompt first, then the request's.
  const prompt = assistant.systemPrompt
    ? [{ role: 'system', content: assistant.systemPrompt }, ...request.messages]
    : request.messages;
  const events = offlineAnswer(assistant.model, prompt);
  // The 200 is committed only once the provider has produced its first token.
  const first = (await events.next()).value;
  const finish = (text, reason, usage) => ddb.send(new UpdateCommand({
    TableName: TABLE_NAME,
    Key: { pk: `P#${caller.project}#C#${conversationId}`, sk: `M#${messageId}` },
    ConditionExpression: 'attribute_exists(pk)',
    UpdateExpression: 'SET #status = :status, parts = :parts, metadata = :metadata REMOVE #error',
    ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
    ExpressionAttributeValues: {
      ':status': 'complete',
      ':parts': textParts(text),
      ':metadata': JSON.stringify({ model: assistant.model, finishReason: reason, usage }),
    },
  }));

  if (!request.stream) {
    let text = '';
    let current = first;
    while (current.type === 'delta') {
      text += current.text;
      current = (await events.next()).value;
    }
    await finish(text, current.reason, current.usage);
    return Response.json({
      conversationId,
      messageId,
      steps: [{ content: [{ type: 'text', text }], finishReason: current.reason, usage: current.usage }],
    }, { headers });
  }

  const stream = createUIMessageStream({
    onError: () => 'The answer could not be saved. Please try again.',
    execute: async ({ writer }) => {
      const id = `text-${messageId.replaceAll('-', '')}`;
      writer.write({ type: 'start', messageId, messageMetadata: { conversationId } });
      writer.write({ type: 'start-step' });
      writer.write({ type: 'text-start', id });
      let text = '';
      let current = first;
      while (current.type === 'delta') {
        writer.write({ type: 'text-delta', id, delta: current.text });
        text += current.text;
        current = (await events.next()).value;
      }
      writer.write({ type: 'text-end', id });
      writer.write({ type: 'finish-step' });
      // The client hears `finish` only once the answer is stored.
      await finish(text, current.reason, current.usage);
      writer.write({
        type: 'finish',
        messageMetadata: { finishReason: current.reason, usage: current.usage },
      });
    },
  });
  return createUIMessageStreamResponse({ stream, headers });
}

// The request body, checked as the contract says: shapes are 400, limits 422.
const chars = (text) => [...text].length;
const Body = z.object({
  messages: z.array(z.object({
    role: z.enum(['system', 'user', 'assistant']),
    content: z.string().refine((text) => chars(text) >= 1 && chars(text) <= 10_000, {
      message: 'content must be 1 to 10000 characters',
    }),
  })).min(1).max(100),
  stream: z.boolean().nullish(),
  assistantId: z.guid().nullish(),
  conversationId: z.guid().nullish(),
});

function parseBody(event) {
  const raw = event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64')
    : Buffer.from(event.body ?? '');
  if (raw.length > MAX_BODY_BYTES) {
    throw unprocessable('body', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  const text = raw.toString('utf8');
  let json;
  try {
    json = text.trim() ? JSON.parse(text) : null;
  } catch {
    throw invalid('body', 'the request body is not valid JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw invalid('body', 'the request body must be a JSON object');
  }
  const parsed = Body.safeParse(json);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    const field = issue.path
      .map((part, n) => (typeof part === 'number' ? `[${part}]` : `${n ? '.' : ''}${part}`))
      .join('') || 'body';
    const limit = ['too_small', 'too_big', 'custom'].includes(issue.code);
    throw limit ? unprocessable(field, issue.message) : invalid(field, issue.message);
  }
  const { messages } = parsed.data;
  if (messages.at(-1).role !== 'user') {
    throw unprocessable(`messages[${messages.length - 1}].role`, 'the last message must have role user');
  }
  return parsed.data;
}

// The project's settings, the named assistant and the conversation: one BatchGetItem.
async function readTurnContext(caller, conversationId, assistantId) {
  const Keys = [
    { pk: `P#${caller.project}`, sk: 'P' },
    { pk: `P#${caller.project}#C#${conversationId}`, sk: 'C' },
  ];
  if (assistantId) Keys.push({ pk: `P#${caller.project}`, sk: `A#${assistantId}` });
  const { Responses, UnprocessedKeys } = await ddb.send(new BatchGetCommand({
    RequestItems: { [TABLE_NAME]: { Keys, ConsistentRead: true } },
  }));
  if (UnprocessedKeys?.[TABLE_NAME]?.Keys?.length) {
    throw Object.assign(new Error('keys left unprocessed'), { name: 'ThrottlingException' });
  }
  const context = {};
  for (const item of Responses?.[TABLE_NAME] ?? []) {
    if (item.sk === 'P') context.project = item;
    else if (item.sk === 'C') context.conversation = item;
    else if (item.sk.startsWith('A#')) context.assistant = item;
  }
  return context;
}

// Who answers, or why nobody may: 403 and 409 for the conversation, 422 for an unknown
// assistant, 402 for a plan that does not include it.
function chooseAssistant(caller, conversationId, assistantId, { project, conversation, assistant }) {
  if (conversation) {
    if (conversation.visitorId !== caller.visitor) throw forbidden();
    if (conversation.status === 'closed') throw closed();
  }
  const plan = project?.plan ?? process.env.DEFAULT_PLAN ?? 'free';
  const chosen = assistantId
    ? assistant
    : project?.defaultAssistant ?? DEFAULT_ASSISTANT;
  if (!chosen) {
    throw unprocessable('assistantId', `no assistant ${assistantId} in this project`);
  }
  if (chosen.tier === 'advanced' && plan !== 'pro') {
    throw new ApiError(402, 'PAYMENT_REQUIRED',
      'This assistant requires a higher plan than the project has',
      { currentPlan: plan, requiredPlan: 'pro', feature: 'advanced_ai_models' });
  }
  return chosen;
}

const closed = () => new ApiError(409, 'CONFLICT', 'Conversation is closed',
  { resource: 'conversation', conflictingField: 'status' });

// The turn in one transaction: the conversation (created, or the caller's and open),
// the user's message and the assistant's, `streaming` and empty.
async function writeTurn(caller, conversationId, now, messages) {
  const pk = `P#${caller.project}#C#${conversationId}`;
  try {
    await ddb.send(new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: TABLE_NAME,
            Key: { pk, sk: 'C' },
            UpdateExpression:
              'SET id = :id, visitorId = if_not_exists(visitorId, :visitor), '
              + '#status = if_not_exists(#status, :open), createdAt = if_not_exists(createdAt, :now), '
              + 'isHumanHandled = if_not_exists(isHumanHandled, :false), updatedAt = :now, '
              + 'lastInteractionAt = :now, gsi1pk = :gsi1pk, gsi1sk = :now',
            ConditionExpression: 'attribute_not_exists(pk) OR (visitorId = :visitor AND #status = :open)',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':id': conversationId,
              ':visitor': caller.visitor,
              ':open': 'open',
              ':now': now,
              ':false': false,
              ':gsi1pk': `P#${caller.project}#V#${caller.visitor}`,
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        ...messages.map(({ id, role, parts, status }) => ({
          Put: {
            TableName: TABLE_NAME,
            Item: { pk, sk: `M#${id}`, id, createdAt: now, role, parts, status },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        })),
      ],
    }));
  } catch (error) {
    const [reason] = error.CancellationReasons ?? [];
    if (error.name === 'TransactionCanceledException' && reason?.Code === 'ConditionalCheckFailed') {
      const owner = reason.Item?.visitorId?.S ?? reason.Item?.visitorId;
      throw owner === caller.visitor ? closed() : forbidden();
    }
    throw error;
  }
}

const textParts = (text) => JSON.stringify([{ type: 'text', text }]);

// The offline provider: a deterministic answer built from the question, one word per
// token, the first after `first` ms and each next one `gap` ms later; then the finish.
async function* offlineAnswer(model, messages) {
  const settings = { ...OFFLINE };
  const options = model.includes(':') ? model.slice(model.indexOf(':') + 1) : '';
  for (const option of options.split(',')) {
    const [key, value] = option.trim().split('=');
    if (key in settings && Number.isFinite(Number(value)) && value !== '') settings[key] = Number(value);
  }
  const words = (text) => text.split(/\s+/).filter(Boolean);
  const question = messages.findLast((m) => m.role === 'user')?.content ?? '';
  const opening = words(`This is the offline assistant answering "${words(question).slice(0, 12).join(' ')}".`);
  const filler = words('It runs without a model provider, so every answer is predictable and costs nothing.');
  const tokens = [];
  for (let n = 0; n < settings.tokens; n++) {
    const word = n < opening.length ? opening[n] : filler[(n - opening.length) % filler.length];
    tokens.push(n === 0 ? word : ` ${word}`);
  }
  const wait = (ms) => (ms > 0 ? sleep(ms) : undefined);
  for (const [n, text] of tokens.entries()) {
    await wait(n === 0 ? settings.first : settings.gap);
    yield { type: 'delta', text };
  }
  await wait(tokens.length === 0 ? settings.first : settings.gap);
  const inputTokens = messages.reduce((sum, m) => sum + words(m.content).length, 0);
  yield {
    type: 'finish',
    reason: 'stop',
    usage: {
      inputTokens,
      outputTokens: tokens.length,
      totalTokens: inputTokens + tokens.length,
      reasoningTokens: 0,
      cachedInputTokens: 0,
    },
  };
}
