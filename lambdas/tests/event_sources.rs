//! Every route answers the same on every Lambda event source: API Gateway REST (v1) on a
//! stage, HTTP API (v2) on `$default` and on a named stage, ALB and a function URL. The
//! events start from the fixtures in `tests/events/` (AWS's documented shapes), go through
//! `lambda_http`'s own conversion inside [`LambdaHandler`] (the code each function binary
//! runs), then the service's router; the answers are compared with the local router's.
//!
//! Also: the caller comes from the request context only (claims, none, another caller's),
//! the warmer's header means nothing over HTTP, and CloudFront's `/api` prefix is taken off.

mod common;

use axum::http::StatusCode;
use common::{DRIVER, Db, app_with, call};
use lambdas::host::LambdaHandler;
use lambdas::router;
use lambdas::router::Api;
use lambdas::state::AppState;
use serde_json::{Value, json};

/// An event source, with its fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    RestV1,
    HttpV2Default,
    HttpV2Named,
    Alb,
    FunctionUrl,
}

const SOURCES: [Source; 5] = [
    Source::RestV1,
    Source::HttpV2Default,
    Source::HttpV2Named,
    Source::Alb,
    Source::FunctionUrl,
];

impl Source {
    fn fixture(self) -> Value {
        let text = match self {
            Source::RestV1 => include_str!("events/rest-v1-prod.json"),
            Source::HttpV2Default => include_str!("events/http-v2-default.json"),
            Source::HttpV2Named => include_str!("events/http-v2-named-stage.json"),
            Source::Alb => include_str!("events/alb.json"),
            Source::FunctionUrl => include_str!("events/function-url-iam.json"),
        };
        serde_json::from_str(text).expect("fixture")
    }
}

/// One HTTP request, as a client sends it.
#[derive(Debug, Clone)]
struct Req {
    method: &'static str,
    path: String,
    query: Option<String>,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    caller: Option<String>,
    /// More claims of the caller's token (JWT and REST Cognito authorizers only).
    claims: Vec<(&'static str, String)>,
}

impl Req {
    fn new(method: &'static str, path: &str) -> Self {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (path.to_owned(), None),
        };
        Self {
            method,
            path,
            query,
            body: None,
            headers: Vec::new(),
            caller: Some(DRIVER.to_owned()),
            claims: Vec::new(),
        }
    }

    fn claim(mut self, name: &'static str, value: &str) -> Self {
        self.claims.push((name, value.to_owned()));
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn caller(mut self, caller: Option<&str>) -> Self {
        self.caller = caller.map(str::to_owned);
        self
    }

    fn uri(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    fn all_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = self.headers.clone();
        if self.body.is_some() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        headers
    }

    /// The event `source` would deliver for this request.
    fn event(&self, source: Source) -> String {
        let mut e = source.fixture();
        let pairs: Vec<(String, String)> = self
            .query
            .iter()
            .flat_map(|q| q.split('&'))
            .filter(|kv| !kv.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (kv.to_owned(), String::new()),
            })
            .collect();
        let single: serde_json::Map<String, Value> =
            pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let body = self.body.as_ref().map(Value::to_string);
        for (name, value) in self.all_headers() {
            e["headers"][name] = json!(value);
            if source == Source::RestV1 {
                e["multiValueHeaders"][name] = json!([value]);
            }
        }
        match source {
            Source::RestV1 => {
                e["httpMethod"] = json!(self.method);
                e["path"] = json!(self.path);
                e["pathParameters"] = json!({"proxy": self.path.trim_start_matches('/')});
                e["requestContext"]["httpMethod"] = json!(self.method);
                e["requestContext"]["path"] = json!(format!("/prod{}", self.path));
                if !pairs.is_empty() {
                    let multi: serde_json::Map<String, Value> =
                        pairs.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
                    e["queryStringParameters"] = Value::Object(single);
                    e["multiValueQueryStringParameters"] = Value::Object(multi);
                }
                e["body"] = json!(body);
                match &self.caller {
                    Some(c) => {
                        e["requestContext"]["authorizer"]["claims"]["sub"] = json!(c);
                        for (name, value) in &self.claims {
                            e["requestContext"]["authorizer"]["claims"][*name] = json!(value);
                        }
                    }
                    None => remove(&mut e["requestContext"], "authorizer"),
                }
            }
            Source::HttpV2Default | Source::HttpV2Named | Source::FunctionUrl => {
                let raw = if source == Source::HttpV2Named {
                    format!("/dev{}", self.path)
                } else {
                    self.path.clone()
                };
                e["rawPath"] = json!(raw);
                e["requestContext"]["http"]["path"] = json!(raw);
                e["requestContext"]["http"]["method"] = json!(self.method);
                e["rawQueryString"] = json!(self.query.clone().unwrap_or_default());
                if !pairs.is_empty() {
                    e["queryStringParameters"] = Value::Object(single);
                }
                if let Some(body) = body {
                    e["body"] = json!(body);
                }
                match (&self.caller, source) {
                    (Some(c), Source::FunctionUrl) => {
                        e["requestContext"]["authorizer"]["iam"]["userArn"] = json!(c)
                    }
                    (Some(c), _) => {
                        e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(c);
                        for (name, value) in &self.claims {
                            e["requestContext"]["authorizer"]["jwt"]["claims"][*name] =
                                json!(value);
                        }
                    }
                    (None, _) => remove(&mut e["requestContext"], "authorizer"),
                }
            }
            Source::Alb => {
                e["httpMethod"] = json!(self.method);
                e["path"] = json!(self.path);
                e["queryStringParameters"] = Value::Object(single);
                e["body"] = json!(body.unwrap_or_default());
                match &self.caller {
                    Some(c) => e["headers"]["x-amzn-oidc-identity"] = json!(c),
                    None => remove(&mut e["headers"], "x-amzn-oidc-identity"),
                }
            }
        }
        e.to_string()
    }
}

fn remove(object: &mut Value, key: &str) {
    if let Some(map) = object.as_object_mut() {
        map.remove(key);
    }
}

/// What a client sees of an answer: status, `X-Cache` and the JSON body.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: u16,
    cache: Option<String>,
    body: Value,
}

/// The three functions, each over its own router (as the binaries build them).
struct Functions {
    vendor: LambdaHandler,
    incidents: LambdaHandler,
    payments: LambdaHandler,
    local: Api,
    state: AppState,
}

impl Functions {
    async fn start(db: &Db) -> Self {
        // ALB events carry the caller only when the listener authenticates (the test's ALB
        // does, so its answers can be compared too).
        let (local, state) = app_with(db, None, &[("ALB_OIDC_IDENTITY", "true")]).await;
        let handler =
            |routes| LambdaHandler::new(router::finish(routes, state.clone()), state.clone());
        Self {
            vendor: handler(router::vendor_routes()),
            incidents: handler(router::incident_routes()),
            payments: handler(router::payment_routes()),
            local,
            state,
        }
    }

    /// The function a deployment routes `path` to.
    fn function(&self, path: &str) -> &LambdaHandler {
        let path = path.trim_start_matches("/api");
        if path.starts_with("/incidents") {
            &self.incidents
        } else if path.starts_with("/payments") {
            &self.payments
        } else {
            &self.vendor
        }
    }

    async fn lambda(&self, source: Source, req: &Req) -> Answer {
        let out = self
            .function(&req.path)
            .handle_json(&req.event(source))
            .await
            .unwrap_or_else(|e| panic!("{source:?} {req:?}: {e}"));
        lambda_answer(&out)
    }

    async fn local(&self, req: &Req) -> Answer {
        let mut headers: Vec<(&str, &str)> =
            req.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let caller = req.caller.clone().unwrap_or_default();
        headers.push(("x-roadcall-caller", caller.as_str()));
        let (status, headers, body) = call(
            &self.local,
            req.method,
            &req.uri(),
            &headers,
            req.body.clone(),
        )
        .await;
        Answer {
            status: status.as_u16(),
            cache: headers
                .get("x-cache")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body,
        }
    }
}

/// Reads an API Gateway or ALB response payload.
fn lambda_answer(out: &Value) -> Answer {
    assert_eq!(
        out["isBase64Encoded"], false,
        "JSON answers are text: {out}"
    );
    let header = |name: &str| {
        out["headers"][name]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                out["multiValueHeaders"][name][0]
                    .as_str()
                    .map(str::to_owned)
            })
    };
    assert!(
        header("content-type").is_some_and(|t| t.starts_with("application/json")),
        "{out}"
    );
    let body = out["body"].as_str().unwrap_or_default();
    Answer {
        status: out["statusCode"].as_u64().expect("statusCode") as u16,
        cache: header("x-cache"),
        body: serde_json::from_str(body).unwrap_or_else(|_| panic!("body is not JSON: {out}")),
    }
}

/// Fields that differ between two creations of the same thing.
fn without_ids(mut body: Value) -> Value {
    for key in ["incidentId", "paymentId", "createdAt"] {
        remove(&mut body, key);
        remove(&mut body["incident"], key);
    }
    body
}

async fn fixture_data(db: &Db, functions: &Functions) -> String {
    db.vendor("v1", &["tow"], 34.0, -118.0).await;
    db.vendor("v2", &["tire", "tow"], 34.01, -118.0).await;
    db.incident("inc-1").await;
    let paid = functions
        .local(
            &Req::new("POST", "/payments")
                .header("idempotency-key", "k-1")
                .body(payment("inc-1", "v1")),
        )
        .await;
    assert_eq!(paid.status, 201, "{paid:?}");
    paid.body["paymentId"]
        .as_str()
        .expect("paymentId")
        .to_owned()
}

fn payment(incident: &str, vendor: &str) -> Value {
    json!({"incidentId": incident, "vendorId": vendor, "amountCents": 1500, "currency": "USD",
           "lineItems": [{"description": "tow", "amountCents": 1500}]})
}

#[tokio::test]
async fn every_route_answers_the_same_on_every_event_source() {
    let db = Db::start().await;
    let functions = Functions::start(&db).await;
    let payment_id = fixture_data(&db, &functions).await;
    let requests = vec![
        Req::new("GET", "/vendors/v1"),
        Req::new("GET", "/vendors/missing"),
        Req::new(
            "GET",
            "/vendors/search?lat=34&lon=-118&radius=5&capability=tow",
        ),
        Req::new("GET", "/vendors/search?lat=91&lon=-118"),
        Req::new("GET", "/vendors/search?lat=34&lon=-118&colour=red"),
        Req::new("POST", "/vendors").body(json!({"businessName": "", "capabilities": ["tow"],
                                                 "location": {"lat": 34, "lon": -118}})),
        Req::new("GET", "/incidents/inc-1"),
        Req::new("GET", "/incidents/inc-missing"),
        Req::new("POST", "/incidents").body(json!({"driverId": "d-9", "type": "lockout",
                                                   "location": {"lat": 34, "lon": -118}})),
        Req::new("POST", "/incidents").body(json!({"driverId": "d-9", "type": "tow"})),
        Req::new("GET", &format!("/payments/{payment_id}")),
        Req::new("POST", "/payments")
            .header("idempotency-key", "k-unknown-vendor")
            .body(payment("inc-1", "ven-unknown")),
        // No Idempotency-Key: 400 naming the header.
        Req::new("POST", "/payments").body(payment("inc-1", "v1")),
        Req::new("DELETE", "/vendors/v1"),
        Req::new("GET", "/no/such/route"),
    ];
    for req in &requests {
        let expected = functions.local(req).await;
        for source in SOURCES {
            let got = functions.lambda(source, req).await;
            assert_eq!(got.status, expected.status, "{source:?} {req:?}: {got:?}");
            assert_eq!(
                without_ids(got.body.clone()),
                without_ids(expected.body.clone()),
                "{source:?} {req:?}"
            );
            assert_eq!(got.cache, expected.cache, "{source:?} {req:?}");
        }
    }
    // Vendor documents carry `updatedAt`, as docs/api.md shows them.
    let vendor = functions.local(&Req::new("GET", "/vendors/v1")).await;
    assert!(vendor.body["updatedAt"].is_string(), "{vendor:?}");
    // The stage never reaches the router: the 404 names the path the client asked for.
    let missing = functions
        .lambda(Source::HttpV2Named, &Req::new("GET", "/no/such/route"))
        .await;
    assert_eq!(
        missing.body["error"]["message"],
        "no route for GET /no/such/route"
    );
    // `/health` answers on every function and every source, without a caller.
    for source in SOURCES {
        for function in [&functions.vendor, &functions.incidents, &functions.payments] {
            let req = Req::new("GET", "/health").caller(None);
            let out = function
                .handle_json(&req.event(source))
                .await
                .expect("health");
            let answer = lambda_answer(&out);
            assert_eq!(
                (answer.status, &answer.body["status"]),
                (200, &json!("ok")),
                "{source:?}"
            );
        }
    }
}

/// `PATCH /vendors/{id}/availability` and `POST /vendors/{id}/location` for the vendor
/// itself or an admin only: the right claims, another vendor's, a driver's, none; the
/// HTTP API's `[a b]` groups and the REST API's `a,b`; IAM principals; the local headers.
#[tokio::test]
async fn vendor_writes_are_the_vendors_own_or_an_admins() {
    let db = Db::start().await;
    let functions = Functions::start(&db).await;
    db.vendor("v1", &["tow"], 34.0, -118.0).await;
    db.vendor("v2", &["tow"], 34.01, -118.0).await;
    let writes = |id: &str| {
        [
            Req::new("PATCH", &format!("/vendors/{id}/availability"))
                .body(json!({"status": "offline"})),
            Req::new("POST", &format!("/vendors/{id}/location"))
                .body(json!({"lat": 34.001, "lon": -118.0})),
        ]
    };
    let jwt_sources = [Source::RestV1, Source::HttpV2Default, Source::HttpV2Named];
    let groups = |source: Source, names: &str| match source {
        Source::RestV1 => names.replace(' ', ","),
        _ => format!("[{names}]"),
    };
    for source in jwt_sources {
        for req in writes("v1") {
            let own = req
                .clone()
                .caller(Some("user-v1"))
                .claim("custom:vendorId", "v1");
            let answer = functions.lambda(source, &own).await;
            assert_eq!(answer.status, 200, "{source:?} {own:?}: {answer:?}");
            assert_eq!(answer.body["vendorId"], "v1");

            let admin = req
                .clone()
                .caller(Some("ops-1"))
                .claim("cognito:groups", &groups(source, "vendors admins"));
            let answer = functions.lambda(source, &admin).await;
            assert_eq!(answer.status, 200, "{source:?} {admin:?}: {answer:?}");

            let refused = [
                req.clone()
                    .caller(Some("user-v2"))
                    .claim("custom:vendorId", "v2"),
                req.clone().caller(Some(DRIVER)),
                req.clone()
                    .caller(Some("user-v2"))
                    .claim("custom:vendorId", "v2")
                    .claim("cognito:groups", &groups(source, "vendors drivers")),
            ];
            for other in refused {
                let answer = functions.lambda(source, &other).await;
                assert_eq!(
                    (answer.status, &answer.body["error"]["code"]),
                    (403, &json!("forbidden")),
                    "{source:?} {other:?}: {answer:?}"
                );
            }
            let anonymous = functions.lambda(source, &req.clone().caller(None)).await;
            assert_eq!(anonymous.status, 401, "{source:?}");
        }
    }
    // Vendors are public: a vendor that does not exist is 403 for others, 404 for an admin.
    let missing = Req::new("POST", "/vendors/v-none/location").body(json!({"lat": 1, "lon": 1}));
    let answer = functions
        .lambda(
            Source::HttpV2Default,
            &missing.clone().claim("custom:vendorId", "v1"),
        )
        .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    let answer = functions
        .lambda(
            Source::HttpV2Default,
            &missing.claim("cognito:groups", "[admins]"),
        )
        .await;
    assert_eq!(answer.status, 404, "{answer:?}");
    // An IAM principal (a function URL with AWS_IAM): IAM decides per route.
    for req in writes("v2") {
        let answer = functions.lambda(Source::FunctionUrl, &req).await;
        assert_eq!(answer.status, 200, "{req:?}: {answer:?}");
    }
    // ALB: no claims the function can trust.
    for req in writes("v2") {
        let answer = functions.lambda(Source::Alb, &req).await;
        assert_eq!(answer.status, 403, "{req:?}: {answer:?}");
    }
    // Locally: the caller header alone is an operator; with the claim headers, exactly
    // those claims.
    for req in writes("v2") {
        assert_eq!(functions.local(&req).await.status, 200, "{req:?}");
        let other = req.clone().header("x-roadcall-vendor-id", "v1");
        assert_eq!(functions.local(&other).await.status, 403, "{other:?}");
        let driver = req.clone().header("x-roadcall-groups", "drivers");
        assert_eq!(functions.local(&driver).await.status, 403, "{driver:?}");
        let own = req.clone().header("x-roadcall-vendor-id", "v2");
        assert_eq!(functions.local(&own).await.status, 200, "{own:?}");
        let admin = req.header("x-roadcall-groups", "vendors,admins");
        assert_eq!(functions.local(&admin).await.status, 200, "{admin:?}");
    }
}

#[tokio::test]
async fn cloudfront_api_prefix_is_taken_off() {
    let db = Db::start().await;
    let functions = Functions::start(&db).await;
    db.vendor("v1", &["tow"], 34.0, -118.0).await;
    let direct = functions
        .lambda(Source::HttpV2Default, &Req::new("GET", "/vendors/v1"))
        .await;
    assert_eq!(direct.status, 200);
    for source in SOURCES {
        let via_cdn = functions
            .lambda(source, &Req::new("GET", "/api/vendors/v1"))
            .await;
        assert_eq!(via_cdn, direct, "{source:?}");
    }
}

#[tokio::test]
async fn the_caller_comes_from_the_request_context_only() {
    let db = Db::start().await;
    let functions = Functions::start(&db).await;
    let payment_id = fixture_data(&db, &functions).await;
    let own = [
        Req::new("GET", "/incidents/inc-1"),
        Req::new("GET", &format!("/payments/{payment_id}")),
    ];
    for source in SOURCES {
        for req in &own {
            // Claims of the owner: the record.
            assert_eq!(
                functions.lambda(source, req).await.status,
                200,
                "{source:?} {req:?}"
            );
            // Another caller's claims: 404, exactly as for an id that does not exist.
            let other = functions
                .lambda(source, &req.clone().caller(Some("someone-else")))
                .await;
            assert_eq!(other.status, 404, "{source:?} {req:?}: {other:?}");
            assert_eq!(other.body["error"]["code"], "not_found");
            // No identity: 401 JSON, also with the local server's header, which no Lambda
            // function honours.
            for anonymous in [
                req.clone().caller(None),
                req.clone().caller(None).header("x-roadcall-caller", DRIVER),
            ] {
                let answer = functions.lambda(source, &anonymous).await;
                assert_eq!(answer.status, 401, "{source:?} {anonymous:?}: {answer:?}");
                assert_eq!(answer.body["error"]["code"], "unauthenticated");
            }
        }
        // Every route but /health needs a caller, vendor routes included.
        for req in [
            Req::new("GET", "/vendors/v1"),
            Req::new("GET", "/vendors/search?lat=34&lon=-118"),
            Req::new("POST", "/incidents").body(json!({"driverId": "d", "type": "tow",
                                                       "location": {"lat": 34, "lon": -118}})),
        ] {
            let answer = functions.lambda(source, &req.caller(None)).await;
            assert_eq!(answer.status, 401, "{source:?}");
        }
    }
    // An ALB without an authenticating listener (the default) carries no caller at all.
    let (_, plain_state) = app_with(&db, None, &[]).await;
    let plain = LambdaHandler::new(
        router::finish(router::incident_routes(), plain_state.clone()),
        plain_state,
    );
    let out = plain
        .handle_json(&Req::new("GET", "/incidents/inc-1").event(Source::Alb))
        .await
        .expect("alb");
    assert_eq!(lambda_answer(&out).status, 401);
}

#[tokio::test]
async fn records_and_idempotency_keys_belong_to_their_caller() {
    let db = Db::start().await;
    let functions = Functions::start(&db).await;
    let payment_id = fixture_data(&db, &functions).await;
    // Someone else cannot pay for the driver's incident: 422 naming it, as for a missing one.
    let stranger = functions
        .lambda(
            Source::HttpV2Default,
            &Req::new("POST", "/payments")
                .header("idempotency-key", "k-1")
                .body(payment("inc-1", "v1"))
                .caller(Some("stranger")),
        )
        .await;
    assert_eq!(stranger.status, 422, "{stranger:?}");
    assert_eq!(stranger.body["error"]["field"], "incidentId");
    // The same key from another caller is that caller's own: a new incident, no replay of
    // the driver's answer.
    let incident = |caller: &str| {
        Req::new("POST", "/incidents")
            .header("idempotency-key", "shared-key")
            .body(
                json!({"driverId": "d-1", "type": "lockout", "location": {"lat": 34, "lon": -118}}),
            )
            .caller(Some(caller))
    };
    let first = functions
        .lambda(Source::HttpV2Default, &incident(DRIVER))
        .await;
    let again = functions.lambda(Source::RestV1, &incident(DRIVER)).await;
    let other = functions
        .lambda(Source::HttpV2Default, &incident("stranger"))
        .await;
    assert_eq!((first.status, again.status, other.status), (201, 201, 201));
    assert_eq!(first.body, again.body, "a retry replays the first answer");
    assert_ne!(first.body["incidentId"], other.body["incidentId"]);
    // Each reads only their own.
    let read = |id: &Value, caller: &str| {
        Req::new("GET", &format!("/incidents/{}", id.as_str().unwrap())).caller(Some(caller))
    };
    let named = &functions;
    let lambda = |req: Req| async move { named.lambda(Source::HttpV2Named, &req).await.status };
    assert_eq!(
        lambda(read(&other.body["incidentId"], "stranger")).await,
        200
    );
    assert_eq!(lambda(read(&other.body["incidentId"], DRIVER)).await, 404);
    assert_eq!(
        lambda(read(&first.body["incidentId"], "stranger")).await,
        404
    );
    let payment_path = format!("/payments/{payment_id}");
    assert_eq!(
        lambda(Req::new("GET", &payment_path).caller(Some("stranger"))).await,
        404
    );
    // The same payment key from another caller (with their own incident) is a new payment.
    let theirs = other.body["incidentId"].as_str().unwrap();
    let paid = functions
        .lambda(
            Source::HttpV2Default,
            &Req::new("POST", "/payments")
                .header("idempotency-key", "k-1")
                .body(payment(theirs, "v1"))
                .caller(Some("stranger")),
        )
        .await;
    assert_eq!(paid.status, 201, "{paid:?}");
    assert_ne!(paid.body["paymentId"], json!(payment_id));
    assert!(paid.body.get("paymentId").is_some());
    assert_eq!(
        StatusCode::from_u16(paid.status).unwrap(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn the_warmer_header_over_http_is_an_ordinary_request() {
    let db = Db::start().await;
    let functions = Functions::start(&db).await;
    // Over HTTP the ping's header and path are nothing special: a 404 at once, not a hold.
    for source in SOURCES {
        let req = Req::new("GET", "/_warmer?holdMs=10000").header("x-roadcall-warmer", "1");
        let answer = functions.lambda(source, &req).await;
        assert_eq!(answer.status, 404, "{source:?}: {answer:?}");
        assert_eq!(answer.body["error"]["code"], "route_not_found");
        let anonymous = functions.lambda(source, &req.caller(None)).await;
        assert_eq!(anonymous.status, 401, "{source:?}");
    }
    // The warmer's own direct invocation is answered by the host, with this environment.
    let ping = lambdas::warmer::ping::ping_event(Some(std::time::Duration::from_millis(1)));
    let out = functions
        .vendor
        .handle_json(&ping.to_string())
        .await
        .expect("ping");
    let answer = lambdas::warmer::ping::parse_answer(out.to_string().as_bytes()).expect("answer");
    assert_eq!(answer.environment_id, functions.state.environment.id);
    // Anything else is the invocation's error, not a guess.
    for payload in [
        r#"{"hello": "world"}"#,
        "[]",
        r#"{"roadcallWarmer": {"holdMs": "x"}}"#,
    ] {
        assert!(
            functions.vendor.handle_json(payload).await.is_err(),
            "{payload}"
        );
    }
}
