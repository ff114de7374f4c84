//! The question-and-answer pair item (`P#<projectId>` / `Q#<qnaId>`), its one writer and
//! reader.

use chat_domain::ids::ProjectId;
use chat_domain::knowledge::Qna;
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::{Item, Reader, string as s};
use crate::keys::{PARTITION_KEY, SORT_KEY, project_pk};

/// The sort-key prefix of pair items.
pub const QNA_SK_PREFIX: &str = "Q#";

/// The sort key of pair `id`.
pub fn qna_sk(id: Uuid) -> String {
    format!("{QNA_SK_PREFIX}{id}")
}

/// The item of `qna` of `project`.
pub fn qna_item(project: ProjectId, qna: &Qna) -> Item {
    let mut item = Item::new();
    item.insert(PARTITION_KEY.into(), s(project_pk(project)));
    item.insert(SORT_KEY.into(), s(qna_sk(qna.id)));
    item.insert("id".into(), s(qna.id.to_string()));
    item.insert("question".into(), s(qna.question.clone()));
    item.insert("answer".into(), s(qna.answer.clone()));
    item.insert("createdAt".into(), s(qna.created_at.to_string()));
    item.insert("updatedAt".into(), s(qna.updated_at.to_string()));
    item
}

/// The pair a pair item holds.
pub fn qna_from_item(item: &Item) -> Result<Qna, StoreError> {
    let r = Reader(item);
    Ok(Qna {
        id: r.uuid("id")?,
        question: r.str("question")?.to_owned(),
        answer: r.str("answer")?.to_owned(),
        created_at: r.time("createdAt")?,
        updated_at: r.time("updatedAt")?,
    })
}
