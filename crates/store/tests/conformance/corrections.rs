//! A customer's own category corrections (`category_corrections`, migration 0008).

use super::{Ctx, setup, t};

const MERCHANT: &str = "qqzabkamerchantzz";

/// Set, replaced per merchant, kept per customer, sealed at rest, bad input refused.
pub async fn category_corrections_are_per_customer_sealed_and_replaced(ctx: &Ctx) {
    let s = &ctx.store;
    let (anna, _, _) = setup(s).await;
    let (john, _, _) = setup(s).await;
    assert!(s.category_corrections(anna).await.unwrap().is_empty());
    s.set_category_correction(anna, MERCHANT, "groceries", t("2026-03-01T10:00:00Z"))
        .await
        .unwrap();
    s.set_category_correction(anna, "orlen", "groceries", t("2026-03-01T10:01:00Z"))
        .await
        .unwrap();
    // The same merchant again replaces the earlier correction.
    s.set_category_correction(anna, MERCHANT, "shopping", t("2026-03-01T10:02:00Z"))
        .await
        .unwrap();
    let mine = s.category_corrections(anna).await.unwrap();
    let pairs: Vec<(&str, &str)> = mine
        .iter()
        .map(|c| (c.merchant.as_str(), c.category.as_str()))
        .collect();
    assert_eq!(pairs, vec![("orlen", "groceries"), (MERCHANT, "shopping")]);
    assert_eq!(mine[1].updated_at, t("2026-03-01T10:02:00Z"));
    // Another customer sees nothing of it.
    assert!(s.category_corrections(john).await.unwrap().is_empty());
    // Nothing of the merchant in plaintext.
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM category_corrections WHERE customer_id = $1",
            &anna.to_string()
        )
        .await,
        2
    );
    if let Some(f) = &ctx.db_file {
        let raw = std::fs::read(f).unwrap_or_default();
        let wal = std::fs::read(f.with_extension("sqlite-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(
                !bytes
                    .windows(MERCHANT.len())
                    .any(|w| w == MERCHANT.as_bytes())
            );
        }
    }
    // Bad input is refused and changes nothing.
    for (m, c) in [
        ("", "groceries"),
        ("x", ""),
        ("a\u{0}b", "groceries"),
        ("x", "a\nb"),
    ] {
        assert!(
            s.set_category_correction(anna, m, c, t("2026-03-01T11:00:00Z"))
                .await
                .is_err()
        );
    }
    let long = "m".repeat(201);
    assert!(
        s.set_category_correction(anna, &long, "groceries", t("2026-03-01T11:00:00Z"))
            .await
            .is_err()
    );
    assert_eq!(s.category_corrections(anna).await.unwrap().len(), 2);
    // Forgetting one.
    assert!(s.delete_category_correction(anna, "orlen").await.unwrap());
    assert!(!s.delete_category_correction(anna, "orlen").await.unwrap());
    assert!(!s.delete_category_correction(john, MERCHANT).await.unwrap());
    assert_eq!(s.category_corrections(anna).await.unwrap().len(), 1);
}

/// Erasing the customer's data deletes their corrections (and only theirs).
pub async fn erase_deletes_category_corrections(ctx: &Ctx) {
    let s = &ctx.store;
    let (anna, _, _) = setup(s).await;
    let (john, _, _) = setup(s).await;
    for c in [anna, john] {
        s.set_category_correction(c, MERCHANT, "groceries", t("2026-03-01T10:00:00Z"))
            .await
            .unwrap();
    }
    s.delete_customer_financial_data(anna).await.unwrap();
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM category_corrections WHERE customer_id = $1",
            &anna.to_string()
        )
        .await,
        0
    );
    assert!(s.category_corrections(anna).await.unwrap().is_empty());
    assert_eq!(s.category_corrections(john).await.unwrap().len(), 1);
}
