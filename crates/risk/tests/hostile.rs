//! Hostile and malformed input to the CSV reader and the benchmark: clear errors, no panics,
//! and no values echoed in error messages.

use std::io::Write;

use okienko_risk::sparkov::{read_sparkov, read_sparkov_file};

const HEADER: &str =
    "tx_id,customer_id,unix_time,ts_utc,category,amt,merchant,merch_lat,merch_long,is_fraud\n";

fn err(body: &str) -> String {
    read_sparkov(format!("{HEADER}{body}").as_bytes())
        .unwrap_err()
        .to_string()
}

#[test]
fn good_rows_parse() {
    let rows = read_sparkov(
        format!("{HEADER}0,5,1672531226,x,shopping_net,174.18,Kozey,38.2,-90.4,0\n1,5,1672531200,x,grocery_pos,1.00,Swift,38.2,-90.4,1\n")
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].is_fraud, "sorted by time");
    assert_eq!(rows[1].tx.card_present, Some(false));
    assert_eq!(rows[1].tx.amount.to_string(), "174.18");
}

#[test]
fn bad_rows_are_clear_errors_without_values() {
    let cases = [
        (
            "0,5,1672531226,x,shopping_net,12abc34,K,38.2,-90.4,0\n",
            "row 1: column amt is not a decimal number",
        ),
        (
            "0,5,1672531226,x,shopping_net,-5.00,K,38.2,-90.4,0\n",
            "column amt is negative",
        ),
        (
            "0,5,1672531226,x,shopping_net,,K,38.2,-90.4,0\n",
            "column amt is empty",
        ),
        (
            "0,5,1672531226,x,shopping_net,NaN,K,38.2,-90.4,0\n",
            "column amt is not a decimal number",
        ),
        (
            "0,5,1672531226,x,shopping_net,1e400,K,38.2,-90.4,0\n",
            "column amt is not a decimal number",
        ),
        (
            "0,five,1672531226,x,a,1.00,K,38.2,-90.4,0\n",
            "customer_id is not a whole number",
        ),
        (
            "0,5,99999999999999999,x,a,1.00,K,38.2,-90.4,0\n",
            "unix_time is out of range",
        ),
        (
            "0,5,1672531226,x,a,1.00,K,inf,-90.4,0\n",
            "merch_lat is not a number",
        ),
        (
            "0,5,1672531226,x,a,1.00,K,95.0,-90.4,0\n",
            "coordinates out of range",
        ),
        (
            "0,5,1672531226,x,a,1.00,K,38.2,-90.4,yes\n",
            "is_fraud is not 0 or 1",
        ),
        ("0,5,1672531226,x,a,1.00,K,38.2\n", "wrong number of fields"),
        (
            "0,5,1672531226,x,a,1.00,,38.2,-90.4,0\n",
            "column merchant is empty",
        ),
    ];
    for (row, want) in cases {
        let e = err(row);
        assert!(e.contains(want), "{row:?}: got {e:?}, want {want:?}");
        assert!(
            !e.contains("12abc34") && !e.contains("1e400"),
            "no values in errors: {e}"
        );
    }
    let e = read_sparkov("customer_id,amt\n1,2\n".as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("lacks column `unix_time`"), "{e}");
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"0,5,1672531226,x,\xff\xfe,1.00,K,38.2,-90.4,0\n");
    assert!(read_sparkov(bytes.as_slice()).is_err());
    assert!(read_sparkov(&b""[..]).unwrap_or_default().is_empty());
}

#[test]
fn broken_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("t.csv.gz");
    std::fs::File::create(&gz)
        .unwrap()
        .write_all(b"this is not gzip")
        .unwrap();
    let e = read_sparkov_file(&gz).unwrap_err().to_string();
    assert!(e.contains("could not be read"), "{e}");
    let missing = dir.path().join("nope.csv.gz");
    assert!(
        read_sparkov_file(&missing)
            .unwrap_err()
            .to_string()
            .contains("cannot read")
    );

    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, HEADER).unwrap();
    let e = okienko_risk::bench_sparkov(&empty, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no transactions"), "{e}");
}
