//! How an engine implements the contract: one macro, so that an engine lists nothing and the
//! methods are named once (in the lists of `contract/mod.rs`).

/// Implements the contract for an engine: `implement_contract!("postgres")` in the module that
/// defines its `Store`, `Tx<'c>` and `TokenEvents`, whose inherent methods carry the listed names
/// (with `begin`, `close`, `token_events` and `with_bootstrap_lock` for the trait's own items).
macro_rules! implement_contract {
    ($kind:literal) => {
        $crate::store::contract::store_methods!(implement_contract!(Store $kind));
        $crate::store::contract::tx_methods!(implement_contract!(Tx));
        #[async_trait::async_trait]
        impl $crate::store::contract::TokenEvents for TokenEvents {
            async fn next(&mut self) -> Result<(), $crate::error::Error> {
                TokenEvents::next(self).await
            }
        }
    };
    ((Store $kind:literal) $( $(#[$doc:meta])* fn $name:ident($($arg:ident: $argty:ty),*) -> $ret:ty; )*) => {
        const _: () = {
            #[allow(unused_imports)]
            use $crate::store::contract::types::*;
            #[async_trait::async_trait]
            impl $crate::store::contract::Store for Store {
                fn kind(&self) -> &'static str {
                    $kind
                }

                fn as_any(&self) -> &dyn std::any::Any {
                    self
                }

                async fn begin(&self) -> Result<Box<dyn $crate::store::contract::Tx>, Error> {
                    Ok(Box::new(Store::begin(self).await?))
                }

                async fn close(&self) {
                    Store::close(self).await
                }

                async fn token_events(&self) -> Result<Box<dyn $crate::store::contract::TokenEvents>, Error> {
                    Ok(Box::new(Store::token_events(self).await?))
                }

                async fn bootstrap_locked(&self, work: $crate::store::contract::LockedWork<'_>) -> Result<(), Error> {
                    Store::with_bootstrap_lock(self, || work).await
                }

                $( async fn $name(&self, $($arg: $argty),*) -> Result<$ret, Error> {
                    Store::$name(self, $($arg),*).await
                } )*
            }
        };
    };
    ((Tx) $( $(#[$doc:meta])* fn $name:ident($($arg:ident: $argty:ty),*) -> $ret:ty; )*) => {
        const _: () = {
            #[allow(unused_imports)]
            use $crate::store::contract::types::*;
            #[async_trait::async_trait]
            impl $crate::store::contract::Tx for Tx<'static> {
                async fn commit(self: Box<Self>) -> Result<(), Error> {
                    Tx::commit(*self).await
                }

                async fn rollback(self: Box<Self>) -> Result<(), Error> {
                    Tx::rollback(*self).await
                }

                $( async fn $name(&mut self, $($arg: $argty),*) -> Result<$ret, Error> {
                    Tx::$name(self, $($arg),*).await
                } )*
            }
        };
    };
}
pub(crate) use implement_contract;
