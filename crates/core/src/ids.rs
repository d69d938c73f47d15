//! Identifiers of the gateway's own records. Opaque, random (UUID v4), and never derived from
//! customer data, so an id in a log line reveals nothing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
            pub fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A customer of the gateway (one person, across channels).
    CustomerId
);
id_type!(
    /// A bank account as the gateway knows it (not the bank's `resourceId`).
    AccountId
);
id_type!(
    /// A consent record of the gateway (wrapping the bank's own `consentId`).
    ConsentId
);
id_type!(
    /// The gateway's transaction id: stable across pending → booked, unlike the bank's.
    TransactionId
);
