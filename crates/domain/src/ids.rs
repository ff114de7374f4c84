//! Who is asking and what is named: project, visitor and caller ids, and new server ids.

use uuid::Uuid;

/// Makes a new server-side id: UUID version 7, time-ordered.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// The project a session token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProjectId(pub Uuid);

/// The visitor a session token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VisitorId(pub Uuid);

/// Who is asking: the project and visitor of a verified session token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The project every key is scoped by.
    pub project: ProjectId,
    /// The visitor that owns the conversations it creates.
    pub visitor: VisitorId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_version_7() {
        assert_eq!(new_id().get_version_num(), 7);
    }
}
