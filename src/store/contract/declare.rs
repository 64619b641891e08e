//! The macro that turns a list of contract methods into a trait of `async fn`s.

/// Declares a contract trait: its own items, then one `async fn` per listed method, taking `&self`
/// (`shared`) or `&mut self` (`exclusive`).
macro_rules! declare {
    (($(#[$attr:meta])* $trait:ident: $($bound:ident)+, shared, { $($own:tt)* })
     $( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {
        $(#[$attr])*
        #[async_trait::async_trait]
        pub trait $trait: $($bound +)* 'static {
            $($own)*
            $( $(#[$doc])* async fn $name(&self, $($arg: $ty),*) -> Result<$ret, Error>; )*
        }
    };
    (($(#[$attr:meta])* $trait:ident: $($bound:ident)+, exclusive, { $($own:tt)* })
     $( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {
        $(#[$attr])*
        #[async_trait::async_trait]
        pub trait $trait: $($bound +)* 'static {
            $($own)*
            $( $(#[$doc])* async fn $name(&mut self, $($arg: $ty),*) -> Result<$ret, Error>; )*
        }
    };
}
pub(super) use declare;
