//! The visitor item, and the device item that maps an anonymous visitor's device (`saVid`)
//! to it: the device item's conditional put is what makes two racing first inits create one
//! visitor.

use chat_domain::Spelling;
use chat_domain::ids::{ProjectId, VisitorId};
use chat_domain::timestamp::Timestamp;
use chat_domain::visitor::Visitor;

use crate::error::StoreError;
use crate::items::{Item, Reader, put_opt, string};
use crate::keys::{DEVICE_SK, PARTITION_KEY, SORT_KEY, VISITOR_SK, device_pk, visitor_pk};

/// The device item's visitor.
pub const VISITOR_ID: &str = "visitorId";

/// Every attribute of a visitor's item.
pub fn attributes(project: ProjectId, visitor: &Visitor, created_at: Timestamp) -> Item {
    let mut item = Item::new();
    item.insert(
        PARTITION_KEY.into(),
        string(visitor_pk(project, VisitorId(visitor.id))),
    );
    item.insert(SORT_KEY.into(), string(VISITOR_SK));
    item.insert("id".into(), string(visitor.id.to_string()));
    item.insert("type".into(), string(visitor.kind.as_str()));
    item.insert("createdAt".into(), string(created_at.to_string()));
    put_opt(&mut item, "externalId", visitor.external_id.clone());
    put_opt(&mut item, "name", visitor.name.clone());
    put_opt(&mut item, "avatarUrl", visitor.avatar_url.clone());
    item
}

/// A visitor from its item.
pub fn from_item(item: &Item) -> Result<Visitor, StoreError> {
    let r = Reader(item);
    Ok(Visitor {
        object: "visitor",
        id: r.uuid("id")?,
        kind: r.spelled("type")?,
        external_id: r.opt_str("externalId")?.map(str::to_owned),
        name: r.opt_str("name")?.map(str::to_owned),
        avatar_url: r.opt_str("avatarUrl")?.map(str::to_owned),
    })
}

/// Every attribute of a device's item.
pub fn device_attributes(
    project: ProjectId,
    device: &str,
    visitor: VisitorId,
    created_at: Timestamp,
) -> Item {
    let mut item = Item::new();
    item.insert(PARTITION_KEY.into(), string(device_pk(project, device)));
    item.insert(SORT_KEY.into(), string(DEVICE_SK));
    item.insert(VISITOR_ID.into(), string(visitor.0.to_string()));
    item.insert("createdAt".into(), string(created_at.to_string()));
    item
}

/// The visitor a device item names.
pub fn device_visitor(item: &Item) -> Result<VisitorId, StoreError> {
    Reader(item).uuid(VISITOR_ID).map(VisitorId)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn visitors_and_devices_round_trip() {
        let project = ProjectId(Uuid::now_v7());
        let visitor = Visitor::anonymous(Uuid::now_v7());
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        assert_eq!(
            from_item(&attributes(project, &visitor, now)).unwrap(),
            visitor
        );
        let device = device_attributes(project, "device-1", VisitorId(visitor.id), now);
        assert_eq!(device_visitor(&device).unwrap(), VisitorId(visitor.id));
    }
}
