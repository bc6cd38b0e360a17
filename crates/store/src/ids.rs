//! Ids shared by every resource.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The tenant every scoped query is filtered by. A newtype so it cannot be confused with the
/// other ids that travel next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// New time-ordered id: v7 keeps recent rows together in indexes.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}
