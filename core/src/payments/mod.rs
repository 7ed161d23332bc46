//! Buying credits: packages, orders, and what payment providers tell us about them.

mod checkout;
mod events;
mod manual;
mod money;
mod orders;
mod packages;
mod pricing;

pub use checkout::{CheckoutError, CheckoutFuture, CheckoutProvider, Checkouts, PaymentPage};
pub use events::{Part, PaymentEvent, Received};
pub use money::{exponent, format_money, parse_minor, to_decimal};
pub use orders::{Order, OrderStatus};
pub use packages::{NewPackage, Package};
pub use pricing::{PriceChange, PriceSource, PricedPackage, ResellerPricing};
