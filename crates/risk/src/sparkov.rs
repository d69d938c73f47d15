//! Reader for the Sparkov transaction CSV (optionally gzip-compressed), with the columns
//! `customer_id, unix_time, category, amt, merchant, merch_lat, merch_long, is_fraud` found by
//! name. Every bad row is a clear error naming the row and column, never the value.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use chrono::DateTime;
use flate2::read::MultiGzDecoder;
use rust_decimal::Decimal;

use crate::engine::LabelledTx;
use crate::error::RiskError;
use crate::tx::{GeoPoint, Tx};

/// Opens `path`, decompressing when it ends in `.gz`.
pub fn read_sparkov_file(path: &Path) -> Result<Vec<LabelledTx<u64>>, RiskError> {
    let file = File::open(path).map_err(|source| RiskError::Io {
        what: "transactions file",
        source,
    })?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    read_sparkov(reader)
}

/// Parses Sparkov rows from any reader. Rows must be in time order per customer; the stream
/// as a whole is sorted by time here (stable), as the file already is.
pub fn read_sparkov<R: Read>(reader: R) -> Result<Vec<LabelledTx<u64>>, RiskError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let headers = rdr.byte_headers().map_err(|e| csv_err(0, e))?.clone();
    let col = |name: &'static str| {
        headers
            .iter()
            .position(|h| h == name.as_bytes())
            .ok_or(RiskError::MissingColumn(name))
    };
    let c_cust = col("customer_id")?;
    let c_time = col("unix_time")?;
    let c_cat = col("category")?;
    let c_amt = col("amt")?;
    let c_merch = col("merchant")?;
    let c_lat = col("merch_lat").ok();
    let c_long = col("merch_long").ok();
    let c_fraud = col("is_fraud")?;

    let mut out = Vec::new();
    let mut rec = csv::ByteRecord::new();
    let mut row: u64 = 0;
    loop {
        row += 1;
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(row, e)),
        }
        let field = |c: usize, name: &str| -> Result<&str, RiskError> {
            let b = rec
                .get(c)
                .ok_or_else(|| RiskError::bad_row(row, format!("missing column {name}")))?;
            let s = std::str::from_utf8(b)
                .map_err(|_| RiskError::bad_row(row, format!("column {name} is not UTF-8")))?
                .trim();
            if s.is_empty() {
                return Err(RiskError::bad_row(row, format!("column {name} is empty")));
            }
            Ok(s)
        };
        let num = |c: usize, name: &str| -> Result<f64, RiskError> {
            field(c, name)?
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| RiskError::bad_row(row, format!("column {name} is not a number")))
        };
        let customer = field(c_cust, "customer_id")?
            .parse::<u64>()
            .map_err(|_| RiskError::bad_row(row, "column customer_id is not a whole number"))?;
        let secs = field(c_time, "unix_time")?
            .parse::<i64>()
            .map_err(|_| RiskError::bad_row(row, "column unix_time is not a whole number"))?;
        let ts = DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| RiskError::bad_row(row, "column unix_time is out of range"))?;
        let amount = Decimal::from_str(field(c_amt, "amt")?)
            .map_err(|_| RiskError::bad_row(row, "column amt is not a decimal number"))?;
        if amount.is_sign_negative() {
            return Err(RiskError::bad_row(row, "column amt is negative"));
        }
        let category = field(c_cat, "category")?.to_string();
        let merchant = field(c_merch, "merchant")?.to_string();
        let location = match (c_lat, c_long) {
            (Some(a), Some(b)) => Some(
                GeoPoint::new(num(a, "merch_lat")?, num(b, "merch_long")?)
                    .map_err(|_| RiskError::bad_row(row, "coordinates out of range"))?,
            ),
            _ => None,
        };
        let is_fraud = match field(c_fraud, "is_fraud")? {
            "0" => false,
            "1" => true,
            _ => return Err(RiskError::bad_row(row, "column is_fraud is not 0 or 1")),
        };
        // Sparkov's `*_net` categories are online purchases: card not present.
        let card_present = Some(!category.ends_with("_net"));
        let mut tx = Tx::new(ts, amount);
        tx.category = Some(category);
        tx.merchant = Some(merchant);
        tx.location = location;
        tx.card_present = card_present;
        out.push(LabelledTx {
            customer,
            tx,
            is_fraud,
        });
    }
    out.sort_by_key(|r| r.tx.ts);
    Ok(out)
}

fn csv_err(row: u64, e: csv::Error) -> RiskError {
    match e.kind() {
        csv::ErrorKind::Io(_) => {
            RiskError::bad_row(row, "the file could not be read (truncated or not gzip?)")
        }
        csv::ErrorKind::UnequalLengths { .. } => RiskError::bad_row(row, "wrong number of fields"),
        csv::ErrorKind::Utf8 { .. } => RiskError::bad_row(row, "not UTF-8"),
        _ => RiskError::bad_row(row, "malformed CSV"),
    }
}
