//! Consents as the bank keeps them: what the TPP asked for, what the PSU granted at SCA, the
//! status machine (received → valid | rejected; valid → expired | revokedByPsu | terminatedByTpp),
//! SCA authorisation resources, and the per-day usage counter behind `frequencyPerDay`.

use std::collections::HashMap;

use chrono::NaiveDate;
use okienko_core::{ConsentStatus, Iban};
use serde_json::{Value, json};

use crate::data::Customer;
use crate::error::ApiError;

/// Longest validity the bank grants (PSD2 RTS Art. 10a re-authentication).
pub const MAX_VALIDITY_DAYS: u64 = 180;
/// Most unattended accesses a day the bank allows.
pub const MAX_FREQUENCY: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approach {
    OAuth,
    Decoupled,
}

/// The `access` object, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Named accounts (by IBAN) per kind of access.
    Explicit {
        accounts: Vec<Iban>,
        balances: Vec<Iban>,
        transactions: Vec<Iban>,
    },
    /// Empty arrays: the PSU picks at the bank (this sandbox grants all their accounts).
    BankOffered { balances: bool, transactions: bool },
    /// `allPsd2`: everything on every account.
    AllPsd2,
    /// `availableAccounts[WithBalance]`: the account list only (optionally with balances).
    Available { with_balance: bool },
}

/// What the PSU granted on one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub resource_id: String,
    pub iban: Iban,
    pub currency: String,
    pub name: String,
    pub balances: bool,
    pub transactions: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaStatus {
    Received,
    Started,
    Finalised,
    Failed,
}

impl ScaStatus {
    pub fn wire(self) -> &'static str {
        match self {
            ScaStatus::Received => "received",
            ScaStatus::Started => "started",
            ScaStatus::Finalised => "finalised",
            ScaStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Consent {
    pub id: String,
    pub access: Access,
    pub recurring: bool,
    pub valid_until: NaiveDate,
    pub frequency: u32,
    pub status: ConsentStatus,
    pub approach: Approach,
    /// The PSU named by the TPP (PSU-ID header), for decoupled SCA.
    pub psu_hint: Option<String>,
    /// The PSU who authorised it.
    pub psu_id: Option<String>,
    pub grants: Vec<Grant>,
    pub authorisations: Vec<(String, ScaStatus)>,
    pub last_action: NaiveDate,
    /// (account or "list", endpoint, day) → unattended calls.
    pub usage: HashMap<(String, &'static str, NaiveDate), u32>,
    /// `TPP-Notification-URI` from the creation request, when this bank sends notifications:
    /// where new transactions on the consent's accounts are announced (sandbox extension).
    pub notification_uri: Option<String>,
}

impl Consent {
    /// Moves a consent past its `validUntil` to `expired`; returns the current status.
    pub fn refresh_status(&mut self, today: NaiveDate) -> ConsentStatus {
        if today > self.valid_until && !self.status.is_final() {
            self.status = ConsentStatus::Expired;
        }
        self.status
    }

    pub fn set_sca(&mut self, to: ScaStatus) {
        for (_, s) in self.authorisations.iter_mut() {
            if matches!(s, ScaStatus::Received | ScaStatus::Started) {
                *s = to;
            }
        }
    }

    /// Decides, at SCA, which of the PSU's accounts this consent covers. Fails when the TPP
    /// named accounts the PSU does not hold.
    pub fn resolve_grants(&self, customer: &Customer) -> Result<Vec<Grant>, &'static str> {
        let accounts = &customer.profile.accounts;
        let mut out = Vec::new();
        for a in accounts {
            let (listed, balances, transactions) = match &self.access {
                Access::Explicit {
                    accounts,
                    balances,
                    transactions,
                } => {
                    let b = balances.contains(&a.iban);
                    let t = transactions.contains(&a.iban);
                    (accounts.contains(&a.iban) || b || t, b, t)
                }
                Access::BankOffered {
                    balances,
                    transactions,
                } => (true, *balances, *transactions),
                Access::AllPsd2 => (true, true, true),
                Access::Available { with_balance } => (true, *with_balance, false),
            };
            if listed {
                out.push(Grant {
                    resource_id: a.resource_id.clone(),
                    iban: a.iban.clone(),
                    currency: a.currency.code().to_owned(),
                    name: a.name.clone(),
                    balances,
                    transactions,
                });
            }
        }
        if let Access::Explicit {
            accounts,
            balances,
            transactions,
        } = &self.access
        {
            let named = accounts.iter().chain(balances).chain(transactions);
            for iban in named {
                if !out.iter().any(|g| &g.iban == iban) {
                    return Err("not_yours");
                }
            }
        }
        if out.is_empty() {
            return Err("no_accounts");
        }
        Ok(out)
    }

    /// The `access` object as GET /v1/consents/{id} reports it: bank-offered consents show the
    /// accounts the PSU picked once authorised.
    pub fn access_json(&self) -> Value {
        let refs = |ibans: &[Iban]| -> Value {
            Value::Array(ibans.iter().map(|i| json!({"iban": i.expose()})).collect())
        };
        let granted = |pick: fn(&Grant) -> bool| -> Value {
            Value::Array(
                self.grants
                    .iter()
                    .filter(|g| pick(g))
                    .map(|g| json!({"iban": g.iban.expose(), "currency": g.currency}))
                    .collect(),
            )
        };
        match &self.access {
            Access::Explicit {
                accounts,
                balances,
                transactions,
            } => {
                let mut o = serde_json::Map::new();
                if !accounts.is_empty() {
                    o.insert("accounts".into(), refs(accounts));
                }
                if !balances.is_empty() {
                    o.insert("balances".into(), refs(balances));
                }
                if !transactions.is_empty() {
                    o.insert("transactions".into(), refs(transactions));
                }
                Value::Object(o)
            }
            Access::BankOffered {
                balances,
                transactions,
            } => {
                let mut o = serde_json::Map::new();
                o.insert("accounts".into(), granted(|_| true));
                if *balances {
                    o.insert("balances".into(), granted(|g| g.balances));
                }
                if *transactions {
                    o.insert("transactions".into(), granted(|g| g.transactions));
                }
                Value::Object(o)
            }
            Access::AllPsd2 => json!({"allPsd2": "allAccounts"}),
            Access::Available { with_balance: true } => {
                json!({"availableAccountsWithBalance": "allAccounts"})
            }
            Access::Available {
                with_balance: false,
            } => json!({"availableAccounts": "allAccounts"}),
        }
    }

    /// Does the consent cover balances / transactions at all (for the consent screens)?
    pub fn wants(&self) -> (bool, bool) {
        match &self.access {
            Access::Explicit {
                balances,
                transactions,
                ..
            } => (!balances.is_empty(), !transactions.is_empty()),
            Access::BankOffered {
                balances,
                transactions,
            } => (*balances, *transactions),
            Access::AllPsd2 => (true, true),
            Access::Available { with_balance } => (*with_balance, false),
        }
    }

    /// The IBANs the TPP named, if any (for the consent screens).
    pub fn named_ibans(&self) -> Vec<Iban> {
        match &self.access {
            Access::Explicit {
                accounts,
                balances,
                transactions,
            } => {
                let mut v: Vec<Iban> = Vec::new();
                for i in accounts.iter().chain(balances).chain(transactions) {
                    if !v.contains(i) {
                        v.push(i.clone());
                    }
                }
                v
            }
            _ => Vec::new(),
        }
    }
}

/// Parses the `consents` request body; every defect is a FORMAT_ERROR.
pub struct ConsentRequest {
    pub access: Access,
    pub recurring: bool,
    pub valid_until: NaiveDate,
    pub frequency: u32,
}

fn iban_list(v: Option<&Value>) -> Result<Option<Vec<Iban>>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let arr = v
        .as_array()
        .ok_or(ApiError::Format("access lists must be arrays"))?;
    let mut out = Vec::new();
    for item in arr {
        let obj = item
            .as_object()
            .ok_or(ApiError::Format("account references must be objects"))?;
        let iban = obj
            .get("iban")
            .and_then(Value::as_str)
            .ok_or(ApiError::Format("account references must carry an iban"))?;
        let iban: Iban = iban
            .parse()
            .map_err(|_| ApiError::Format("an account reference has an invalid iban"))?;
        if let Some(c) = obj.get("currency") {
            let ok = c
                .as_str()
                .is_some_and(|c| c.parse::<okienko_core::Currency>().is_ok());
            if !ok {
                return Err(ApiError::Format(
                    "an account reference has an invalid currency",
                ));
            }
        }
        out.push(iban);
    }
    Ok(Some(out))
}

fn all_accounts(v: Option<&Value>) -> Result<bool, ApiError> {
    match v {
        None => Ok(false),
        Some(Value::String(s)) if s == "allAccounts" || s == "allAccountsWithOwnerName" => Ok(true),
        Some(_) => Err(ApiError::Format(
            "availableAccounts/allPsd2 must be allAccounts",
        )),
    }
}

pub fn parse_request(body: &[u8]) -> Result<ConsentRequest, ApiError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::Format("body is not valid JSON"))?;
    let o = v
        .as_object()
        .ok_or(ApiError::Format("body must be a JSON object"))?;
    let access = o
        .get("access")
        .and_then(Value::as_object)
        .ok_or(ApiError::Format("access is required"))?;
    let recurring = o
        .get("recurringIndicator")
        .and_then(Value::as_bool)
        .ok_or(ApiError::Format("recurringIndicator must be a boolean"))?;
    let valid_until = o
        .get("validUntil")
        .and_then(Value::as_str)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .ok_or(ApiError::Format("validUntil must be a date (YYYY-MM-DD)"))?;
    let frequency = o
        .get("frequencyPerDay")
        .and_then(Value::as_i64)
        .filter(|f| *f >= 1)
        .ok_or(ApiError::Format("frequencyPerDay must be an integer >= 1"))?;
    // Required by the schema; this bank offers no combined AIS+PIS sessions, so it is not kept.
    let _combined = o
        .get("combinedServiceIndicator")
        .and_then(Value::as_bool)
        .ok_or(ApiError::Format(
            "combinedServiceIndicator must be a boolean",
        ))?;

    let accounts = iban_list(access.get("accounts"))?;
    let balances = iban_list(access.get("balances"))?;
    let transactions = iban_list(access.get("transactions"))?;
    let all_psd2 = all_accounts(access.get("allPsd2"))?;
    let available = all_accounts(access.get("availableAccounts"))?;
    let available_bal = all_accounts(access.get("availableAccountsWithBalance"))?;
    let lists_given = accounts.is_some() || balances.is_some() || transactions.is_some();
    let access = if all_psd2 {
        Access::AllPsd2
    } else if available || available_bal {
        Access::Available {
            with_balance: available_bal,
        }
    } else if lists_given {
        let (a, b, t) = (accounts.unwrap_or_default(), balances, transactions);
        let b_empty = b.as_ref().is_none_or(Vec::is_empty);
        let t_empty = t.as_ref().is_none_or(Vec::is_empty);
        if a.is_empty() && b_empty && t_empty {
            Access::BankOffered {
                balances: b.is_some(),
                transactions: t.is_some(),
            }
        } else {
            Access::Explicit {
                accounts: a,
                balances: b.unwrap_or_default(),
                transactions: t.unwrap_or_default(),
            }
        }
    } else {
        return Err(ApiError::Format(
            "access must name accounts, balances, transactions, availableAccounts or allPsd2",
        ));
    };
    Ok(ConsentRequest {
        access,
        recurring,
        valid_until,
        frequency: u32::try_from(frequency).unwrap_or(u32::MAX),
    })
}
