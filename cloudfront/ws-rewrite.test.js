// Runs cloudfront/ws-rewrite.js as CloudFront Functions would (the file's own code, no
// exports added) against events of the shape AWS documents for viewer-request functions.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const code = fs.readFileSync(path.join(__dirname, 'ws-rewrite.js'), 'utf8');
const context = vm.createContext({});
vm.runInContext(code, context);
const handler = context.handler;

const KEY = 'pk_0192f0a000007000800000000000d001_00000000000000000000000000000000';
const ID = '0192f0a0-0000-7000-8000-00000000d003';

function viewerRequest(uri, querystring) {
    return {
        version: '1.0',
        context: { distributionDomainName: 'd111111abcdef8.cloudfront.net', distributionId: 'EDFDVBD6EXAMPLE', eventType: 'viewer-request', requestId: 'r1' },
        viewer: { ip: '198.51.100.11' },
        request: {
            method: 'GET',
            uri,
            querystring: querystring || {},
            headers: {
                host: { value: 'd111111abcdef8.cloudfront.net' },
                upgrade: { value: 'websocket' },
                origin: { value: 'https://shop.example' },
                'sec-websocket-key': { value: 'dGhlIHNhbXBsZSBub25jZQ==' },
                'sec-websocket-version': { value: '13' },
            },
            cookies: {},
        },
    };
}

// What the origin receives: the query string as CloudFront writes it from the object.
function queryOf(request) {
    const parts = [];
    for (const [name, entry] of Object.entries(request.querystring)) {
        const values = entry.multiValue ? entry.multiValue.map((v) => v.value) : [entry.value];
        for (const value of values) parts.push(`${name}=${value}`);
    }
    return parts.join('&');
}

test('the socket path goes to the stage root with the id in the query', () => {
    const request = handler(viewerRequest(`/v2/conversations/${ID}/ws`, { apiKey: { value: KEY } }));
    assert.equal(request.uri, '/');
    assert.deepEqual(JSON.parse(JSON.stringify(request.querystring)), { apiKey: { value: KEY }, conversationId: { value: ID } });
    assert.equal(request.method, 'GET');
    assert.equal(request.headers.upgrade.value, 'websocket', 'headers untouched');
    assert.equal(request.headers.origin.value, 'https://shop.example');
});

test('other query parameters are kept, repeated ones included', () => {
    const request = handler(viewerRequest(`/v2/conversations/${ID}/ws`, {
        apiKey: { value: KEY },
        v: { value: '2', multiValue: [{ value: '2' }, { value: '3' }] },
    }));
    assert.equal(request.querystring.apiKey.value, KEY);
    assert.deepEqual(request.querystring.v.multiValue.map((v) => v.value), ['2', '3']);
    assert.equal(request.querystring.conversationId.value, ID);
});

test('a conversationId the client put in the query is replaced by the path', () => {
    const request = handler(viewerRequest(`/v2/conversations/${ID}/ws`, {
        apiKey: { value: KEY },
        conversationId: { value: 'other', multiValue: [{ value: 'other' }, { value: 'more' }] },
    }));
    assert.deepEqual(JSON.parse(JSON.stringify(request.querystring.conversationId)), { value: ID });
});

test('odd characters in the id stay inside its value', () => {
    const cases = [
        ['a&apiKey=pk_evil', 'a%26apiKey%3Dpk_evil'],
        ['x%26y', 'x%26y'],
        ['%2F..%2F', '%2F..%2F'],
        ["it's+(here)", 'it\'s%2B(here)'],
        ['caf%C3%A9', 'caf%C3%A9'],
        ['a#b', 'a%23b'],
    ];
    for (const [segment, value] of cases) {
        const request = handler(viewerRequest(`/v2/conversations/${segment}/ws`, { apiKey: { value: KEY } }));
        assert.equal(request.uri, '/', segment);
        assert.equal(request.querystring.conversationId.value, value, segment);
        const query = new URLSearchParams(queryOf(request));
        assert.deepEqual(query.getAll('apiKey'), [KEY], `${segment}: no second apiKey`);
        assert.equal(query.get('conversationId'), decodeURIComponent(value), segment);
    }
});

test('a malformed escape is not rewritten', () => {
    const request = handler(viewerRequest('/v2/conversations/%E0%A4%A/ws', { apiKey: { value: KEY } }));
    assert.equal(request.uri, '/v2/conversations/%E0%A4%A/ws');
    assert.equal(request.querystring.conversationId, undefined);
});

test('paths that are not the socket are left as they are', () => {
    for (const uri of [
        '/',
        '/v2/conversations',
        `/v2/conversations/${ID}`,
        `/v2/conversations/${ID}/messages`,
        `/v2/conversations/${ID}/ws/`,
        `/v2/conversations/${ID}/ws/extra`,
        `/v2/conversations/a/b/ws`,
        '/v2/conversations//ws',
        `/v1/conversations/${ID}/ws`,
        `/prod/v2/conversations/${ID}/ws`,
    ]) {
        const request = handler(viewerRequest(uri, { apiKey: { value: KEY } }));
        assert.equal(request.uri, uri);
        assert.deepEqual(Object.keys(request.querystring), ['apiKey'], uri);
    }
});

test('a request with no query string gets only the id (the handshake then refuses: no key)', () => {
    const request = handler(viewerRequest(`/v2/conversations/${ID}/ws`));
    assert.deepEqual(JSON.parse(JSON.stringify(request.querystring)), { conversationId: { value: ID } });
});
