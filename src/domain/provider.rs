//! Who placed a call (API.md §5 `provider`): the placer the server was started with.

use serde::Serialize;

/// The telephony a call went through.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Simulated,
    Http,
    Twilio,
    Jambonz,
    Livekit,
}

impl Provider {
    pub const ALL: [Provider; 5] =
        [Provider::Simulated, Provider::Http, Provider::Twilio, Provider::Jambonz, Provider::Livekit];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Simulated => "simulated",
            Provider::Http => "http",
            Provider::Twilio => "twilio",
            Provider::Jambonz => "jambonz",
            Provider::Livekit => "livekit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert_eq!(Provider::parse("twilio "), None);
    }
}
