//! Numbering plans (libphonenumber's metadata) compiled once into plain regexes, answering for strict
//! E.164 text exactly what `phonenumber::parse` + `is_valid` + the canonical form answer, without the
//! library's global regex cache (one lock and a hash of every pattern's text on each use).
//!
//! The decision, for `+<digits>`: the country code is the first 1–3 digit prefix that has a plan; the
//! rest `R` must be what the library's parser keeps as the national number (it would strip a national
//! prefix written after the country code, which changes the canonical form); and `R` must match the
//! general pattern and one number type of the region its leading digits select. A test checks this
//! against the library on a large sample of numbers of every country code.

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

/// One pattern with the lengths it allows, matched as the library matches it: at the start.
struct Pattern {
    lengths: Vec<u16>,
    re: Regex,
}

impl Pattern {
    fn new(d: &Descriptor) -> Self {
        Self { lengths: d.possible_length().to_vec(), re: compile(d.national_number().as_str()) }
    }

    fn is_match(&self, value: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(value.len() as u16)))
            && self.re.find(value).is_some_and(|m| m.start() == 0)
    }
}

fn compile(source: &str) -> Regex {
    // The library's own patterns, built with the library's own flags: they always compile. They run
    // on ASCII digits only, so `\d` needs no Unicode tables: with them, country code 1's 25 regions
    // alone took 20 MB once compiled.
    RegexBuilder::new(source).ignore_whitespace(true).unicode(false).build().expect("numbering-plan pattern")
}

/// One region's plan.
struct Region {
    leading_digits: Option<Regex>,
    general: Pattern,
    general_local_lengths: Vec<u16>,
    /// Every number type the library recognises (any match makes a number valid).
    types: Vec<Pattern>,
    national_prefix: Option<String>,
    prefix_for_parsing: Option<Regex>,
    transform_rule: Option<String>,
}

impl Region {
    fn new(m: &Metadata) -> Self {
        let d = m.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ];
        Self {
            leading_digits: m.leading_digits().map(|r| compile(r.as_str())),
            general: Pattern::new(d.general()),
            general_local_lengths: d.general().possible_local_length().to_vec(),
            types: types.into_iter().flatten().map(Pattern::new).collect(),
            national_prefix: m.national_prefix().map(str::to_owned),
            prefix_for_parsing: m.national_prefix_for_parsing().map(|r| compile(r.as_str())),
            transform_rule: m.national_prefix_transform_rule().map(str::to_owned),
        }
    }

    /// Whether the number is of a known type here (the library's `number_type` is not `Unknown`).
    fn has_type(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
    }

    /// Whether the library's length check calls this national number too short.
    fn too_short(&self, national: &str) -> bool {
        let len = national.len() as u16;
        self.general.lengths.first().is_some_and(|min| len < *min && !self.general_local_lengths.contains(&len))
    }

    /// The national number the library's parser keeps: with a national prefix (and carrier code) taken
    /// off where the plan says so, unless that leaves it too short.
    fn parsed_national(&self, national: &str) -> String {
        let mut kept = national.to_owned();
        match &self.prefix_for_parsing {
            None => kept = self.strip_national_prefix(kept),
            Some(re) => {
                if let Some(m) = re.find(&kept).filter(|m| m.start() == 0) {
                    let end = m.end();
                    let viable = self.general.is_match(&kept);
                    let caps = re.captures(&kept).expect("a pattern that found a match captures it");
                    let last_group = caps.get(caps.len() - 1).is_some();
                    match &self.transform_rule {
                        Some(rule) if last_group => {
                            let transformed = re.replace(&kept, rule.as_str()).into_owned();
                            if !viable || self.general.is_match(&transformed) {
                                kept = transformed;
                            }
                        }
                        _ => {
                            if !viable || self.general.is_match(&kept) {
                                kept = kept[end..].to_owned();
                            }
                        }
                    }
                }
            }
        }
        let kept = self.strip_national_prefix(kept);
        if self.too_short(&kept) { national.to_owned() } else { kept }
    }

    fn strip_national_prefix(&self, national: String) -> String {
        match &self.national_prefix {
            Some(p) if national.starts_with(p.as_str()) => national[p.len()..].to_owned(),
            _ => national,
        }
    }
}

/// The regions sharing one country code, in the order the library tries them.
struct CountryCode {
    regions: Vec<Region>,
}

impl CountryCode {
    fn load(code: u16) -> Self {
        let ids = DATABASE.region(&code).unwrap_or_default();
        let regions = if ids.len() == 1 && ids[0] == "001" {
            DATABASE.by_code(&code).and_then(|m| m.first().map(|m| Region::new(m))).into_iter().collect()
        } else {
            ids.iter()
                .filter(|id| id.parse::<phonenumber::country::Id>().is_ok())
                .filter_map(|id| DATABASE.by_id(*id))
                .map(Region::new)
                .collect()
        };
        Self { regions }
    }

    /// The region whose plan applies to this national number (the library's `source_for`).
    fn region_for(&self, national: &str) -> Option<&Region> {
        if self.regions.len() == 1 {
            return self.regions.first();
        }
        self.regions.iter().find(|r| match &r.leading_digits {
            Some(re) => re.find(national).is_some_and(|m| m.start() == 0),
            None => r.has_type(national),
        })
    }
}

/// Every country code, compiled on first use.
static CODES: LazyLock<HashMap<u16, OnceLock<CountryCode>>> =
    LazyLock::new(|| (1..=999).filter(|c| DATABASE.by_code(c).is_some()).map(|c| (c, OnceLock::new())).collect());

fn country_code(code: u16) -> Option<&'static CountryCode> {
    CODES.get(&code).map(|cell| cell.get_or_init(|| CountryCode::load(code)))
}

/// Whether `digits` (an E.164 number without its `+`: 8–15 digits, not starting with 0) is a valid
/// number in its canonical form.
pub fn is_valid_e164(digits: &str) -> bool {
    let Some((plan, national)) = (1..=3).find_map(|len| {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        country_code(code).map(|plan| (plan, &digits[len..]))
    }) else {
        return false;
    };
    // The parser picks the region ignoring leading zeros, and may strip a national prefix there:
    // then the canonical form would differ from the text.
    if let Some(region) = plan.region_for(national.trim_start_matches('0'))
        && region.parsed_national(national) != national
    {
        return false;
    }
    if !(2..=17).contains(&national.len()) || national.bytes().all(|b| b == b'0') {
        return false;
    }
    plan.region_for(national).is_some_and(|r| r.has_type(national))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the library itself says: parse, validity, and the canonical form equal to the text.
    fn library(text: &str) -> bool {
        phonenumber::parse(None, text)
            .is_ok_and(|p| phonenumber::is_valid(&p) && p.format().mode(phonenumber::Mode::E164).to_string() == text)
    }

    /// Numbers near every plan's own examples: as given, with digits changed, cut, lengthened, and
    /// with a national prefix written after the country code; plus random digits after each code.
    #[test]
    fn agrees_with_the_library_on_every_country_code() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut samples = Vec::new();
        let plans = (1..=999u16).filter_map(|c| DATABASE.by_code(&c)).flatten();
        for meta in plans {
            let code = meta.country_code().to_string();
            let d = meta.descriptors();
            let examples = [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ];
            for example in examples.into_iter().flatten().filter_map(Descriptor::example) {
                samples.push(format!("{code}{example}"));
                if let Some(prefix) = meta.national_prefix() {
                    samples.push(format!("{code}{prefix}{example}"));
                }
                for _ in 0..12 {
                    let mut digits: Vec<u8> = example.bytes().collect();
                    match next() % 4 {
                        0 => {
                            let i = (next() % digits.len() as u64) as usize;
                            digits[i] = b'0' + (next() % 10) as u8;
                        }
                        1 => {
                            digits.pop();
                        }
                        2 => digits.push(b'0' + (next() % 10) as u8),
                        _ => {
                            let keep = 1 + (next() % digits.len() as u64) as usize;
                            digits.truncate(keep);
                            while digits.len() < example.len() {
                                digits.push(b'0' + (next() % 10) as u8);
                            }
                        }
                    }
                    samples.push(format!("{code}{}", String::from_utf8(digits).unwrap()));
                }
            }
            for _ in 0..40 {
                let len = 8 + (next() % 8) as usize;
                let mut s = code.clone();
                while s.len() < len {
                    s.push((b'0' + (next() % 10) as u8) as char);
                }
                samples.push(s);
            }
        }
        let mut checked = 0;
        let mut valid = 0;
        for digits in samples {
            let strict = (8..=15).contains(&digits.len()) && !digits.starts_with('0');
            if !strict {
                continue;
            }
            let text = format!("+{digits}");
            let expected = library(&text);
            assert_eq!(is_valid_e164(&digits), expected, "{text}");
            checked += 1;
            valid += usize::from(expected);
        }
        assert!(checked > 20_000 && valid > 3_000, "{checked} numbers checked, {valid} valid");
    }
}
