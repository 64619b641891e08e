//! The executed-docs matcher can fail: each placeholder accepts what it stands for and nothing else.

use super::expect::{Bindings, expected, got, matches, split_status};

fn check(shown: &str, printed: &str) -> Result<(), String> {
    let mut b = Bindings::default();
    matches(&expected(shown)?, &got(printed), &mut b)
}

#[test]
fn values_are_compared_as_json_whatever_the_layout_and_key_order() {
    let shown = "{\"status\":\"active\",\n \"counters\": {\"pending\": 3, \"completed\": 0}}";
    assert_eq!(check(shown, r#"{"counters":{"completed":0,"pending":3},"status":"active"}"#), Ok(()));
    let wrong = check(shown, r#"{"counters":{"completed":0,"pending":2},"status":"active"}"#).unwrap_err();
    assert!(wrong.contains("$.counters.pending"), "{wrong}");
    let extra = check(shown, r#"{"counters":{"completed":0,"pending":3},"status":"active","x":1}"#).unwrap_err();
    assert!(extra.contains("`x`"), "{extra}");
    assert!(check(shown, r#"{"counters":{"completed":0},"status":"active"}"#).is_err(), "a missing key");
    assert!(check("{\"rate\": 0.3}", r#"{"rate":0.30000001}"#).is_err(), "numbers exactly");
    assert!(check("{\"a\": null}", r#"{"a":0}"#).is_err());
}

#[test]
fn the_ellipsis_elides_members_elements_text_and_lines_and_nothing_more() {
    assert_eq!(check(r#"{"name":"Win-back",…}"#, r#"{"name":"Win-back","status":"draft"}"#), Ok(()));
    assert!(check(r#"{"name":"Win-back",…}"#, r#"{"name":"Other","status":"draft"}"#).is_err());
    assert_eq!(check(r#"{"a":1,"…":"the rest likewise"}"#, r#"{"a":1,"b":2}"#), Ok(()));
    assert_eq!(check(r#"[1,…,4]"#, "[1,2,3,4]"), Ok(()));
    assert!(check(r#"[1,…,4]"#, "[1,2,3,5]").is_err());
    assert!(check("[1,2]", "[1,2,3]").is_err(), "arrays are whole unless elided");
    assert_eq!(check(r#"{"message":"no callee_name; …"}"#, r#"{"message":"no callee_name; the agent…"}"#), Ok(()));
    assert!(check(r#"{"message":"no callee_name; …"}"#, r#"{"message":"callee_name"}"#).is_err());
    assert_eq!(check("HTTP/1.1 200 OK\n…\n[]", "HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\n\r\n[]"), Ok(()));
    assert!(check("HTTP/1.1 200 OK\n[]", "HTTP/1.1 200 OK\r\na: 1\r\n\r\n[]").is_err(), "lines are whole");
    assert!(check("{\"a\":1}", "{\"a\":1}{\"a\":1}").is_err(), "more output than shown");
    assert!(check("{\"a\":1}\n{\"a\":1}", "{\"a\":1}").is_err(), "less output than shown");
}

#[test]
fn an_id_stands_for_one_real_id_across_a_page_and_request_ids_match_by_shape() {
    let (cmp_a, cmp_b) = ("cmp_01m8hhax60ebc9s5cy2fhcge13", "cmp_01m8hhax9ze09r23n62yjee36h");
    let (real_a, real_b) = ("cmp_01m91ah5vqe8kr0ncn6h0p7qsn", "cmp_01m91ah5z1e71vmgn3bed1cr21");
    let mut b = Bindings::default();
    let once = |b: &mut Bindings, shown: &str, printed: &str| matches(&expected(shown).unwrap(), &got(printed), b);
    assert_eq!(once(&mut b, &format!(r#"{{"id":"{cmp_a}"}}"#), &format!(r#"{{"id":"{real_a}"}}"#)), Ok(()));
    assert_eq!(once(&mut b, &format!(r#"["{cmp_a}"]"#), &format!(r#"["{real_a}"]"#)), Ok(()));
    assert!(once(&mut b, &format!(r#"["{cmp_a}"]"#), &format!(r#"["{real_b}"]"#)).is_err(), "rebound");
    assert!(once(&mut b, &format!(r#"["{cmp_b}"]"#), &format!(r#"["{real_a}"]"#)).is_err(), "two names");
    assert!(once(&mut b, r#"["btc_01m8hhax60ebc9s5cy2fhcge13"]"#, &format!(r#"["{real_b}"]"#)).is_err(), "kind");
    let rid = "x-request-id: 01a22315750572cea34b357b20a7565b";
    assert_eq!(check(rid, "x-request-id: 01a242a883f8719684141c3b575d6b0e"), Ok(()));
    assert!(check(rid, "x-request-id: my-own-id").is_err());
    assert!(check(r#"{"at":"2026-11-30T10:00:00Z"}"#, r#"{"at":"2026-11-30T10:00:01Z"}"#).is_err(), "times exactly");
}

#[test]
fn a_shown_status_comes_first_and_a_bare_number_is_output() {
    assert_eq!(split_status("409 {\"detail\":\"x\"}"), (Some(409), "{\"detail\":\"x\"}"));
    assert_eq!(split_status("120").0, None);
    assert_eq!(split_status("HTTP/1.1 200 OK").0, None);
    assert_eq!(split_status("graine_calls_in_flight 0").0, None);
}
