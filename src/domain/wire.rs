//! What the domain's types share on the wire: enums written as their snake_case names, and the
//! refusal of a forbidden action.

/// An enum whose values travel as fixed strings: `parse`, `as_str`, serde both ways, every value.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum $name { $($variant),+ }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown value '{text}'")))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire (and storage) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The accepted spellings, quoted and comma separated, for error messages.
            pub fn expected() -> String {
                let all: Vec<String> = Self::ALL.iter().map(|v| format!("'{}'", v.as_str())).collect();
                all.join(", ")
            }
        }
    };
}
pub(crate) use wire_enum;

/// A forbidden action, with the sentence the API answers with `409`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Forbidden(pub String);
