// CloudFront Function (cloudfront-js-2.0), viewer request of the /api/* behavior.
// The routers serve /vendors/..., /incidents/..., /payments/... and /health; CloudFront
// serves them under /api. This is the one place the prefix is removed: /api/x becomes
// /x and /api becomes /. Anything else (such as /apix) passes unchanged.
function handler(event) {
    var request = event.request;
    var uri = request.uri;
    if (uri === '/api') {
        request.uri = '/';
    } else if (uri.startsWith('/api/')) {
        request.uri = uri.substring(4);
    }
    return request;
}
