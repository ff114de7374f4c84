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

impl VisitorId {
    /// The project itself, acting through a secret key. The conversations it makes belong
    /// to no visitor: stored as owned by this id, the nil UUID, which is no visitor's (a
    /// token naming it is refused), so no visitor can see them.
    pub const PROJECT: VisitorId = VisitorId(Uuid::nil());
}

/// Who is asking: the project and visitor of a verified session token, or the project
/// itself (a secret key, [`VisitorId::PROJECT`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The project every key is scoped by.
    pub project: ProjectId,
    /// The visitor that owns the conversations it creates.
    pub visitor: VisitorId,
}

/// What a caller may do with a conversation, by its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read and write it.
    Allowed,
    /// Another visitor's: 403.
    NotOwner,
    /// The project's own (a secret key made it): for a visitor it does not exist, 404.
    Hidden,
}

impl Caller {
    /// The project itself, as a secret key of it acts.
    pub fn project_scope(project: ProjectId) -> Self {
        Self {
            project,
            visitor: VisitorId::PROJECT,
        }
    }

    /// Whether this is the project itself rather than one of its visitors.
    pub fn is_project_scope(&self) -> bool {
        self.visitor == VisitorId::PROJECT
    }

    /// What this caller may do with a conversation of its project owned by `owner`: the
    /// project may do anything; a visitor only with its own.
    pub fn access(&self, owner: Uuid) -> Access {
        if self.is_project_scope() || owner == self.visitor.0 {
            Access::Allowed
        } else if owner == VisitorId::PROJECT.0 {
            Access::Hidden
        } else {
            Access::NotOwner
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_sees_everything_a_visitor_only_its_own() {
        let project = ProjectId(Uuid::now_v7());
        let visitor = Caller {
            project,
            visitor: VisitorId(Uuid::now_v7()),
        };
        let scope = Caller::project_scope(project);
        assert!(scope.is_project_scope() && !visitor.is_project_scope());
        assert_eq!(visitor.access(visitor.visitor.0), Access::Allowed);
        assert_eq!(visitor.access(Uuid::now_v7()), Access::NotOwner);
        assert_eq!(visitor.access(Uuid::nil()), Access::Hidden);
        assert_eq!(scope.access(visitor.visitor.0), Access::Allowed);
        assert_eq!(scope.access(Uuid::nil()), Access::Allowed);
    }

    #[test]
    fn new_ids_are_version_7() {
        assert_eq!(new_id().get_version_num(), 7);
    }
}
