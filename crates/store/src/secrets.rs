//! Sealed secrets as one list, so keys can be rotated without knowing every table.

use async_trait::async_trait;
use uuid::Uuid;

use crate::*;

/// Which sealed column a [`SealedSecret`] lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealedColumn {
    ConnectionAccessToken,
    ConnectionRefreshToken,
    AgentCalApiKey,
    WebhookSecret,
}

/// One sealed value at rest, for key rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub column: SealedColumn,
    /// The id of the row (connection, agent or webhook).
    pub id: Uuid,
    pub value: String,
}

/// Every sealed secret, for key rotation.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Every sealed secret of every tenant, for `rotate-keys`.
    async fn sealed_secrets(&self) -> StoreResult<Vec<SealedSecret>>;
    /// Replaces one sealed value if it still is `old` (a concurrent token refresh wins).
    /// Whether it was replaced.
    async fn replace_sealed_secret(&self, secret: &SealedSecret, old: &str) -> StoreResult<bool>;
}

impl SealedSecret {
    /// A row of both backends' `sealed_secrets` query: the column's label (`access`,
    /// `refresh`, `agent` or `webhook`), the row's id and the sealed value.
    pub fn from_labelled((label, id, value): (String, Uuid, String)) -> SealedSecret {
        let column = match label.as_str() {
            "access" => SealedColumn::ConnectionAccessToken,
            "refresh" => SealedColumn::ConnectionRefreshToken,
            "webhook" => SealedColumn::WebhookSecret,
            _ => SealedColumn::AgentCalApiKey,
        };
        SealedSecret { column, id, value }
    }
}
