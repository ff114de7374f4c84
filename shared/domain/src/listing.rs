//! The order of the conversation list: every `orderBy` of the contract, ties broken by id
//! in the same direction, nulls last in both directions, `open` before `closed` ascending,
//! titles by Unicode code point. A total order, so pages neither skip nor repeat while
//! nothing changes.

use std::cmp::Ordering;

use serde::Serialize;
use strum::{EnumString, IntoStaticStr, VariantNames};

use crate::conversation::{Conversation, ConversationStatus};

/// What the conversation list is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantNames)]
#[strum(serialize_all = "camelCase")]
pub enum ListOrder {
    /// The newest message's time (the default).
    LastInteractionAt,
    /// Creation time.
    CreatedAt,
    /// Last write.
    UpdatedAt,
    /// Close time; open conversations (null) last.
    ClosedAt,
    /// `open` before `closed` ascending.
    Status,
    /// `false` before `true` ascending.
    IsHumanHandled,
    /// By code point; untitled (null) last.
    Title,
    /// The id alone.
    Id,
}

/// Which way the list runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, IntoStaticStr, EnumString, VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum OrderDir {
    /// Smallest first.
    Asc,
    /// Largest first (the default).
    Desc,
}

impl OrderDir {
    fn apply(self, ordering: Ordering) -> Ordering {
        match self {
            Self::Asc => ordering,
            Self::Desc => ordering.reverse(),
        }
    }
}

/// Compares two optional values with `None` last whichever the direction.
fn nulls_last<T: Ord>(a: Option<T>, b: Option<T>, dir: OrderDir) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => dir.apply(a.cmp(&b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn status_rank(status: ConversationStatus) -> u8 {
    match status {
        ConversationStatus::Open => 0,
        ConversationStatus::Closed => 1,
    }
}

/// How `a` and `b` compare in the list ordered by `order` in `dir`.
pub fn compare(a: &Conversation, b: &Conversation, order: ListOrder, dir: OrderDir) -> Ordering {
    let primary = match order {
        ListOrder::LastInteractionAt => {
            dir.apply(a.last_interaction_at.cmp(&b.last_interaction_at))
        }
        ListOrder::CreatedAt => dir.apply(a.created_at.cmp(&b.created_at)),
        ListOrder::UpdatedAt => dir.apply(a.updated_at.cmp(&b.updated_at)),
        ListOrder::ClosedAt => nulls_last(a.closed_at, b.closed_at, dir),
        ListOrder::Status => dir.apply(status_rank(a.status).cmp(&status_rank(b.status))),
        ListOrder::IsHumanHandled => dir.apply(a.is_human_handled.cmp(&b.is_human_handled)),
        // `str`'s order is its UTF-8 bytes', which is the code points' order.
        ListOrder::Title => nulls_last(a.title.as_deref(), b.title.as_deref(), dir),
        ListOrder::Id => Ordering::Equal,
    };
    primary.then_with(|| dir.apply(a.id.cmp(&b.id)))
}

/// Sorts `conversations` for the list.
pub fn sort(conversations: &mut [Conversation], order: ListOrder, dir: OrderDir) {
    conversations.sort_by(|a, b| compare(a, b, order, dir));
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::ids::VisitorId;
    use crate::timestamp::Timestamp;

    fn conversation(n: u128, title: Option<&str>, closed: Option<i64>) -> Conversation {
        let mut c = Conversation::new(
            Uuid::from_u128(n),
            VisitorId(Uuid::nil()),
            Timestamp::from_unix_millis(1_000),
        );
        c.title = title.map(str::to_owned);
        if let Some(at) = closed {
            c.status = ConversationStatus::Closed;
            c.closed_at = Some(Timestamp::from_unix_millis(at));
        }
        c
    }

    fn ids(list: &[Conversation]) -> Vec<u128> {
        list.iter().map(|c| c.id.as_u128()).collect()
    }

    #[test]
    fn nulls_sort_last_both_ways_and_ties_follow_the_direction() {
        let mut list = vec![
            conversation(1, None, None),
            conversation(2, Some("b"), Some(5)),
            conversation(3, Some("a"), Some(5)),
            conversation(4, None, Some(9)),
        ];
        sort(&mut list, ListOrder::ClosedAt, OrderDir::Asc);
        assert_eq!(ids(&list), [2, 3, 4, 1]);
        sort(&mut list, ListOrder::ClosedAt, OrderDir::Desc);
        assert_eq!(ids(&list), [4, 3, 2, 1]);
        sort(&mut list, ListOrder::Title, OrderDir::Asc);
        assert_eq!(ids(&list), [3, 2, 1, 4]);
        sort(&mut list, ListOrder::Title, OrderDir::Desc);
        assert_eq!(ids(&list), [2, 3, 4, 1]);
        sort(&mut list, ListOrder::Status, OrderDir::Asc);
        assert_eq!(ids(&list), [1, 2, 3, 4]);
        sort(&mut list, ListOrder::Status, OrderDir::Desc);
        assert_eq!(ids(&list), [4, 3, 2, 1]);
    }

    #[test]
    fn titles_compare_by_code_point() {
        // U+FF41 (fullwidth a) after U+00E9 (é) after "z": code points, not UTF-16 units
        // or a locale's collation.
        let mut list = vec![
            conversation(1, Some("\u{ff41}"), None),
            conversation(2, Some("\u{e9}"), None),
            conversation(3, Some("z"), None),
            conversation(4, Some("\u{1F600}"), None),
        ];
        sort(&mut list, ListOrder::Title, OrderDir::Asc);
        assert_eq!(ids(&list), [3, 2, 1, 4]);
    }

    #[test]
    fn order_spellings_are_the_contracts() {
        use crate::Spelling;
        assert_eq!(ListOrder::LastInteractionAt.as_str(), "lastInteractionAt");
        assert_eq!(ListOrder::IsHumanHandled.as_str(), "isHumanHandled");
        assert_eq!(ListOrder::VARIANTS.len(), 8);
        assert_eq!(OrderDir::parse("asc"), Some(OrderDir::Asc));
    }
}
