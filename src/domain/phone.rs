//! E.164 phone numbers, checked against real numbering plans (libphonenumber metadata).

use super::numbering;
use std::fmt;

/// A valid E.164 number, stored in its canonical `+<digits>` form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

/// Why a string is not an acceptable phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneError {
    /// Not of the form `+` followed by 8 to 15 digits.
    Format,
    /// Well formed, but not a number that the country's numbering plan assigns.
    Invalid,
}

impl PhoneError {
    /// A sentence for the API's error body.
    pub fn message(&self) -> &'static str {
        match self {
            PhoneError::Format => {
                "Value error, phone number must be in E.164 format: '+', country code and number, digits only (e.g. +14155550123)"
            }
            PhoneError::Invalid => "Value error, phone number is not a valid number for its country's numbering plan",
        }
    }
}

impl PhoneNumber {
    /// Parses a strict E.164 string (`+` and 8–15 digits, no spaces) and checks it against the numbering plan.
    pub fn parse(text: &str) -> Result<Self, PhoneError> {
        let digits = text.strip_prefix('+').ok_or(PhoneError::Format)?;
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return Err(PhoneError::Format);
        }
        if !numbering::is_valid_e164(digits) {
            return Err(PhoneError::Invalid);
        }
        Ok(Self(text.to_owned()))
    }

    /// Rebuilds a number read back from storage, where it was stored already validated.
    pub fn from_trusted(text: String) -> Self {
        Self(text)
    }

    /// The E.164 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four digits (used by the simulated telephony to pick an outcome).
    pub fn last_four(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_numbers_of_several_countries() {
        for n in [
            "+919876543210",  // India mobile (Graine's own example)
            "+14155552671",   // US
            "+447911123456",  // UK mobile
            "+33612345678",   // France mobile
            "+4915123456789", // Germany mobile
            "+61412345678",   // Australia mobile
            "+5511987654321", // Brazil mobile
        ] {
            assert_eq!(PhoneNumber::parse(n).map(|p| p.to_string()), Ok(n.to_string()), "{n}");
        }
    }

    #[test]
    fn rejects_bad_format() {
        for n in [
            "",
            "+",
            "14155552671",
            "+1 415 555 2671",
            "+1-415-555-2671",
            "+0123456789",
            "+1234567",
            "+1234567890123456",
            "+44abc",
            "tel:+14155552671",
            "++14155552671",
            " +14155552671",
        ] {
            assert_eq!(PhoneNumber::parse(n), Err(PhoneError::Format), "{n:?}");
        }
    }

    #[test]
    fn rejects_numbers_no_plan_assigns() {
        for n in [
            "+11234567890",  // US area codes never start with 1
            "+999123456789", // unassigned country code
            "+4401234567",   // UK number too short
            "+910123456789", // India number starting with 0
            "+440791112345", // trunk prefix written after the country code
        ] {
            assert_eq!(PhoneNumber::parse(n), Err(PhoneError::Invalid), "{n:?}");
        }
    }

    #[test]
    fn last_four_digits() {
        assert_eq!(PhoneNumber::parse("+14155550001").unwrap().last_four(), "0001");
    }
}
