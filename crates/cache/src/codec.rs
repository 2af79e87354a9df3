//! Value encodings: JSON (default, readable with `redis-cli`) or MessagePack (compact).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CacheError;

/// How values are serialized before they go to Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Codec {
    /// `serde_json`; human-readable, the default.
    #[default]
    Json,
    /// MessagePack via `rmp-serde` with field names, so struct changes stay compatible.
    MessagePack,
}

impl Codec {
    /// Serializes `value`.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, CacheError> {
        match self {
            Self::Json => {
                serde_json::to_vec(value).map_err(|e| CacheError::Serialization(e.to_string()))
            }
            Self::MessagePack => {
                rmp_serde::to_vec_named(value).map_err(|e| CacheError::Serialization(e.to_string()))
            }
        }
    }

    /// Deserializes bytes produced by [`Codec::encode`].
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, CacheError> {
        match self {
            Self::Json => {
                serde_json::from_slice(bytes).map_err(|e| CacheError::Serialization(e.to_string()))
            }
            Self::MessagePack => {
                rmp_serde::from_slice(bytes).map_err(|e| CacheError::Serialization(e.to_string()))
            }
        }
    }

    /// Parses `json` or `msgpack` (the `CACHE_CODEC` variable).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "msgpack" | "messagepack" => Some(Self::MessagePack),
            _ => None,
        }
    }
}
