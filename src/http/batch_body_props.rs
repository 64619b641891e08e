//! Property tests of the CSV upload: whatever bytes arrive, the form gives contacts or a 422, never a
//! panic, and well-formed files keep every row, in order.

use super::batch_body::from_form;
use crate::error::Error;
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases) }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn any_bytes_give_contacts_or_a_422(csv in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        "[a-z_,\"\n\r +0-9]{0,300}".prop_map(String::into_bytes),
        "(\u{feff})?phone_number,name\n([+0-9]{0,16},[a-zA-Z\" ]{0,8}\n){0,20}".prop_map(String::into_bytes),
    ]) {
        match from_form(vec![("campaign_id".into(), "cmp_x".into())], Some(csv)) {
            Ok((_, contacts)) => prop_assert!(contacts.count().is_some()),
            Err(e) => prop_assert!(matches!(e, Error::Validation(_)), "{e:?}"),
        }
    }

    #[test]
    fn every_row_of_a_well_formed_file_is_kept_in_order(
        rows in proptest::collection::vec(("[0-9]{10}", "[a-zA-Z]{0,12}", "[a-z0-9 ]{0,12}"), 1..50),
    ) {
        let mut csv = String::from("Phone,callee_name,note\n");
        for (phone, name, note) in &rows {
            csv.push_str(&format!("+1{phone},{name},\"{note}\"\n"));
        }
        let (_, contacts) = from_form(Vec::new(), Some(csv.into_bytes())).unwrap();
        prop_assert_eq!(contacts.count(), Some(rows.len()));
        let contacts: Vec<serde_json::Value> = contacts.into_items().collect();
        prop_assert_eq!(contacts.len(), rows.len());
        for (contact, (phone, name, note)) in contacts.iter().zip(&rows) {
            prop_assert_eq!(contact["phone_number"].as_str().unwrap(), format!("+1{phone}"));
            let vars = contact["call_variables"].as_object().unwrap();
            prop_assert_eq!(vars.get("callee_name").and_then(|v| v.as_str()), (!name.is_empty()).then_some(name.as_str()));
            prop_assert_eq!(vars.get("note").and_then(|v| v.as_str()), (!note.trim().is_empty()).then_some(note.trim()));
        }
    }
}
