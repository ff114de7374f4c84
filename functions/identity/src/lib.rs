//! Visitor sessions (API.md §8): `POST /v2/identity/init` turns a publishable key and a
//! widget's device id into an anonymous visitor and a session token, and `GET
//! /v2/identity/me` says who a token's visitor is. The two routes take different methods,
//! which is how one function tells them apart.

use std::sync::Arc;

use chat_domain::ApiError;
use chat_domain::api_key::SECRET_PREFIX;
use chat_domain::ids::{Caller, VisitorId, new_id};
use chat_domain::input::json_object_body;
use chat_domain::limits::OperationClass;
use chat_domain::session::{Claims, TokenMinter};
use chat_domain::timestamp::Timestamp;
use chat_domain::visitor::{DeviceId, Visitor};
use chat_edge::api_keys::{allow_key_origin, publishable_key};
use chat_edge::request::{body, origin, source_ip};
use chat_edge::respond::{json_response, respond};
use chat_edge::store_errors::api_error;
use chat_edge::{Base, Edge, Handler};
use chat_storage::ports::{DeviceVisitor, KeyStore, LimitStore, VisitorStore};
use http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

/// The identity function's state.
pub struct Identity<S> {
    /// Where keys, devices and visitors are.
    pub store: S,
    /// Auth, limits, CORS, the key cache.
    pub edge: Arc<Edge>,
    /// Signs the session tokens init hands out.
    pub minter: TokenMinter,
    /// How long they are valid.
    pub token_ttl_secs: u64,
}

impl Identity<chat_storage::DynamoStore> {
    /// The state of a process built from `base`.
    pub fn new(base: &Base) -> Self {
        Self {
            store: base.store.clone(),
            minter: TokenMinter::new(&base.edge.signing_keys),
            edge: base.edge.clone(),
            token_ttl_secs: base.settings.edge.session_token_ttl_secs,
        }
    }
}

impl<S: KeyStore + VisitorStore + LimitStore> Handler for Identity<S> {
    type Body = Body;

    async fn handle(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            if req.method() == Method::GET {
                self.me(&req).await
            } else {
                self.init(&req, headers).await
            }
        })
        .await
    }
}

impl<S: KeyStore + VisitorStore + LimitStore> Identity<S> {
    /// `POST /v2/identity/init`: 201 with a new anonymous visitor for a new device, 200
    /// with the device's visitor after; a fresh token either way.
    async fn init(
        &self,
        req: &Request,
        headers: &mut HeaderMap,
    ) -> Result<Response<Body>, ApiError> {
        let fields = json_object_body(body(req)?)?
            .ok_or_else(|| ApiError::invalid("body", "the request body must be a JSON object"))?;
        let text = |name: &'static str| match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str())),
            Some(_) => Err(ApiError::invalid(name, format!("{name} must be a string"))),
        };
        let (api_key, sa_vid) = (text("apiKey")?, text("saVid")?);
        let device = DeviceId::parse(sa_vid.unwrap_or(""))?;
        let origin = origin(req);
        let (key, _) =
            publishable_key(&self.edge.keys, &self.store, api_key, "apiKey", origin).await?;
        allow_key_origin(origin, headers);
        let project = key.project();

        // Counted beside the device's read and before any write: an init refused with 429
        // creates nothing.
        let limiter = &self.edge.limiter;
        let counters = limiter.init_counters(project, &source_ip(req), Timestamp::now());
        let (existing, counts) = tokio::join!(
            self.store.device_visitor(project, &device),
            self.store.increment(&counters),
        );
        let limits = limiter.evaluate(
            OperationClass::Inits,
            &counters,
            &counts.map_err(api_error)?,
            &Default::default(),
            chat_domain::assistant::Plan::Free,
        );
        headers.extend(limits.headers());
        limits.check()?;
        let (status, visitor) = match existing.map_err(api_error)? {
            Some(visitor) => (StatusCode::OK, visitor),
            None => {
                let visitor = Visitor::anonymous(new_id());
                let outcome = self
                    .store
                    .create_device_visitor(project, &device, &visitor, Timestamp::now())
                    .await
                    .map_err(api_error)?;
                match outcome {
                    DeviceVisitor::Created(id) => (StatusCode::CREATED, id),
                    DeviceVisitor::Existing(id) => (StatusCode::OK, id),
                }
            }
        };
        let caller = Caller { project, visitor };
        let token = self.minter.mint_claims(&Claims::new(
            caller,
            self.token_ttl_secs,
            self.edge.token_issuer.clone(),
        ));
        Ok(json_response(
            status,
            &json!({ "sessionToken": token, "visitor": Visitor::anonymous(visitor.0) }),
        ))
    }

    /// `GET /v2/identity/me`: the visitor a session token names.
    async fn me(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let token = chat_domain::session::bearer_token(req.headers())?;
        if token.starts_with(SECRET_PREFIX) {
            // A valid secret key has the project's scope, not a visitor's; any other is 401.
            chat_edge::auth::caller(&self.edge, &self.store, req.headers()).await?;
            return Err(ApiError::WrongCredential(
                "A secret key has no visitor identity; use a session token",
            ));
        }
        let claims = self.edge.auth.verify_claims(token)?;
        let visitor = match claims.identified_visitor() {
            // A site's backend describes its visitor in the token: nothing to read.
            Some(visitor) => visitor,
            None => self
                .store
                .visitor(
                    chat_domain::ids::ProjectId(claims.pid),
                    VisitorId(claims.sub),
                )
                .await
                .map_err(api_error)?
                .ok_or_else(|| ApiError::Unauthorized {
                    reason: "the token's visitor does not exist".into(),
                    token_presented: true,
                })?,
        };
        Ok(json_response(StatusCode::OK, &visitor))
    }
}
