//! API tokens: minting, hashing, authentication with a revocation-aware cache, and first-start bootstrap.

use crate::domain::ids::{OrgId, TokenId};
use crate::error::Error;
use crate::store::{Store, TokenRecord};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// The prefix of every token.
pub const TOKEN_PREFIX: &str = "gat_";
/// How long a verified token is trusted without asking the database again. Revocations reach every
/// server at once through the database's notifications; this bounds the delay should one be lost.
const CACHE_TTL: Duration = Duration::from_secs(30);
/// Cached tokens at most; past it the cache starts afresh.
const CACHE_CAPACITY: usize = 10_000;

/// Whether `token` has the shape of a token: `gat_` and 20–200 URL-safe characters.
pub fn is_well_formed(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
        (20..=200).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// SHA-256 of the clear token, the only form stored.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token: `gat_` and 40 base32 characters (200 bits from the OS's generator).
pub fn mint() -> Result<String, Error> {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 25];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(e.to_string()))?;
    let mut out = String::from(TOKEN_PREFIX);
    // 25 bytes = 5 groups of 40 bits = 8 characters each
    for chunk in bytes.chunks(5) {
        let group = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        for i in (0..8).rev() {
            out.push(ALPHABET[((group >> (5 * i)) & 0x1f) as usize] as char);
        }
    }
    Ok(out)
}

/// Creates a token for `org`, returning its clear text (shown once) and record.
pub async fn create(
    store: &dyn Store,
    org: OrgId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(String, TokenRecord), Error> {
    let clear = mint()?;
    let record = insert(store, org, name, &clear, now).await?;
    Ok((clear, record))
}

async fn insert(
    store: &dyn Store,
    org: OrgId,
    name: &str,
    clear: &str,
    now: DateTime<Utc>,
) -> Result<TokenRecord, Error> {
    let record = TokenRecord {
        id: TokenId::generate(),
        organization_id: org,
        name: name.to_owned(),
        token_prefix: clear.chars().take(TOKEN_PREFIX.len() + 6).collect(),
        created_at: now,
        revoked_at: None,
    };
    store.insert_token(&record, &hash(clear)).await?;
    Ok(record)
}

/// What the first start created, if anything.
#[derive(Debug)]
pub struct Bootstrap {
    pub organization_id: OrgId,
    /// The clear token, when one was minted now (a known `--bootstrap-token` is not echoed).
    pub minted_token: Option<String>,
    pub created_token: bool,
}

/// On an empty database, creates an org and a token. With `known`, makes sure that exact token
/// exists (in the oldest org), idempotently, whether or not the database was empty.
pub async fn bootstrap(store: &dyn Store, known: Option<&str>, now: DateTime<Utc>) -> Result<Option<Bootstrap>, Error> {
    store
        .with_bootstrap_lock(|| async {
            let orgs = store.list_orgs().await?;
            let org = match orgs.first() {
                Some(o) => o.id,
                None => {
                    let id = OrgId::generate();
                    store.insert_org(id, "default", now).await?;
                    id
                }
            };
            match known {
                Some(token) if store.token_hash_exists(&hash(token)).await? => Ok(None),
                Some(token) => {
                    insert(store, org, "bootstrap", token, now).await?;
                    Ok(Some(Bootstrap { organization_id: org, minted_token: None, created_token: true }))
                }
                None if orgs.is_empty() => {
                    let (clear, _) = create(store, org, "bootstrap", now).await?;
                    Ok(Some(Bootstrap { organization_id: org, minted_token: Some(clear), created_token: true }))
                }
                None => Ok(None),
            }
        })
        .await
}

/// Verified tokens by hash, so that most requests need no database round trip for authentication.
#[derive(Default)]
pub struct TokenCache {
    entries: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    tokens: HashMap<[u8; 32], (OrgId, Instant)>,
    /// Bumped by every `clear`: a lookup that started before a revocation was seen does not cache
    /// what it read, since the revocation may have come after its read.
    generation: u64,
}

impl TokenCache {
    /// The organization of a token verified less than `CACHE_TTL` ago, with no database work.
    pub fn cached(&self, token: &str) -> Option<OrgId> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.tokens.get(&hash(token)).filter(|(_, at)| at.elapsed() < CACHE_TTL).map(|(org, _)| *org)
    }

    /// The organization of a live token, read from the database: `InvalidToken` when unknown or revoked.
    pub async fn lookup(&self, store: &dyn Store, token: &str) -> Result<OrgId, Error> {
        self.lookup_with(token, |key| async move { store.find_live_token(&key).await }).await
    }

    /// `lookup`, with `find` reading the live token of a hash.
    async fn lookup_with<F, Fut>(&self, token: &str, find: F) -> Result<OrgId, Error>
    where
        F: FnOnce([u8; 32]) -> Fut,
        Fut: Future<Output = Result<Option<TokenRecord>, Error>>,
    {
        if !is_well_formed(token) {
            return Err(Error::InvalidToken);
        }
        let key = hash(token);
        let generation = self.entries.read().unwrap_or_else(|e| e.into_inner()).generation;
        let record = find(key).await?.ok_or(Error::InvalidToken)?;
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.generation == generation {
            if entries.tokens.len() >= CACHE_CAPACITY {
                entries.tokens.clear();
            }
            entries.tokens.insert(key, (record.organization_id, Instant::now()));
        }
        Ok(record.organization_id)
    }

    /// Forgets every cached token (after a revocation anywhere), and keeps lookups under way from
    /// caching what they read.
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.tokens.clear();
        entries.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_well_formed_and_distinct() {
        let a = mint().unwrap();
        let b = mint().unwrap();
        assert!(is_well_formed(&a), "{a}");
        assert_eq!(a.len(), 4 + 40);
        assert_ne!(a, b);
    }

    #[test]
    fn shape_check() {
        assert!(is_well_formed("gat_test_token_0123456789"));
        assert!(!is_well_formed("gat_short"));
        assert!(!is_well_formed("xyz_0123456789012345678901"));
        assert!(!is_well_formed("gat_0123456789 0123456789"));
    }

    fn record(org: OrgId) -> TokenRecord {
        TokenRecord {
            id: TokenId::generate(),
            organization_id: org,
            name: String::new(),
            token_prefix: String::new(),
            created_at: Utc::now(),
            revoked_at: None,
        }
    }

    #[tokio::test]
    async fn a_lookup_overtaken_by_a_revocation_does_not_cache_what_it_read() {
        let cache = TokenCache::default();
        let org = OrgId::generate();
        let token = "gat_test_token_0123456789";
        // The token is read live; the revocation is announced before the lookup finishes.
        let found = cache
            .lookup_with(token, |_| async {
                cache.clear();
                Ok(Some(record(org)))
            })
            .await;
        assert_eq!(found.unwrap(), org, "the request that read it before the revocation is served");
        assert_eq!(cache.cached(token), None, "but the token is not cached past the revocation");
        // An undisturbed lookup caches.
        cache.lookup_with(token, |_| async { Ok(Some(record(org))) }).await.unwrap();
        assert_eq!(cache.cached(token), Some(org));
        cache.clear();
        assert_eq!(cache.cached(token), None);
    }

    #[test]
    fn hash_is_sha256() {
        let h = hash("abc");
        assert_eq!(h[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
