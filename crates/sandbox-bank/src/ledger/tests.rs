//! Property test: random sequences of ledger operations keep every account equal to the sum of
//! its entries, and no payment ever takes a limited account past its limit.

use chrono::NaiveDate;
use okienko_core::Currency;
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Reserve(usize, usize, i64),
    PostNow(usize, usize, i64),
    External(usize, usize, i64),
    Visible(usize, usize, i64),
    Post(usize),
    Void(usize),
}

const KEYS: [&str; 5] = ["a", "b", "c", WORLD, "eur"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..5usize, 0..5usize, -5i64..50_000).prop_map(|(d, c, a)| Op::Reserve(d, c, a)),
        (0..5usize, 0..5usize, -5i64..50_000).prop_map(|(d, c, a)| Op::PostNow(d, c, a)),
        (0..5usize, 0..5usize, 1i64..50_000).prop_map(|(d, c, a)| Op::External(d, c, a)),
        (0..5usize, 0..5usize, -5i64..50_000).prop_map(|(d, c, a)| Op::Visible(d, c, a)),
        (0..40usize).prop_map(Op::Post),
        (0..40usize).prop_map(Op::Void),
    ]
}

fn ledger() -> Ledger {
    let mut l = Ledger::default();
    let pln = Currency::PLN;
    l.open("a", pln, Some(Decimal::ZERO)).unwrap();
    l.open("b", pln, Some(Decimal::new(10_000, 2))).unwrap();
    l.open("c", pln, Some(Decimal::ZERO)).unwrap();
    l.open(WORLD, pln, None).unwrap();
    l.open("eur", Currency::EUR, Some(Decimal::ZERO)).unwrap();
    l
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn balances_always_equal_their_entries(ops in proptest::collection::vec(op(), 1..80)) {
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut l = ledger();
        for op in ops {
            let before = l.clone();
            let res = match &op {
                Op::Reserve(d, c, a) => l.reserve(KEYS[*d], KEYS[*c], Decimal::new(*a, 2), day).map(|_| ()),
                Op::PostNow(d, c, a) => l.post_now(KEYS[*d], KEYS[*c], Decimal::new(*a, 2), day).map(|_| ()),
                Op::External(d, c, a) => l.book_external(KEYS[*d], KEYS[*c], Decimal::new(*a, 2), day).map(|_| ()),
                Op::Visible(d, c, a) => l.book_visible(KEYS[*d], KEYS[*c], Decimal::new(*a, 2), day).map(|_| ()),
                Op::Post(i) => l.post(*i as u64, day),
                Op::Void(i) => l.void(*i as u64, day),
            };
            prop_assert!(l.check().is_ok(), "{:?} after {:?}", l.check(), op);
            match res {
                // A refused operation changes nothing.
                Err(_) => prop_assert_eq!(l.transfers(), before.transfers()),
                Ok(()) => {
                    // A payment (not an external booking) never pushes a limited debit side
                    // below its limit unless it already was below (then it could not pass).
                    if let Op::Reserve(d, _, _) | Op::PostNow(d, _, _) | Op::Visible(d, _, _) = op {
                        let acc = l.account(KEYS[d]).unwrap();
                        if let Some(limit) = acc.overdraft_limit {
                            prop_assert!(acc.available() >= -limit);
                        }
                    }
                    // Posting or voiding never lowers what is available below the old value
                    // minus nothing: posting moves pending to posted one for one.
                    if let Op::Post(i) | Op::Void(i) = op {
                        let t = l.transfer(i as u64).unwrap();
                        let (old, new) = (before.account(&t.debit).unwrap(), l.account(&t.debit).unwrap());
                        prop_assert!(new.available() >= old.available());
                    }
                }
            }
        }
    }
}

#[test]
fn two_phase_transfer_moves_money_once() {
    let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let mut l = ledger();
    l.book_external(WORLD, "a", Decimal::new(10000, 2), day)
        .unwrap();
    let t = l.reserve("a", "c", Decimal::new(6000, 2), day).unwrap();
    assert_eq!(l.account("a").unwrap().available(), Decimal::new(4000, 2));
    assert_eq!(
        l.reserve("a", "c", Decimal::new(6000, 2), day),
        Err(LedgerError::InsufficientFunds)
    );
    l.post(t, day).unwrap();
    assert_eq!(l.post(t, day), Err(LedgerError::NotPending));
    assert_eq!(l.void(t, day), Err(LedgerError::NotPending));
    assert_eq!(l.account("c").unwrap().posted(), Decimal::new(6000, 2));
    let v = l.reserve("a", "c", Decimal::new(4000, 2), day).unwrap();
    l.void(v, day).unwrap();
    assert_eq!(l.account("a").unwrap().available(), Decimal::new(4000, 2));
    assert_eq!(
        l.reserve("a", "eur", Decimal::ONE, day),
        Err(LedgerError::CurrencyMismatch)
    );
    l.check().unwrap();
}
