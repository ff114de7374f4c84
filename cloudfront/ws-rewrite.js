// Viewer request of the widget's socket path (cloudfront-js-2.0). A WebSocket API accepts
// connections only at its stage root, so /v2/conversations/{id}/ws?apiKey=... goes to the
// stage root with the id in the query (conversationId), where $connect reads it. The id is
// passed percent-encoded, so no character of it can add or change a query parameter; any
// other path is left as it is (the WebSocket API refuses it).
function handler(event) {
    var request = event.request;
    var match = /^\/v2\/conversations\/([^\/]+)\/ws$/.exec(request.uri);
    if (!match) {
        return request;
    }
    var id;
    try {
        id = encodeURIComponent(decodeURIComponent(match[1]));
    } catch (malformed) {
        return request;
    }
    request.uri = '/';
    request.querystring.conversationId = { value: id };
    return request;
}
