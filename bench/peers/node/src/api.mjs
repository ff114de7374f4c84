// What both handlers share: the session token, the error envelope, the request id.
import { jwtVerify } from 'jose';

// SESSION_SIGNING_KEYS: `kid:secret[,kid:secret...]`, newest first. A token names its
// key by `kid`; a token without one is checked against the newest.
const keys = new Map(
  (process.env.SESSION_SIGNING_KEYS ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf(':');
      return [entry.slice(0, at).trim(), new TextEncoder().encode(entry.slice(at + 1))];
    }),
);
const newestKid = keys.keys().next().value;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class ApiError extends Error {
  constructor(status, code, message, details, headers = {}) {
    super(message);
    Object.assign(this, { status, code, details, headers });
  }
}

export const invalid = (field, message) =>
  new ApiError(400, 'INVALID_REQUEST_BODY', message, { field });

export const unprocessable = (field, reason) =>
  new ApiError(422, 'VALIDATION_ERROR', reason, { field, reason });

const unauthorized = (presented) =>
  new ApiError(401, 'UNAUTHORIZED', 'Invalid or missing session token', undefined, {
    'www-authenticate': presented ? 'Bearer error="invalid_token"' : 'Bearer',
  });

export const forbidden = () =>
  new ApiError(403, 'FORBIDDEN', 'Access denied to this conversation');

export const notFound = (conversationId) =>
  new ApiError(404, 'CONVERSATION_NOT_FOUND', 'Conversation not found!', { conversationId });

// A header of an API Gateway (REST, v1) event, whatever its case.
export function header(event, name) {
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

// A UUID in its hyphenated form, lower-cased as the keys are written.
export function uuid(raw, field) {
  if (typeof raw !== 'string' || !UUID.test(raw)) {
    throw invalid(field, `${field} must be a UUID`);
  }
  return raw.toLowerCase();
}

// The caller named by `Authorization: Bearer <token>`: its project and visitor.
export async function authenticate(event) {
  const [scheme, ...rest] = (header(event, 'authorization') ?? '').trim().split(' ');
  const token = rest.join(' ').trim();
  if (scheme.toLowerCase() !== 'bearer' || !token) throw unauthorized(false);
  try {
    const { payload } = await jwtVerify(
      token,
      ({ kid }) => {
        const key = keys.get(kid ?? newestKid);
        if (!key) throw new Error('unknown key id');
        return key;
      },
      { algorithms: ['HS256'], clockTolerance: 30, requiredClaims: ['exp', 'sub'] },
    );
    if (!UUID.test(payload.sub) || !UUID.test(payload.pid)) throw new Error('bad claims');
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + 30) {
      throw new Error('issued in the future');
    }
    return { project: payload.pid.toLowerCase(), visitor: payload.sub.toLowerCase() };
  } catch {
    throw unauthorized(true);
  }
}

// The caller's `x-request-id` when it is a sane token, else the Lambda request id.
export function requestId(event, context) {
  const sent = header(event, 'x-request-id');
  return typeof sent === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(sent)
    ? sent
    : context.awsRequestId;
}

// An error as the contract's envelope: `{"error": {"message", "code", "details"?}}`.
export function errorResponse(error) {
  if (!(error instanceof ApiError)) {
    console.error(error);
    error = isThrottle(error)
      ? new ApiError(503, 'SERVICE_UNAVAILABLE',
        'The service is temporarily unavailable, please retry later',
        { retryAfter: 1 }, { 'retry-after': '1' })
      : new ApiError(500, 'INTERNAL_SERVER_ERROR', 'An internal server error occurred');
  }
  const body = { error: { message: error.message, code: error.code } };
  if (error.details) body.error.details = error.details;
  return {
    statusCode: error.status,
    headers: { 'content-type': 'application/json', ...error.headers },
    body: JSON.stringify(body),
  };
}

function isThrottle(error) {
  return [
    'ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded',
    'InternalServerError', 'ServiceUnavailable', 'TimeoutError',
  ].includes(error?.name) || error?.$metadata?.httpStatusCode >= 500;
}
