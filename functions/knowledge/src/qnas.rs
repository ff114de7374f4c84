//! `…/v2/projects/{projectId}/qnas`: the question-and-answer pairs a project's team wrote
//! (API.md §14). Only the project's own secret key reaches them: another project's id is
//! 404, as an unknown one is. Each change queues an index build, so a pair is searchable
//! within seconds.

use chat_domain::ApiError;
use chat_domain::ids::Caller;
use chat_domain::input::knowledge::{ListWindow, QnaFields};
use chat_domain::knowledge::{MAX_QNAS_PER_PROJECT, Qna};
use chat_domain::timestamp::Timestamp;
use chat_edge::request::query_param;
use chat_edge::respond::{json_response, respond};
use chat_edge::store_errors::api_error;
use chat_knowledge::blobs::BlobStore;
use chat_knowledge::jobs::{JobQueue, SyncJob};
use chat_storage::StoreError;
use chat_storage::ports::{
    IndexVersionStore, KeyStore, LimitStore, PageStore, QnaStore, SourceStore,
};
use http::{HeaderMap, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use uuid::Uuid;

use crate::Knowledge;

fn path_id(req: &Request, name: &str) -> Result<Uuid, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .unwrap_or_default();
    chat_domain::input::parse_uuid(raw, name)
}

fn for_qna(error: StoreError, id: Uuid) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::NotFound {
            resource: "qna",
            id: id.to_string(),
        },
        other => api_error(other),
    }
}

impl<S, B, Q> Knowledge<S, B, Q>
where
    S: SourceStore + QnaStore + PageStore + IndexVersionStore + KeyStore + LimitStore,
    B: BlobStore,
    Q: JobQueue,
{
    /// The caller, whose project the path must name (404 `project` otherwise).
    async fn qna_caller(&self, req: &Request, headers: &mut HeaderMap) -> Result<Caller, ApiError> {
        let caller = self.project_caller(req.headers(), headers).await?;
        let project = path_id(req, "projectId")?;
        if project != caller.project.0 {
            return Err(ApiError::NotFound {
                resource: "project",
                id: project.to_string(),
            });
        }
        Ok(caller)
    }

    async fn rebuild(&self, caller: Caller) -> Result<(), ApiError> {
        self.enqueue(&SyncJob::Rebuild {
            project: caller.project.0,
        })
        .await
    }

    /// `GET /v2/projects/{projectId}/qnas`: newest first.
    pub async fn list_qnas(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.qna_caller(&req, headers).await?;
            let window = ListWindow::parse(|name| query_param(&req, name))?;
            let mut qnas = self
                .store
                .knowledge(caller.project)
                .await
                .map_err(api_error)?
                .qnas;
            qnas.reverse();
            let total = qnas.len();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "object": "list", "total": total, "limit": window.limit,
                         "offset": window.offset, "data": window.of(qnas) }),
            ))
        })
        .await
    }

    /// `POST /v2/projects/{projectId}/qnas`: 201 with the pair.
    pub async fn create_qna(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.qna_caller(&req, headers).await?;
            let fields = QnaFields::parse_new(req.body().as_ref())?;
            let qna = self.add_qna(caller, fields).await?;
            Ok(json_response(StatusCode::CREATED, &qna))
        })
        .await
    }

    /// Adds a pair to the caller's project and queues the index build: what the route and
    /// the operator's `admin qna add` do.
    pub async fn add_qna(&self, caller: Caller, fields: QnaFields) -> Result<Qna, ApiError> {
        let state = self
            .store
            .knowledge(caller.project)
            .await
            .map_err(api_error)?;
        if state.qnas.len() >= MAX_QNAS_PER_PROJECT {
            return Err(ApiError::validation(
                "body",
                format!("a project has at most {MAX_QNAS_PER_PROJECT} question-and-answer pairs"),
            ));
        }
        let now = Timestamp::now();
        let qna = Qna {
            id: Uuid::now_v7(),
            question: fields.question.unwrap_or_default(),
            answer: fields.answer.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        self.store
            .put_qna(caller.project, &qna, false)
            .await
            .map_err(api_error)?;
        self.rebuild(caller).await?;
        Ok(qna)
    }

    /// Removes pair `id` of the caller's project and queues the index build: what the
    /// route and the operator's `admin qna delete` do.
    pub async fn remove_qna(&self, caller: Caller, id: Uuid) -> Result<(), ApiError> {
        self.store
            .delete_qna(caller.project, id)
            .await
            .map_err(|e| for_qna(e, id))?;
        self.rebuild(caller).await
    }

    /// `GET /v2/projects/{projectId}/qnas/{qnaId}`.
    pub async fn get_qna(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.qna_caller(&req, headers).await?;
            let id = path_id(&req, "qnaId")?;
            let qna = self
                .store
                .qna(caller.project, id)
                .await
                .map_err(|e| for_qna(e, id))?;
            Ok(json_response(StatusCode::OK, &qna))
        })
        .await
    }

    /// `PATCH /v2/projects/{projectId}/qnas/{qnaId}`: either text, or both.
    pub async fn update_qna(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.qna_caller(&req, headers).await?;
            let id = path_id(&req, "qnaId")?;
            let fields = QnaFields::parse_patch(req.body().as_ref())?;
            let mut qna = self
                .store
                .qna(caller.project, id)
                .await
                .map_err(|e| for_qna(e, id))?;
            if let Some(question) = fields.question {
                qna.question = question;
            }
            if let Some(answer) = fields.answer {
                qna.answer = answer;
            }
            qna.updated_at = Timestamp::now();
            self.store
                .put_qna(caller.project, &qna, true)
                .await
                .map_err(|e| for_qna(e, id))?;
            self.rebuild(caller).await?;
            Ok(json_response(StatusCode::OK, &qna))
        })
        .await
    }

    /// `DELETE /v2/projects/{projectId}/qnas/{qnaId}`.
    pub async fn delete_qna(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.qna_caller(&req, headers).await?;
            let id = path_id(&req, "qnaId")?;
            self.remove_qna(caller, id).await?;
            Ok(json_response(StatusCode::OK, &json!({ "success": true })))
        })
        .await
    }
}
